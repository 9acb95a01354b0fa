//! The profile parser against its real consumer: for every profile Postern accepts, OpenVPN 2.6
//! itself reads what the helper would write and must see exactly the options Postern says it
//! accepted (the same settings as when those options are handed to it one by one on the
//! command line, where no config syntax is involved), and none of the forbidden ones. The
//! original file must read the same too, so the parser and OpenVPN agree on the syntax itself.
//!
//! Profiles come from a fixed corpus and from a generator biased towards what broke the parser
//! before: tags, quotes, backslashes, long lines, CR, tabs, NULs and directives that run code.
//! `POSTERN_PROFILE_CASES` sets how many (CI runs a bounded number, `scripts/fuzz-profile` more).
//! OpenVPN runs as `nobody` with a management hold, so it parses, prints its settings and waits:
//! it never connects, and a parser bug cannot run anything as root here.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use postern_core::vpn::Profile;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const NOBODY: u32 = 65534;
const STOCK_PLUGIN: &str = "/usr/lib/x86_64-linux-gnu/openvpn/plugins/openvpn-plugin-down-root.so";

/// Settings that a profile must never set: each runs, loads or writes something.
const FORBIDDEN: &[&str] = &[
    "ipchange",
    "chroot_dir",
    "cd_dir",
    "writepid",
    "up_script",
    "down_script",
    "route_script",
    "route_predown_script",
    "daemon",
    "log",
    "status_file",
    "tls_verify",
    "crl_file",
    "extra_certs_file",
    "dh_file",
    "key_pass_file",
    "engine",
    "tls_crypt_v2_file",
    "client_connect_script",
    "client_disconnect_script",
    "client_crresponse_script",
    "learn_address_script",
    "auth_user_pass_verify_script",
    "management_client_user",
    "management_client_group",
];

/// A real certificate authority, client certificate and key, and a static key, made once.
struct Material {
    cert: String,
    key: String,
    static_key: String,
}

fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, cert, ta) = (
            dir.path().join("k.pem"),
            dir.path().join("c.pem"),
            dir.path().join("ta.key"),
        );
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=differential"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(made.success(), "openssl could not make a test certificate");
        let made = Command::new("openvpn")
            .args(["--genkey", "secret"])
            .arg(&ta)
            .stdout(Stdio::null())
            .status()
            .expect("run openvpn --genkey");
        assert!(made.success(), "openvpn could not make a static key");
        let read = |p: &Path| std::fs::read_to_string(p).expect("read test material");
        Material {
            cert: read(&cert),
            key: read(&key),
            static_key: read(&ta),
        }
    })
}

/// An AWS Client VPN export, as the console writes it, with `extra` lines at the end.
fn export(extra: &str) -> String {
    let m = material();
    format!(
        "client\ndev tun\nproto udp\nremote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1.amazonaws.com 443\nremote-random-hostname\nresolv-retry infinite\nnobind\nremote-cert-tls server\ncipher AES-256-GCM\nverb 3\n<ca>\n{c}</ca>\n<cert>\n{c}</cert>\n<key>\n{k}</key>\nreneg-sec 0\n{extra}",
        c = m.cert,
        k = m.key
    )
}

/// What OpenVPN read: its settings dump, or the lines it stopped on.
#[derive(Debug, PartialEq)]
enum Reading {
    Settings(Vec<String>),
    Refused(Vec<String>),
}

