//! The harness shared by the end-to-end tests: the real `postern` binary in an isolated home,
//! the Identity Center emulator as a child process, and a real headless Chromium.
//!
//! Run under `scripts/with-desktop-session` (a private D-Bus session with an unlocked
//! gnome-keyring), after `cargo build --workspace --bins`; `scripts/test` does both.

pub mod browser;
pub mod lab;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// `target/debug`, found from the running test binary (`target/debug/deps/…`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// A running emulator, ended (by PID) when dropped.
pub struct Emulator {
    child: Child,
    pub url: String,
    pub start_url: String,
    http: reqwest::blocking::Client,
}

impl Emulator {
    /// Starts an emulator answering for a start URL unique to `name`, so tests sharing one
    /// keychain never see each other's items.
    pub fn start(name: &str) -> Self {
        let start_url = format!("https://{name}.awsapps.com/start");
        let mut child = Command::new(bin("postern-idc-emulator"))
            .args(["--start-url", &start_url, "--lifetime", "600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("emulator banner");
        let url = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected emulator banner {line:?}"))
            .to_string();
        Self {
            child,
            url,
            start_url,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        }
    }

    pub fn knobs(&self, patch: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/knobs", self.url))
            .json(&patch)
            .send()
            .expect("set knobs");
        assert!(
            r.status().is_success(),
            "knobs {patch}: {}",
            r.text().unwrap_or_default()
        );
    }

    pub fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/stats", self.url))
            .send()
            .and_then(|r| r.json())
            .expect("stats")
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.stats()[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no stat {name}"))
    }

    pub fn expire_tokens(&self) {
        self.http
            .post(format!("{}/_emulator/expire-tokens", self.url))
            .send()
            .expect("expire tokens");
    }

    pub fn forget_clients(&self) {
        self.http
            .post(format!("{}/_emulator/forget-clients", self.url))
            .send()
            .expect("forget clients");
    }

    /// Approves a device code by posting the verification form, as a browser would.
    pub fn approve_device_code(&self, user_code: &str, approve: bool) {
        let decision = if approve { "approve" } else { "deny" };
        let r = self
            .http
            .post(format!("{}/device", self.url))
            .form(&[("user_code", user_code), ("decision", decision)])
            .send()
            .expect("post decision");
        assert!(r.status().is_success(), "device decision: {}", r.status());
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An isolated user: its own HOME (so ~/.aws and state files are private to the test) and a
/// policy pointing at the emulator. The keychain is the session's real Secret Service.
pub struct User {
    pub home: tempfile::TempDir,
    pub policy: PathBuf,
}

impl User {
    pub fn new(emulator: &Emulator) -> Self {
        Self::with_policy(&format!(
            "[identity_center]\nstart_url = \"{}\"\nregion = \"eu-west-1\"\noidc_endpoint = \"{}\"\nportal_endpoint = \"{}\"\n",
            emulator.start_url, emulator.url, emulator.url
        ))
    }

    pub fn with_policy(text: &str) -> Self {
        let home = tempfile::tempdir().expect("home");
        let policy = home.path().join("policy.toml");
        std::fs::write(&policy, text).expect("write policy");
        Self { home, policy }
    }

    pub fn postern(&self) -> Command {
        let mut c = Command::new(bin("postern"));
        c.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("XDG_STATE_HOME", self.home.path().join(".local/state"))
            .env("XDG_CACHE_HOME", self.home.path().join(".cache"))
            .env("XDG_DATA_HOME", self.home.path().join(".local/share"))
            .env("POSTERN_POLICY", &self.policy)
            .env_remove("AWS_ENDPOINT_URL_SSO_OIDC")
            .env_remove("AWS_ENDPOINT_URL_SSO")
            // A test never opens the desktop's browser by accident.
            .env("BROWSER", "/bin/false");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.postern().args(args).output().expect("run postern"))
    }

    /// Starts `postern login ARGS` and returns once it printed the address to open.
    pub fn start_login(&self, args: &[&str]) -> Login {
        let mut child = self
            .postern()
            .arg("login")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start login");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let mut url = None;
        let mut code = None;
        while url.is_none() || (args.contains(&"--device-code") && code.is_none()) {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("login printed no address; stderr so far: {seen:?}"));
            if let Some(u) = line.strip_prefix("Open: ") {
                url = Some(u.to_string());
            }
            if let Some(c) = line.strip_prefix("Code: ") {
                code = c.split_whitespace().next().map(str::to_string);
            }
            seen.push(line);
        }
        Login {
            child,
            lines: rx,
            seen,
            url: url.unwrap_or_default(),
            user_code: code,
        }
    }

    /// Every file under HOME, for "nothing secret on disk" checks.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.home.path(), &mut out);
        out
    }
}

/// A finished `postern` run.
pub struct Run(pub Output);

impl From<&mut Command> for Run {
    fn from(c: &mut Command) -> Self {
        Run(c.output().expect("run postern"))
    }
}

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code(),
            0,
            "stdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub fn assert_fails(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "stdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}: {}",
            self.stderr()
        );
        // One sentence of what happened, then one of what to do: never a panic or a backtrace.
        assert!(!self.stderr().contains("panicked"), "{}", self.stderr());
        self
    }
}

/// A login in progress.
pub struct Login {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    pub url: String,
    pub user_code: Option<String>,
}

impl Login {
    /// Sends `signal` (a name `kill` knows, such as INT) to the login, by its PID.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits (bounded) for the login to end; returns its exit code and all of stderr.
    pub fn finish(mut self, within: Duration) -> (i32, String) {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait login") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return (status.code().unwrap_or(-1), self.seen.join("\n"));
            }
            if std::time::Instant::now() > deadline {
                end_by_pid(&mut self.child);
                panic!("login did not finish in {within:?}: {:?}", self.seen);
            }
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        end_by_pid(&mut self.child);
    }
}

/// Ends a process a test started, by its PID: SIGTERM first, so a Postern process finishes its
/// keychain call (one that vanishes mid-call can crash gnome-keyring), SIGKILL after 10 s.
pub fn end_by_pid(child: &mut Child) {
    // Already ended (and reaped): its PID may belong to someone else now.
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Gives `to` the environment `from` was set up with (its changes to the inherited one), for
/// commands that wrap `postern`, such as `ip netns exec … postern`.
pub fn copy_env(from: &Command, to: &mut Command) {
    for (k, v) in from.get_envs() {
        match v {
            Some(v) => to.env(k, v),
            None => to.env_remove(k),
        };
    }
}

/// Runs `secret-tool` against the session's Secret Service.
pub fn secret_tool(args: &[&str]) -> Output {
    Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool")
}
