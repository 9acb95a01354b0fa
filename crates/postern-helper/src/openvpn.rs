//! Running OpenVPN: its binary, the fixed argument list, its version check, and its management
//! interface, which differs per OS behind one type:
//! - Unix: a socket in the helper's root-only state directory; OpenVPN listens, the helper
//!   connects.
//! - Windows: loopback TCP, the other way round (`--management-client`): the helper listens on
//!   127.0.0.1 and OpenVPN dials in, so no port is ever open to other local users, and OpenVPN
//!   ends itself when the helper's connection goes (a helper that crashed leaves no tunnel).
//!   A connection is accepted only from the OpenVPN the helper started: it must echo back a
//!   random proof that only its configuration file (in the helper's private directory) holds
//!   (OpenVPN keeps a config's `echo` lines for `echo all`, and never logs them), and where
//!   the system's TCP table names the connection's process ([`crate::loopback`]), that must be
//!   OpenVPN's. A process that dials in first is turned away.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use postern_ovpn::management::parse_openvpn_version;
use postern_types::tunnel::TunnelFailure;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::process::{Child, Command};

/// How long OpenVPN has to open its management interface after it starts.
const ATTACH_WITHIN: Duration = Duration::from_secs(10);

/// The stock OpenVPN, where this OS's packages and installers put it, in the order tried.
#[cfg(windows)]
pub const STOCK_OPENVPN: &[&str] = &[r"C:\Program Files\OpenVPN\bin\openvpn.exe"];
/// Homebrew on Apple silicon, then on Intel, then MacPorts.
#[cfg(target_os = "macos")]
pub const STOCK_OPENVPN: &[&str] = &[
    "/opt/homebrew/sbin/openvpn",
    "/usr/local/sbin/openvpn",
    "/opt/local/sbin/openvpn",
];
#[cfg(all(unix, not(target_os = "macos")))]
pub const STOCK_OPENVPN: &[&str] = &["/usr/sbin/openvpn"];

/// The OpenVPN to run: the one named, else the first of `candidates` that exists, else the
/// first candidate (so that the error names where OpenVPN was expected).
pub fn stock_binary(
    named: Option<&Path>,
    candidates: &[&str],
    exists: impl Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(path) = named {
        return path.to_path_buf();
    }
    candidates
        .iter()
        .map(Path::new)
        .find(|p| exists(p))
        .or_else(|| candidates.first().map(Path::new))
        .unwrap_or(Path::new("openvpn"))
        .to_path_buf()
}

/// Where the AWS VPN Client installs its OpenVPN build, which carries real-sized assertions.
pub const AWS_CLIENT_OPENVPN: &[&str] = &[
    "/opt/awsvpnclient/Service/Resources/openvpn/acvc-openvpn",
    "/Applications/AWS VPN Client/AWS VPN Client.app/Contents/Resources/openvpn/acvc-openvpn",
    r"C:\Program Files\Amazon\AWS VPN Client\Resources\openvpn\acvc-openvpn.exe",
];

pub type ManagementReader = BufReader<Box<dyn AsyncRead + Unpin + Send>>;
pub type ManagementWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// One tunnel's management interface, made before OpenVPN starts.
pub struct Management {
    #[cfg(unix)]
    socket: PathBuf,
    #[cfg(windows)]
    listener: tokio::net::TcpListener,
    /// What OpenVPN must echo back: in its configuration only.
    #[cfg(windows)]
    proof: String,
}