/// A private directory `nobody` can read, for one OpenVPN run at a time.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
        Scratch { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).expect("chown");
        path
    }

    /// Runs OpenVPN as the helper does, but as `nobody` and held before it connects.
    fn openvpn(&self, options: &[OsString]) -> Reading {
        let socket = self.dir.path().join("m.sock");
        let _ = std::fs::remove_file(&socket);
        let mut child = Command::new("setpriv")
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "--",
                "openvpn",
            ])
            .args(options)
            .args(["--script-security", "1", "--management"])
            .arg(&socket)
            .args(["unix", "--management-hold", "--verb", "4"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openvpn");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut lines = Vec::new();
        let held = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let text = strip_timestamp(&line).to_string();
                    let held = text.starts_with("Need hold release");
                    lines.push(text);
                    if held {
                        break true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break false,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("OpenVPN neither held nor exited within 15 s: {lines:?}");
                }
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        let dir = self.dir.path().to_string_lossy().into_owned();
        let start = lines
            .iter()
            .position(|l| l == "Current Parameter Settings:");
        let end = lines.iter().position(|l| l.starts_with("OpenVPN 2."));
        match (held, start, end) {
            (true, Some(s), Some(e)) if s < e => Reading::Settings(
                lines[s + 1..e]
                    .iter()
                    .filter(|l| !l.starts_with("  config = "))
                    .map(|l| normalise(l, &dir))
                    .collect(),
            ),
            _ => Reading::Refused(lines),
        }
    }
}

/// OpenVPN's line without its time: "2026-12-01 20:05:05 us=550729 text", or without the
/// `us=` part when the microseconds are exactly 0 (OpenVPN leaves a zero out).
fn strip_timestamp(line: &str) -> &str {
    let stamped = line.len() > 20
        && line.as_bytes()[..19]
            .iter()
            .enumerate()
            .all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b' ',
                13 | 16 => *b == b':',
                _ => b.is_ascii_digit(),
            });
    if !stamped {
        return line;
    }
    let rest = &line[20..];
    match rest.strip_prefix("us=") {
        Some(usec) => usec.split_once(' ').map_or("", |(_, text)| text),
        None => rest,
    }
}

#[test]
fn openvpns_time_is_stripped_with_or_without_microseconds() {
    assert_eq!(
        strip_timestamp("2026-12-01 20:05:05 us=550729   connect_retry_seconds = 1"),
        "  connect_retry_seconds = 1"
    );
    assert_eq!(
        strip_timestamp("2026-12-06 22:15:31   connect_retry_seconds = 1"),
        "  connect_retry_seconds = 1"
    );
    assert_eq!(
        strip_timestamp("Current Parameter Settings:"),
        "Current Parameter Settings:"
    );
}

/// A block handed over as a file reads `'DIR/ca.pem'` where the inline one reads `'[INLINE]'`.
fn normalise(line: &str, dir: &str) -> String {
    match line.split_once(&format!("'{dir}/block-")) {
        Some((key, _)) => format!("{key}'[INLINE]'"),
        None => line.to_string(),
    }
}

/// The options Postern accepted, one by one as command-line arguments: no syntax to misread.
fn as_arguments(profile: &Profile, scratch: &Scratch) -> Vec<OsString> {
    let mut args = Vec::new();
    for d in profile.openvpn_directives() {
        args.push(OsString::from(format!("--{}", d.name)));
        args.extend(d.args.iter().map(OsString::from));
    }
    for (tag, body) in profile.blocks() {
        args.push(OsString::from(format!("--{tag}")));
        args.push(
            scratch
                .write(&format!("block-{tag}"), body)
                .into_os_string(),
        );
    }
    args
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    accepted: usize,
    openvpn_runs: usize,
}

/// Postern's verdict on `text`, and for an accepted profile, OpenVPN's agreement with it.
fn differential(text: &[u8], tally: &mut Tally) -> Result<(), String> {
    tally.cases += 1;
    let Ok(profile) = Profile::parse(text) else {
        return Ok(());
    };
    tally.accepted += 1;
    let scratch = Scratch::new();
    let written = scratch.write("helper.ovpn", &profile.render_for_openvpn());
    let original = scratch.write("original.ovpn", &String::from_utf8_lossy(text));
    let expected = scratch.openvpn(&as_arguments(&profile, &scratch));
    let helper = scratch.openvpn(&["--config".into(), written.into_os_string()]);
    let as_given = scratch.openvpn(&["--config".into(), original.into_os_string()]);
    tally.openvpn_runs += 3;
    if let Reading::Settings(settings) = &helper
        && let Some(bad) = settings.iter().find(|l| is_forbidden(l))
    {
        return Err(format!("OpenVPN read a forbidden setting: {bad}"));
    }
    match (&expected, &helper, &as_given) {
        (Reading::Settings(e), Reading::Settings(h), Reading::Settings(g)) => {
            if e != h {
                return Err(format!(
                    "the helper's file reads differently: {}",
                    diff(e, h)
                ));
            }
            if e != g {
                return Err(format!(
                    "the original file reads differently: {}",
                    diff(e, g)
                ));
            }
            Ok(())
        }
        // OpenVPN refusing an option value is not a desync, as long as it refuses all three.
        (Reading::Refused(_), Reading::Refused(_), Reading::Refused(_)) => Ok(()),
        _ => Err(format!(
            "OpenVPN read the three forms differently:\narguments: {expected:?}\nhelper's file: {helper:?}\noriginal: {as_given:?}"
        )),
    }
}

