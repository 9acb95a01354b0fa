//! The network lab from tests: `tests/lab/lab`, brought up once per test binary, and a
//! privileged helper per test inside the laptop namespace. Lab tests need root (CI is root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use crate::bin;

static UP: Once = Once::new();
/// One lab, one VPN server: lab tests in a binary take turns.
static TURN: Mutex<()> = Mutex::new(());

pub const ELASTIC_IP: &str = "203.0.113.10";
/// The lab's AWS (the Identity Center emulator, with STS) in the "internet" namespace.
pub const AWS: &str = "http://192.0.2.90";
pub const ACCOUNT: &str = "111122223333";
pub const ROLE: &str = "Developer";
pub const LAPTOP_IP: &str = "198.51.100.10";
pub const ECHO_URL: &str = "http://192.0.2.80/";

/// The lab's systemd-resolved (unpacked by scripts/setup) and the private system bus it is on.
pub const RESOLVECTL: &str = "/var/cache/postern-lab/systemd-resolved/usr/bin/resolvectl";
pub const SYSTEM_BUS: &str = "unix:path=/run/postern-lab-bus/system_bus";

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lab/lab")
}

/// Runs `lab ARGS`, panicking with its output on failure.
pub fn lab(args: &[&str]) -> String {
    let out = Command::new(script())
        .args(args)
        .output()
        .expect("run the lab script");
    assert!(
        out.status.success(),
        "lab {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Brings the lab up (once) and waits for this test's turn. The guard restores the lab's
/// shared switches (server running, NAT on, nobody denied) when the test ends, pass or fail.
pub fn take_turn() -> LabTurn {
    require_root("the lab needs root (network namespaces)");
    UP.call_once(|| {
        lab(&["up"]);
    });
    let guard = TURN.lock().unwrap_or_else(|e| e.into_inner());
    LabTurn { _guard: guard }
}

/// Fails a test that needs root (other uids, namespaces) when it is not root.
pub fn require_root(why: &str) {
    assert_eq!(current_uid(), 0, "{why}; run the suite as root as CI does");
}

/// A command run as another user: `setpriv` with exactly this uid and gid, no other groups.
pub fn as_user(uid: u32, gid: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(program);
    c
}

/// A process's resident memory in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for pid {pid}"))
}

fn current_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

pub struct LabTurn {
    _guard: MutexGuard<'static, ()>,
}

impl Drop for LabTurn {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["server", "start"]).output();
        let _ = Command::new(script()).args(["nat", "on"]).output();
        for cn in ["alice.lab.test", "bob.lab.test", "mallory.lab.test"] {
            let _ = Command::new(script()).args(["deny", cn, ""]).output();
        }
    }
}

/// Approves a device code at the lab's Identity Center from the laptop, as the verification
/// page's form does.
pub fn approve_device_code(code: &str) {
    let approved = Command::new("ip")
        .args([
            "netns",
            "exec",
            "pl-laptop",
            "curl",
            "-sS",
            "-m",
            "10",
            "-d",
        ])
        .arg(format!("user_code={code}&decision=approve"))
        .arg(format!("{AWS}/device"))
        .output()
        .expect("run curl in the laptop namespace");
    assert!(
        String::from_utf8_lossy(&approved.stdout).contains("approved"),
        "the code {code} was not approved: {}",
        String::from_utf8_lossy(&approved.stdout)
    );
}

/// `curl -sS ARGS` from the laptop namespace.
fn curl_from_laptop(args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", "pl-laptop", "curl", "-sS"])
        .args(args)
        .output()
        .expect("run curl in the laptop namespace")
}

/// What the lab's checkip says, asked from the laptop.
pub fn egress_address() -> String {
    let out = curl_from_laptop(&["-m", "5", ECHO_URL]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The text of a lab VPN profile for this certificate name, as the lab exports it.
pub fn profile_text(cn: &str) -> String {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    lab(&["profile", cn, file.path().to_str().expect("utf-8 path")]);
    std::fs::read_to_string(file.path()).expect("the exported profile")
}

/// tun devices in the laptop namespace.
pub fn tun_devices() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-n", "pl-laptop", "-o", "link", "show", "type", "tun"])
        .output()
        .expect("ip link");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
        .collect()
}

/// Processes in the laptop namespace other than `except` and the laptop's own resolver.
pub fn laptop_processes(except: u32) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "pids", "pl-laptop"])
        .output()
        .expect("ip netns pids");
    let resolver = std::fs::read_to_string("/run/postern-lab/resolved.pid").unwrap_or_default();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|p| *p != except.to_string() && *p != resolver.trim())
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

/// A helper running in the laptop namespace, ended (by PID) when dropped.
pub struct Helper {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Helper {
    pub fn start(extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().expect("helper dir"), extra)
    }