impl Management {
    pub async fn prepare(state_dir: &Path) -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            let socket = state_dir.join("management.sock");
            let _ = std::fs::remove_file(&socket);
            Ok(Self { socket })
        }
        #[cfg(windows)]
        {
            let _ = state_dir;
            let proof = random_hex()
                .ok_or_else(|| std::io::Error::other("the system's random generator failed"))?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            Ok(Self {
                listener,
                proof: format!("postern-proof-{proof}"),
            })
        }
    }

    /// The configuration OpenVPN runs: the validated profile, and on Windows the proof.
    pub fn configuration(&self, profile: &str) -> String {
        #[cfg(windows)]
        return format!("{profile}\necho {}\n", self.proof);
        #[cfg(not(windows))]
        profile.to_string()
    }

    /// The arguments that point OpenVPN at it.
    pub fn args(&self) -> std::io::Result<Vec<OsString>> {
        #[cfg(unix)]
        {
            Ok(vec![
                "--management".into(),
                self.socket.clone().into(),
                "unix".into(),
            ])
        }
        #[cfg(windows)]
        {
            let port = self.listener.local_addr()?.port();
            Ok(vec![
                "--management".into(),
                "127.0.0.1".into(),
                port.to_string().into(),
                "--management-client".into(),
            ])
        }
    }

    /// The connection to `child`'s management interface, once it is open (bounded); `None`
    /// when OpenVPN ended first or never opened it (then it is killed).
    pub async fn attach(&self, child: &mut Child) -> Option<(ManagementReader, ManagementWriter)> {
        let deadline = tokio::time::Instant::now() + ATTACH_WITHIN;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            #[cfg(unix)]
            if let Ok(s) = tokio::net::UnixStream::connect(&self.socket).await {
                let (reader, writer) = s.into_split();
                return Some((BufReader::new(Box::new(reader)), Box::new(writer)));
            }
            #[cfg(windows)]
            if let Ok(Ok((s, peer))) =
                tokio::time::timeout(Duration::from_millis(50), self.listener.accept()).await
            {
                if !self.held_by(child, peer) {
                    continue;
                }
                let (reader, writer) = s.into_split();
                let (mut reader, mut writer): (ManagementReader, ManagementWriter) =
                    (BufReader::new(Box::new(reader)), Box::new(writer));
                match proved(&mut reader, &mut writer, &self.proof).await {
                    Some(said) => {
                        // What OpenVPN said before the proof goes to the machine first.
                        let replay = std::io::Cursor::new(said.into_bytes());
                        let reader: Box<dyn AsyncRead + Unpin + Send> =
                            Box::new(tokio::io::AsyncReadExt::chain(replay, reader));
                        return Some((BufReader::new(reader), writer));
                    }
                    None => {
                        tracing::warn!(from = %peer, "a connection to OpenVPN's management port did not prove it is the helper's OpenVPN: refused");
                        continue;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = child.kill().await;
        None
    }

    /// Whether the connection from `peer` may be `child`'s: refused when the system's TCP
    /// table cannot be read, does not list the connection, or names another process. (Wine
    /// names none, pid 0: there the proof decides alone.)
    #[cfg(windows)]
    fn held_by(&self, child: &Child, peer: std::net::SocketAddr) -> bool {
        use std::net::SocketAddr;
        let (Ok(SocketAddr::V4(ours)), SocketAddr::V4(peer)) = (self.listener.local_addr(), peer)
        else {
            return false;
        };
        let holder = crate::loopback::tcp_connections()
            .ok()
            .and_then(|rows| crate::loopback::peer_process(&rows, peer, ours));
        match holder {
            Some(0) => true,
            Some(pid) if Some(pid) == child.id() => true,
            other => {
                tracing::warn!(from = %peer, pid = ?other, "a connection to OpenVPN's management port not held by the helper's OpenVPN: refused");
                false
            }
        }
    }

    /// Removes what it left on disk.
    pub fn remove(&self) {
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Asks the other end for the config's `echo` lines (`echo all`) and checks the proof is among
/// them, within [`PROOF_WITHIN`]. Returns what it said besides (its banner, its hold), to be
/// read as if just received; `None` when it cannot prove it. (Used on Windows; tested on Linux
/// against a real OpenVPN.)
#[cfg_attr(not(windows), allow(dead_code))]
async fn proved(
    reader: &mut ManagementReader,
    writer: &mut ManagementWriter,
    proof: &str,
) -> Option<String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    writer.write_all(b"echo all\n").await.ok()?;
    let reading = async {
        let (mut said, mut seen, mut line) = (String::new(), false, String::new());
        // Bounded: OpenVPN's answer is a few short lines; a stranger's stream is cut off.
        for _ in 0..64 {
            line.clear();
            if (&mut *reader)
                .take(MAX_LINE)
                .read_line(&mut line)
                .await
                .ok()?
                == 0
            {
                return None;
            }
            match echo_answer(line.trim_end()) {
                EchoLine::End => return seen.then_some(said),
                EchoLine::Echo(text) => seen |= text == proof,
                EchoLine::Other => said.push_str(&line),
            }
        }
        None
    };
    tokio::time::timeout(PROOF_WITHIN, reading).await.ok()?
}

/// How long the other end has to echo the proof: OpenVPN answers at once, and a silent
/// stranger must not eat the time OpenVPN has to dial in.
#[cfg_attr(not(windows), allow(dead_code))]
const PROOF_WITHIN: Duration = Duration::from_secs(1);
/// The longest line read before the proof.
#[cfg_attr(not(windows), allow(dead_code))]
const MAX_LINE: u64 = 4096;

/// One line of the answer to `echo all`: `TIME,TEXT` lines, then `END`; real-time
/// notifications (`>…`) may come in between.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(windows), allow(dead_code))]
enum EchoLine<'a> {
    Echo(&'a str),
    End,
    Other,
}

#[cfg_attr(not(windows), allow(dead_code))]
fn echo_answer(line: &str) -> EchoLine<'_> {
    if line == "END" {
        return EchoLine::End;
    }
    match line.split_once(',') {
        Some((time, text))
            if !line.starts_with('>') && time.bytes().all(|b| b.is_ascii_digit()) =>
        {
            EchoLine::Echo(text)
        }
        _ => EchoLine::Other,
    }
}

/// 128 random bits as hex, from the system's generator. `None` if it fails (it does not, on
/// any supported Windows): then no proof can be made and the tunnel is not started.
#[cfg(windows)]
#[allow(unsafe_code, reason = "one call to the system's random generator")]
fn random_hex() -> Option<String> {
    use windows_sys::Win32::Security::Cryptography::{
        BCRYPT_USE_SYSTEM_PREFERRED_RNG, BCryptGenRandom,
    };
    let mut bytes = [0u8; 16];
    // SAFETY: the buffer is 16 writable bytes and its length is passed with it.
    let status = unsafe {
        BCryptGenRandom(
            std::ptr::null_mut(),
            bytes.as_mut_ptr(),
            bytes.len() as u32,
            BCRYPT_USE_SYSTEM_PREFERRED_RNG,
        )
    };
    (status == 0).then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts OpenVPN with the fixed argument list. Everything after `--config` overrides the
/// profile.
pub fn spawn(
    openvpn: &Path,
    config: &Path,
    management: &Management,
    federated: bool,
    windows_driver: Option<&str>,
) -> std::io::Result<Child> {
    let mut command = Command::new(openvpn);
    command
        .arg("--config")
        .arg(config)
        .args(["--script-security", "1"])
        .args(management.args()?)
        .args(["--management-hold", "--management-query-passwords"])
        .args([
            "--setenv",
            "IV_GUI_VER",
            &format!("Postern_{}", env!("CARGO_PKG_VERSION")),
        ])
        .args([
            "--push-peer-info",
            "--verb",
            "3",
            "--connect-retry",
            "1",
            "5",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(driver) = windows_driver {
        command.args(["--windows-driver", driver]);
    }
    if federated {
        // After the CRV1 challenge OpenVPN must restart and ask again, not exit.
        command.args(["--auth-retry", "interact"]);
    }
    #[cfg(windows)]
    {
        // A service has no console to show; OpenVPN must not open one.
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        command.creation_flags(CREATE_NO_WINDOW);
    }
    command.spawn()
}

/// Whether `binary` is an OpenVPN this helper can drive (2.5 or later).
pub async fn check_version(binary: &Path) -> Result<(), TunnelFailure> {
    let missing = || TunnelFailure::OpenVpnMissing {
        path: binary.display().to_string(),
    };
    let mut command = Command::new(binary);
    command
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(10), command.output())
        .await
        .map_err(|_| missing())?
        .map_err(|_| missing())?;
    let banner = String::from_utf8_lossy(&out.stdout);
    match parse_openvpn_version(&banner) {
        Some((major, minor, _)) if (major, minor) >= (2, 5) => Ok(()),
        Some((_, _, found)) => Err(TunnelFailure::OpenVpnTooOld { found }),
        None => Err(missing()),
    }
}

/// Writes a file only the helper's account can read: mode 0600 on Unix; on Windows the state
/// directory's protected DACL (SYSTEM and Administrators), which the file inherits. A file of
/// that name is removed first and the new one created, never reused: one left or planted there
/// keeps its own permissions.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)
}

/// Creates the state directory so that only the helper's account (and, on Windows, the
/// machine's administrators) can enter it. On Windows a folder that is a link (a junction a
/// user put there) is refused, and an existing folder is taken over: owner Administrators,
/// the private DACL, whatever its maker had granted.
pub fn make_private_dir(dir: &Path) -> Result<(), String> {
    #[cfg(windows)]
    for level in dir.ancestors().take(3) {
        if std::fs::symlink_metadata(level).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{} is a link, not a folder: refusing to keep private files through it",
                level.display()
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    }
    #[cfg(windows)]
    postern_ipc::pipe::protect_directory(dir, PRIVATE_DIR_SDDL)
        .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    Ok(())
}

/// Owned by Administrators; SYSTEM and Administrators, full control, inherited by what is made
/// inside; nothing inherited from above (`%ProgramData%` lets every user read and create).
#[cfg(windows)]
pub const PRIVATE_DIR_SDDL: &str = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

/// The running profile (with its key) while OpenVPN reads it.
pub fn profile_file(state_dir: &Path) -> PathBuf {
    state_dir.join("profile.ovpn")
}

/// Removes what a tunnel may have left in the state directory: its profile above all.
pub fn remove_leftovers(state_dir: &Path) {
    let _ = std::fs::remove_file(profile_file(state_dir));
    let _ = std::fs::remove_file(pid_file(state_dir));
}

/// The pid file of the running OpenVPN.
pub fn pid_file(state_dir: &Path) -> PathBuf {
    state_dir.join("openvpn.pid")
}

/// A tunnel left by a previous helper (crash, kill -9) is ended at start, but only an OpenVPN
/// that this helper started: its command line names our state directory. (On Windows OpenVPN
/// ends itself when the helper's management connection goes.)
pub async fn end_stale_tunnel(state_dir: &Path) {
    #[cfg(unix)]
    {
        use rustix::process::Signal;
        let Some(pid) = std::fs::read_to_string(pid_file(state_dir))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            return;
        };
        let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(&*state_dir.to_string_lossy()))
            .unwrap_or(false);
        if ours {
            tracing::warn!(pid, "ending the tunnel a previous run left behind");
            signal(pid, Signal::TERM);
            for _ in 0..50 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, Signal::KILL);
            }
        }
    }
    // A helper that crashed (or whose stop ran out of time) may have left the profile.
    remove_leftovers(state_dir);
}