fn is_forbidden(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with("plugin[") {
        return true;
    }
    FORBIDDEN.iter().any(|key| {
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(" = "))
            .is_some_and(|value| value != "'[UNDEF]'" && value != "DISABLED")
    })
}

fn diff(a: &[String], b: &[String]) -> String {
    let only_a: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
    format!("expected only {only_a:?}, found only {only_b:?}")
}

/// OpenVPN runs one at a time per test binary: the machine has few cores.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn the_forbidden_check_sees_what_openvpn_would_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new();
    let marker = scratch.dir.path().join("pwned.log");
    let hostile = export(&format!(
        "plugin {STOCK_PLUGIN} /bin/true\nstatus {}\n",
        marker.display()
    ));
    let file = scratch.write("hostile.ovpn", &hostile);
    let Reading::Settings(settings) = scratch.openvpn(&["--config".into(), file.into_os_string()])
    else {
        panic!("OpenVPN should read the hostile file");
    };
    let forbidden: Vec<_> = settings.iter().filter(|l| is_forbidden(l)).collect();
    assert_eq!(
        forbidden.len(),
        2,
        "plugin and status are seen: {forbidden:?}"
    );
    assert!(Profile::parse(hostile.as_bytes()).is_err());
}

#[test]
fn the_corpus_reads_the_same_to_postern_and_openvpn() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let m = material();
    let saml = export("auth-user-pass\nauth-federate\nauth-retry interact\n");
    let saml = saml
        .split("<cert>")
        .next()
        .map(|head| format!("{head}reneg-sec 0\nauth-user-pass\nauth-federate\n"))
        .expect("split");
    let corpus = [
        export(""),
        export(&format!(
            "key-direction 1\n<tls-auth>\n{}</tls-auth>\n",
            m.static_key
        )),
        export(&format!("<tls-crypt>\n{}</tls-crypt>\n", m.static_key)),
        export(
            "static-challenge \"Enter your code\" 1\ndhcp-option DNS 10.0.0.2\nroute 10.0.0.0 255.0.0.0\n",
        ),
        export("verb 4 # chatty\n; a comment\n  --mute 10\n\tping 10\n").replace('\n', "\r\n"),
        format!("\u{feff}{}", export("")),
        export("").replace(
            "<cert>\n",
            "<cert>\nCertificate:\n    Data:\n        Version: 3 (0x2)\n",
        ),
        export("remote \"second host\" 1194 udp\nremote third\\ host 443\n"),
        saml,
    ];
    let mut tally = Tally::default();
    for (i, text) in corpus.iter().enumerate() {
        if let Err(finding) = differential(text.as_bytes(), &mut tally) {
            panic!("corpus case {i}: {finding}\n{text}");
        }
    }
    println!("corpus: {tally:?}");
    assert_eq!(
        tally.accepted,
        corpus.len(),
        "every corpus profile is a real one: {tally:?}"
    );
}

/// How many of [`fragments`] come first and are benign.
const BENIGN: usize = 24;

