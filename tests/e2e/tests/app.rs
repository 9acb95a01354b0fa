//! The real desktop app, end to end in the network lab: its window on an Xvfb display, driven by
//! WebKitWebDriver inside the laptop namespace (tests/e2e/app/drive.py); the helper, OpenVPN,
//! the lab's Identity Center and AWS; notifications observed on the session bus as a real daemon
//! (dunst, started by D-Bus activation) receives them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postern_e2e::lab::{self, AWS, ELASTIC_IP, Helper, Spawned};
use postern_e2e::{bin, copy_env};

/// An Xvfb display of its own; returns it with its number.
fn display() -> (Spawned, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (apt install xvfb)");
    let mut number = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut number)
        .unwrap();
    let number = number.trim().to_string();
    assert!(!number.is_empty(), "Xvfb did not report its display");
    (Spawned(child), format!(":{number}"))
}

/// Every `Notify` call on the session bus, as dbus-monitor prints it.
fn watch_notifications(log: &Path) -> Spawned {
    let child = Command::new("dbus-monitor")
        .args([
            "--session",
            "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor");
    std::thread::sleep(Duration::from_millis(300));
    Spawned(child)
}

/// The summaries of the notifications sent: the 4th string argument of each Notify call
/// (app name, replaces id, icon, summary, body…).
fn notification_summaries(log: &Path) -> Vec<String> {
    let mut text = String::new();
    std::fs::File::open(log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text.split("member=Notify")
        .skip(1)
        .filter_map(|call| {
            call.lines()
                .filter_map(|l| l.trim().strip_prefix("string \""))
                .nth(2)
                .map(|s| s.trim_end_matches('"').to_string())
        })
        .collect()
}

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/app-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_window_signs_in_connects_shows_ready_and_the_blocked_reason_with_exactly_the_expected_notifications()
 {
    let _turn = lab::take_turn();
    let _aws = lab::aws();
    let user = lab::connect_user();
    let helper = Helper::start(&[]);
    let (_x, display) = display();
    // D-Bus starts dunst on the first notification; it must know the display to draw on.
    let status = Command::new("dbus-update-activation-environment")
        .arg(format!("DISPLAY={display}"))
        .status()
        .unwrap();
    assert!(status.success());
    let notify_log = user.home.path().join("notifications.log");
    let _monitor = watch_notifications(&notify_log);

    // WebKitWebDriver in the laptop namespace starts the app with its own environment.
    let mut driver = Command::new("ip");
    driver
        .args([
            "netns",
            "exec",
            "pl-laptop",
            "WebKitWebDriver",
            "--port=4445",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    copy_env(&user.postern(), &mut driver);
    driver
        .env("DISPLAY", &display)
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .env("POSTERN_HELPER_SOCKET", helper.socket())
        .env(
            "POSTERN_AGENT_SOCKET",
            user.home.path().join("agent/agent.sock"),
        )
        .env("POSTERN_LOG_DIR", user.home.path().join("logs"))
        .env("POSTERN_DIAGNOSTICS_DIR", user.home.path())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", AWS)
        .env("AWS_ENDPOINT_URL_SSO", AWS);
    let _driver = Spawned(
        driver
            .spawn()
            .expect("WebKitWebDriver (apt install webkit2gtk-driver)"),
    );

    let shots = shots_dir();
    let started = Instant::now();
    let run = Command::new("ip")
        .env("DISPLAY", &display)
        .args(["netns", "exec", "pl-laptop", "python3"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("app/drive.py"))
        .arg("http://127.0.0.1:4445")
        .arg(bin("postern-app"))
        .arg(&shots)
        .arg(AWS)
        .arg(lab::script())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    let app_log =
        std::fs::read_to_string(user.home.path().join("logs/app.log")).unwrap_or_default();
    assert!(
        run.status.success(),
        "the window run failed after {:?}:\n{out}\n{}\napp log:\n{app_log}",
        started.elapsed(),
        String::from_utf8_lossy(&run.stderr)
    );
    let steps: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no {name} step in {out}"))
    };
    assert_eq!(step("idle")["headline"], "Not connected");
    assert!(step("sign-in")["code"].as_str().unwrap().contains('-'));
    let ready = step("ready");
    assert_eq!(ready["egress"], ELASTIC_IP, "{ready}");
    assert_eq!(ready["target"], "111122223333 / Developer");
    assert!(ready["protectedShown"].as_bool().unwrap());
    let checks = step("checks");
    assert_eq!(checks["natMatch"], "yes", "{checks}");
    assert_eq!(checks["address"], ELASTIC_IP);
    assert!(
        checks["checks"][0]
            .as_str()
            .unwrap()
            .starts_with("pass os_version"),
        "{checks}"
    );
    let blocked = step("blocked");
    let reason = blocked["reason"].as_str().unwrap();
    assert!(reason.contains("VPN"), "{blocked}");
    assert!(blocked["nextStep"].as_str().is_some_and(|s| !s.is_empty()));
    // The window listed the bundle's files before saving it, then saved a bundle that opens.
    let rows = step("preview")["rows"].as_array().unwrap().clone();
    assert!(
        rows.iter()
            .any(|r| r.as_str().unwrap().starts_with("manifest.json")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.as_str().unwrap().starts_with("session.json")),
        "{rows:?}"
    );
    let saved = step("saved")["text"].as_str().unwrap().to_string();
    let path = saved
        .strip_prefix("Saved ")
        .and_then(|s| s.split(" (").next())
        .unwrap_or_else(|| panic!("{saved}"));
    let listing = Command::new("unzip").args(["-l", path]).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for part in [
        "manifest.json",
        "session.json",
        "vpn/openvpn.log",
        "logs/app.log",
    ] {
        assert!(listing.contains(part), "{part} not in {listing}");
    }
    for shot in [
        "1-not-connected.png",
        "2-sign-in.png",
        "3-ready.png",
        "4-vpn-dropped.png",
        "5-blocked.png",
        "6-diagnostics.png",
    ] {
        let png = std::fs::read(shots.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 1000, "{shot}");
    }

    // Exactly the actionable notifications, each once: the code to confirm, connected, the drop.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut summaries = notification_summaries(&notify_log);
    while summaries.len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        summaries = notification_summaries(&notify_log);
    }
    assert_eq!(
        summaries,
        ["Sign in to continue", "Connected", "VPN dropped"],
        "app log:\n{app_log}"
    );
    // A real daemon received them.
    let owner = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "-d",
            "org.freedesktop.DBus",
            "-o",
            "/org/freedesktop/DBus",
            "-m",
            "org.freedesktop.DBus.NameHasOwner",
            "org.freedesktop.Notifications",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&owner.stdout).contains("true"));
    assert!(app_log.contains("notified"), "{app_log}");
}