    /// Starts a helper whose socket and state directory live in `dir`.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Self {
        let socket = dir.path().join("helper.sock");
        let child = Command::new("ip")
            .args(["netns", "exec", "pl-laptop"])
            .arg(bin("postern-helper"))
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["--reconnect-timeout", "10", "--connect-timeout", "20"])
            // The laptop's systemd-resolved, on the lab's system bus.
            .arg("--resolver-tool")
            .arg(RESOLVECTL)
            .arg("--log-file")
            .arg(dir.path().join("helper.log"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", SYSTEM_BUS)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start helper");
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(socket.exists(), "the helper did not create its socket");
        Self { child, dir }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("helper.sock")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets other users reach the socket: its directory becomes 0755 (still root's and
    /// writable by root alone, as clients require), the socket `mode`.
    pub fn open_to_others(&self, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the helper's directory");
        std::fs::set_permissions(self.socket(), std::fs::Permissions::from_mode(mode))
            .expect("chmod the helper's socket");
    }

    /// Kills the helper with SIGKILL (no chance to clean up, as in a crash) and hands back its
    /// directory, so a new helper can start where it left off.
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("placeholder dir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // SIGTERM lets the helper take its tunnel down first.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks the helper to connect with this profile and waits (bounded) until the tunnel is up or
/// has failed; returns the state it ended in.
pub async fn connect_tunnel(
    socket: &Path,
    profile: &str,
) -> postern_core::vpn::tunnel::TunnelState {
    use postern_ipc::client::HelperClient;
    let mut control = HelperClient::connect(socket, "test").await.expect("helper");
    control
        .connect_tunnel("corp", profile)
        .await
        .expect("connect request");
    let mut states = HelperClient::connect(socket, "test")
        .await
        .expect("helper")
        .watch()
        .await
        .expect("watch");
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match states.next().await {
                Some(s) if s.is_connected() || s.is_final() => return s,
                Some(_) => {}
                None => return postern_core::vpn::tunnel::TunnelState::Disconnected,
            }
        }
    })
    .await
    .expect("no CONNECTED within 20 s")
}

/// A process a test started, ended by PID (SIGTERM, then SIGKILL) when dropped.
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        crate::end_by_pid(&mut self.0);
    }
}

/// The emulator as the lab's AWS (Identity Center + STS) at 192.0.2.90, enforcing the
/// deny-unless-NAT rule on the source address.
pub fn aws() -> Spawned {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("ip")
        .args(["netns", "exec", "pl-inet"])
        .arg(bin("postern-idc-emulator"))
        .args([
            "--listen",
            "192.0.2.90:80",
            "--public-url",
            AWS,
            "--nat-address",
            "203.0.113.10/32",
            "--lifetime",
            "300",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the lab's AWS");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    assert!(banner.starts_with("listening"), "{banner}");
    Spawned(child)
}

/// A user whose policy requires every gate (posture, VPN, egress) for the lab's account and
/// role, with the lab's VPN profile (certificate alice.lab.test) imported as `corp`.
/// The lab's stand-in browser for the VPN's SAML sign-in (used as `$BROWSER`).
pub fn browser() -> std::path::PathBuf {
    script().with_file_name("lab-browser")
}

/// Opens a sign-in page as a person at the laptop would: the lab's browser, in its namespace,
/// posting the IdP's answer to the laptop's 127.0.0.1:35001.
pub fn open_in_laptop_browser(url: &str) {
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", "pl-laptop"])
        .arg(browser())
        .arg(url)
        .status()
        .expect("ip netns exec");
    assert!(status.success(), "the lab browser did not start");
}

/// The lab's SAML profile (`auth-federate`), imported as `name`.
pub fn import_saml_profile(user: &crate::User, name: &str) {
    let file = user.home.path().join(format!("{name}.ovpn"));
    lab(&[
        "saml-profile",
        "alice.lab.test",
        file.to_str().expect("utf-8 path"),
    ]);
    crate::Run::from(user.postern().arg("vpn").arg("import").arg(&file)).assert_ok();
}

pub fn connect_user() -> crate::User {
    let user = crate::User::with_policy(&format!(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n\
         [egress]\necho_urls = [\"{ECHO_URL}\"]\nallow_plain_http = true\nnat_addresses = [\"{ELASTIC_IP}/32\"]\n\n\
         [posture]\n[posture.linux]\nmin_kernel = \"3.0\"\n\n\
         [[access]]\naccount = \"{ACCOUNT}\"\nrole = \"{ROLE}\"\nmax_duration = \"30m\"\n"
    ));
    let profile = user.home.path().join("corp.ovpn");
    lab(&[
        "profile",
        "alice.lab.test",
        profile.to_str().expect("utf-8 path"),
    ]);
    crate::Run::from(user.postern().arg("vpn").arg("import").arg(&profile)).assert_ok();
    user
}