/// Signals a process through the kernel, not a `kill` found on PATH (this runs as root).
#[cfg(unix)]
fn signal(pid: i32, signal: rustix::process::Signal) {
    use rustix::process::{Pid, kill_process};
    if let Some(pid) = Pid::from_raw(pid)
        && let Err(e) = kill_process(pid, signal)
    {
        tracing::warn!(pid = pid.as_raw_nonzero(), "cannot signal: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_openvpn_wins_else_the_first_that_is_installed_else_the_first_place() {
        let places = ["/opt/homebrew/sbin/openvpn", "/usr/local/sbin/openvpn"];
        let named = Path::new("/custom/openvpn");
        assert_eq!(stock_binary(Some(named), &places, |_| false), named);
        let intel = |p: &Path| p == Path::new("/usr/local/sbin/openvpn");
        assert_eq!(
            stock_binary(None, &places, intel),
            Path::new("/usr/local/sbin/openvpn")
        );
        assert_eq!(
            stock_binary(None, &places, |_| false),
            Path::new("/opt/homebrew/sbin/openvpn")
        );
    }

    /// The Windows transport against the real consumer: OpenVPN 2.6 (Debian's, here) with
    /// `--management-client` dials a loopback listener, answers `echo all` with its config's
    /// `echo` line, and ends itself when the connection goes.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_real_openvpn_dials_in_proves_itself_and_ends_when_the_helper_goes() {
        let openvpn = Path::new(STOCK_OPENVPN[0]);
        assert!(
            openvpn.is_file(),
            "OpenVPN is not installed at {}",
            openvpn.display()
        );
        let dir = tempfile::tempdir().unwrap();
        // Only present for OpenVPN's option checks: nothing is read before the hold is released.
        for name in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(name), "unused before the hold release\n").unwrap();
        }
        let start = |proof: &str| {
            let config = dir.path().join("profile.ovpn");
            std::fs::write(
                &config,
                format!(
                    "client\ndev null\nremote 192.0.2.1 1194\nca ca.pem\ncert cert.pem\nkey key.pem\necho {proof}\n"
                ),
            )
            .unwrap();
            config
        };
        for (written, expected, proves) in [
            ("postern-proof-0123", "postern-proof-0123", true),
            ("postern-proof-0123", "postern-proof-4567", false),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port().to_string();
            let mut child = Command::new(openvpn)
                .arg("--config")
                .arg(start(written))
                .args(["--management", "127.0.0.1", &port, "--management-client"])
                .args(["--management-hold", "--verb", "3"])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
                .await
                .expect("OpenVPN dials the management port")
                .unwrap();
            let (reader, writer) = stream.into_split();
            let (mut reader, mut writer): (ManagementReader, ManagementWriter) =
                (BufReader::new(Box::new(reader)), Box::new(writer));
            let said = proved(&mut reader, &mut writer, expected).await;
            assert_eq!(said.is_some(), proves, "{said:?}");
            if let Some(said) = said {
                assert!(said.contains(">HOLD:Waiting for hold release"), "{said:?}");
                assert!(
                    !said.contains(written),
                    "the proof is not passed on: {said:?}"
                );
            }
            drop((reader, writer));
            let ended = tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .expect("OpenVPN ends once the helper's connection goes");
            assert!(ended.is_ok());
        }
    }

    #[test]
    fn the_answer_to_echo_all_is_read_as_openvpn_writes_it() {
        // Recorded from OpenVPN 2.6.14 for a config with `echo postern-proof-abc123`.
        assert_eq!(
            echo_answer("1796304594,postern-proof-abc123"),
            EchoLine::Echo("postern-proof-abc123")
        );
        assert_eq!(echo_answer("END"), EchoLine::End);
        assert_eq!(
            echo_answer(">HOLD:Waiting for hold release:0"),
            EchoLine::Other
        );
        assert_eq!(
            echo_answer(
                ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info"
            ),
            EchoLine::Other
        );
        // A notification's own commas do not make it an echo.
        assert_eq!(
            echo_answer(">STATE:1,CONNECTED,SUCCESS,10.0.0.2"),
            EchoLine::Other
        );
        assert_eq!(
            echo_answer("SUCCESS: hold release succeeded"),
            EchoLine::Other
        );
    }
}