/// The lines the generator draws from: most are what exports and people write, the rest is
/// what an attacker tries.
fn fragments() -> Vec<String> {
    let long = |n: usize, tail: &str| format!("{}{tail}", "A".repeat(n));
    let mut f: Vec<String> = [
        "verb 4",
        "--verb 5",
        "  mute 20",
        "\tping 10\t",
        "verb 3 # comment",
        "verb 3 ;comment",
        "# comment",
        "; comment",
        "",
        "   ",
        "static-challenge \"Enter code\" 1",
        "static-challenge 'Enter code' 1",
        "static-challenge Enter\\ code 1",
        "static-challenge \"say \\\"hi\\\"\" 0",
        "dhcp-option DNS 10.0.0.2",
        "route 10.1.0.0 255.255.0.0",
        "remote \"b host\" 443",
        "remote-random-hostname",
        "auth-nocache",
        "persist-key",
        "tun-mtu 1400",
        "remote host\\ name 443 # spaced",
        "  --route 10.2.0.0 255.255.0.0 # x",
        "dhcp-option DOMAIN corp.internal",
        "verb\u{a0}3",
        "verb 3\rplugin x",
        "verb \\x",
        "verb \"3",
        "verb 3\\",
        "</ca>",
        "</ca>x",
        "</key>",
        "<ca>",
        "\"<ca>\"",
        "'<key>'",
        "--<cert>",
        "<ca> # c",
        "<connection>",
        "</connection>",
        "<tls-auth>",
        "<>",
        "-----BEGIN CERTIFICATE-----",
        "-----END CERTIFICATE-----",
        "MIIBkTCB+wIJAKHBfpegGnVcMA0=",
        "log-append pwned.log",
        "status pwned.status",
        "config /etc/passwd",
        "cd /",
        "up /bin/true",
        "script-security 2",
        "setenv opt plugin x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.push(format!("plugin {STOCK_PLUGIN} /bin/true"));
    f.push(format!("plugin\t\"{STOCK_PLUGIN}\""));
    for n in [240, 250, 252, 253, 254, 255, 256, 300] {
        f.push(long(n, ""));
        f.push(long(n, "</ca>"));
        f.push(format!("verb 3 #{}", long(n, "")));
        f.push(long(n, &format!("plugin {STOCK_PLUGIN}")));
    }
    f
}

/// A generated profile: an export, with fragments inserted at line positions, maybe CRLF.
fn generated() -> impl Strategy<Value = Vec<u8>> {
    let f = fragments();
    // The first BENIGN fragments are what exports and people write: drawn three times as often,
    // so that a good share of the profiles is accepted and goes on to OpenVPN.
    let fragment = prop_oneof![3 => 0..BENIGN, 1 => 0..f.len()];
    let insertions = prop::collection::vec((0usize..40, fragment), 0..5);
    let sometimes = |p| prop::bool::weighted(p);
    (insertions, sometimes(0.3), sometimes(0.3), sometimes(0.1)).prop_map(
        move |(inserts, crlf, tabs, nul)| {
            let base = export("");
            let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
            for (at, which) in inserts {
                let at = at.min(lines.len());
                lines.insert(at, f[which].clone());
            }
            let mut text = lines.join(if crlf { "\r\n" } else { "\n" });
            text.push('\n');
            if tabs {
                text = text.replacen(' ', "\t", 3);
            }
            let mut bytes = text.into_bytes();
            if nul {
                let at = bytes.len() / 2;
                bytes.insert(at, 0);
            }
            bytes
        },
    )
}

#[test]
fn generated_profiles_read_the_same_to_postern_and_openvpn() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cases = std::env::var("POSTERN_PROFILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = std::cell::RefCell::new(Tally::default());
    let started = Instant::now();
    let result = runner.run(&generated(), |text| {
        let outcome = differential(&text, &mut tally.borrow_mut());
        prop_assert!(
            outcome.is_ok(),
            "{}\n---\n{}",
            outcome.unwrap_err(),
            String::from_utf8_lossy(&text)
        );
        Ok(())
    });
    let tally = tally.into_inner();
    println!(
        "profile differential: {} cases, {} accepted, {} OpenVPN runs in {:.1} s, findings: {}",
        tally.cases,
        tally.accepted,
        tally.openvpn_runs,
        started.elapsed().as_secs_f64(),
        if result.is_ok() { 0 } else { 1 }
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        tally.accepted * 5 >= tally.cases,
        "the generator must produce accepted profiles too, or it tests nothing: {tally:?}"
    );
}
