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

/// D-Bus starts the notification daemon (dunst) on the first notification; it must know the
/// display to draw on.
fn daemon_draws_on(display: &str) {
    let status = Command::new("dbus-update-activation-environment")
        .arg(format!("DISPLAY={display}"))
        .status()
        .unwrap();
    assert!(status.success());
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

/// The desktop's settings daemon (XSETTINGS) on a display, with the theme in a file the test
/// rewrites to switch between light and dark, as a desktop does.
fn settings_daemon(display: &str, conf: &Path) -> Spawned {
    std::fs::write(conf, "Net/ThemeName \"Adwaita\"\n").unwrap();
    let child = Command::new("xsettingsd")
        .args(["-c"])
        .arg(conf)
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xsettingsd (apt install xsettingsd)");
    std::thread::sleep(Duration::from_millis(300));
    Spawned(child)
}

/// What both app tests stand on: the lab's turn and AWS, a user with the lab profile, a helper,
/// a display with its settings daemon, notifications recorded.
struct Desktop {
    _aws: Spawned,
    user: postern_e2e::User,
    helper: Helper,
    _x: Spawned,
    xsettings: Spawned,
    xsettings_conf: PathBuf,
    display: String,
    notify_log: PathBuf,
    _monitor: Spawned,
    /// Dropped last: the next test gets the lab only once this one's processes have ended.
    _turn: lab::LabTurn,
}

impl Desktop {
    fn new() -> Self {
        let turn = lab::take_turn();
        let aws = lab::aws();
        let user = lab::connect_user();
        let helper = Helper::start(&[]);
        let (x, display) = display();
        let xsettings_conf = user.home.path().join("xsettingsd.conf");
        let xsettings = settings_daemon(&display, &xsettings_conf);
        daemon_draws_on(&display);
        let notify_log = user.home.path().join("notifications.log");
        let monitor = watch_notifications(&notify_log);
        Self {
            _turn: turn,
            _aws: aws,
            user,
            helper,
            _x: x,
            xsettings,
            xsettings_conf,
            display,
            notify_log,
            _monitor: monitor,
        }
    }

    fn agent_socket(&self) -> PathBuf {
        self.user.home.path().join("agent/agent.sock")
    }

    /// This user's environment with the lab's helper and the app's agent socket: for `postern`.
    fn cli_env(&self, c: &mut Command) {
        copy_env(&self.user.postern(), c);
        c.env("POSTERN_HELPER_SOCKET", self.helper.socket())
            .env("POSTERN_AGENT_SOCKET", self.agent_socket());
    }

    /// And what the app needs on top: the display, its logs, the lab's Identity Center.
    fn app_env(&self, c: &mut Command) {
        self.cli_env(c);
        c.env("DISPLAY", &self.display)
            .env("POSTERN_LOG_DIR", self.user.home.path().join("logs"))
            .env("AWS_ENDPOINT_URL_SSO_OIDC", AWS)
            .env("AWS_ENDPOINT_URL_SSO", AWS);
    }
}

/// One run of tests/e2e/app/drive.py against the app under WebKitWebDriver in the laptop
/// namespace; `saml` names the SAML profile to connect instead of the default. Returns the
/// observations (one JSON line each), the whole output and the app's log.
fn drive_window(
    desktop: &Desktop,
    saml: Option<&str>,
    env: &[(&str, &Path)],
) -> (Vec<serde_json::Value>, String, String) {
    let user = &desktop.user;
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
    desktop.app_env(&mut driver);
    driver
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .env("POSTERN_DIAGNOSTICS_DIR", user.home.path());
    for (k, v) in env {
        driver.env(k, v);
    }
    let _driver = Spawned(
        driver
            .spawn()
            .expect("WebKitWebDriver (apt install webkit2gtk-driver)"),
    );

    let started = Instant::now();
    let axe =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/node_modules/axe-core/axe.min.js");
    assert!(
        axe.is_file(),
        "axe-core is missing: scripts/setup installs the window's npm packages"
    );
    let run = Command::new("ip")
        .env("DISPLAY", &desktop.display)
        .env("AXE_SCRIPT", &axe)
        .env("XSETTINGSD_PID", desktop.xsettings.0.id().to_string())
        .env("XSETTINGSD_CONF", &desktop.xsettings_conf)
        .args(["netns", "exec", "pl-laptop", "python3"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("app/drive.py"))
        .arg("http://127.0.0.1:4445")
        .arg(bin("postern-app"))
        .arg(shots_dir())
        .arg(AWS)
        .arg(lab::script())
        .args(saml)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).to_string();
    let app_log =
        std::fs::read_to_string(user.home.path().join("logs/app.log")).unwrap_or_default();
    assert!(
        run.status.success(),
        "the window run failed after {:?}:\n{out}\n{}\napp log:\n{app_log}",
        started.elapsed(),
        String::from_utf8_lossy(&run.stderr)
    );
    let steps = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (steps, out, app_log)
}

fn step<'a>(steps: &'a [serde_json::Value], out: &str, name: &str) -> &'a serde_json::Value {
    steps
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no {name} step in {out}"))
}

#[test]
fn the_window_signs_in_connects_shows_ready_and_the_blocked_reason_with_exactly_the_expected_notifications()
 {
    let desktop = Desktop::new();
    let notify_log = &desktop.notify_log;
    let shots = shots_dir();
    let (steps, out, app_log) = drive_window(&desktop, None, &[]);
    let step = |name: &str| step(&steps, &out, name);
    let idle = step("idle");
    assert_eq!(idle["headline"], "Not connected");
    assert_eq!(idle["primary"], "connect", "one main action: {idle}");
    assert_eq!(idle["primaryText"], "Connect");

    // Every action is reached by Tab, in reading order, visible, with a focus ring.
    let order = step("focus")["order"].as_array().unwrap().clone();
    let ids: Vec<&str> = order.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let at = |id: &str| {
        ids.iter()
            .position(|i| *i == id)
            .unwrap_or_else(|| panic!("Tab never reaches #{id}: {ids:?}"))
    };
    assert!(at("primary") < at("copy-details"), "{ids:?}");
    assert!(at("copy-details") < at("access"), "{ids:?}");
    assert!(at("access") < at("profile"), "{ids:?}");
    for summary in ["This device", "Network", "Settings", "Help"] {
        assert!(
            ids.iter()
                .any(|i| i.starts_with("summary:") && i.contains(summary)),
            "Tab never reaches the {summary} section: {ids:?}"
        );
    }
    for f in &order {
        assert_eq!(f["visible"], true, "focused but not visible: {f}");
        assert_eq!(f["ring"], true, "focused without a visible ring: {f}");
    }

    let sign_in = step("sign-in");
    assert!(sign_in["code"].as_str().unwrap().contains('-'));
    assert_eq!(sign_in["primary"], "sign-in", "{sign_in}");
    assert_eq!(sign_in["steps"][0], "sign-in:running", "{sign_in}");
    let ready = step("ready");
    assert_eq!(ready["egress"], ELASTIC_IP, "{ready}");
    assert_eq!(ready["role"], "Developer");
    assert!(ready["protectedShown"].as_bool().unwrap());
    assert_eq!(ready["primary"], "disconnect", "{ready}");
    // Every gate the lab's rule requires is done; none failed or waits.
    assert_eq!(
        ready["steps"],
        serde_json::json!([
            "sign-in:done",
            "device:done",
            "vpn:done",
            "network:done",
            "credentials:done"
        ]),
        "{ready}"
    );
    // The account by its name, as the portal lists it.
    assert_eq!(step("named")["account"], "Production · 111122223333");
    let checks = step("checks");
    assert_eq!(checks["natMatch"], "yes", "{checks}");
    assert_eq!(checks["address"], ELASTIC_IP);
    assert!(
        checks["checks"][0]
            .as_str()
            .unwrap()
            .starts_with("pass Operating system — "),
        "{checks}"
    );
    let blocked = step("blocked");
    let reason = blocked["reason"].as_str().unwrap();
    assert!(reason.contains("VPN"), "{blocked}");
    assert!(blocked["nextStep"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(blocked["primary"], "retry", "{blocked}");
    // The step that failed holds the same reason.
    assert!(
        blocked["steps"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("vpn:failed")),
        "{blocked}"
    );
    assert_eq!(blocked["stepReasons"][0], reason, "{blocked}");

    // Copy details: the helpdesk's text, on the display's clipboard, without a secret.
    let copied = step("copied");
    assert_eq!(
        copied["text"], "Copied. Paste it to your helpdesk.",
        "{copied}"
    );
    let clipboard = copied["clipboard"].as_str().unwrap();
    for expected in [
        "Postern 0.1.0 on linux",
        "State: Blocked: no AWS credentials (blocked)",
        "Step sign-in: done in ",
        "Step vpn: failed",
        "(The VPN connection was lost.",
    ] {
        assert!(
            clipboard.contains(expected),
            "{expected} not in {clipboard}"
        );
    }
    let code = sign_in["code"].as_str().unwrap();
    assert!(
        !clipboard.contains(code),
        "the sign-in code was copied: {clipboard}"
    );
    assert!(
        !clipboard.contains("ASIA") && !clipboard.contains("AKIA"),
        "{clipboard}"
    );

    // axe-core found nothing of moderate impact or worse, in every state, light and dark.
    let audits: Vec<&serde_json::Value> = steps.iter().filter(|s| s["step"] == "audit").collect();
    let audited: Vec<String> = audits
        .iter()
        .map(|a| format!("{} {}", a["state"], a["scheme"]))
        .collect();
    for state in ["idle", "signing-in", "ready", "blocked", "diagnostics"] {
        for scheme in ["light", "dark"] {
            assert!(
                audited.contains(&format!("\"{state}\" \"{scheme}\"")),
                "{state} in {scheme} was not audited: {audited:?}"
            );
        }
    }
    assert_eq!(audits.len(), 12, "{audited:?}");
    for a in &audits {
        assert_eq!(a["violations"], serde_json::json!([]), "{a}");
    }
    // A refused command reached the window as its typed cause: the sentence, then what to do.
    assert_eq!(
        step("refused")["text"],
        "No sign-in is waiting. Click Connect to start one."
    );
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
        "1-not-connected",
        "2-sign-in",
        "3-ready",
        "4-vpn-dropped",
        "5-blocked",
        "6-diagnostics",
    ] {
        for scheme in ["", "-dark"] {
            let png = std::fs::read(shots.join(format!("{shot}{scheme}.png"))).unwrap();
            assert!(
                png.starts_with(b"\x89PNG") && png.len() > 1000,
                "{shot}{scheme}"
            );
        }
    }

    // Exactly the actionable notifications, each once: the code to confirm, connected, the drop.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut summaries = notification_summaries(notify_log);
    while summaries.len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        summaries = notification_summaries(notify_log);
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

#[test]
fn the_window_signs_in_to_a_saml_vpn_and_reaches_ready() {
    let desktop = Desktop::new();
    lab::import_saml_profile(&desktop.user, "corp-saml");
    // A browser that only records what the app asked it to open: the person then opens the
    // window's link themselves (drive.py, with the lab's browser).
    let opened = desktop.user.home.path().join("opened.log");
    let browser = desktop.user.home.path().join("recording-browser");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (steps, out, app_log) = drive_window(&desktop, Some("corp-saml"), &[("BROWSER", &browser)]);
    let step = |name: &str| step(&steps, &out, name);

    let sign_in = step("vpn-sign-in");
    assert_eq!(sign_in["state"], "vpn-sign-in", "{sign_in}\n{app_log}");
    assert_eq!(sign_in["headline"], "Sign in to the VPN in your browser");
    assert_eq!(sign_in["signInShown"], true);
    assert!(sign_in["code"].is_null(), "no code to confirm: {sign_in}");
    let url = sign_in["signInUrl"].as_str().unwrap();
    assert!(url.starts_with("http://192.0.2.80/idp?state="), "{sign_in}");
    // The app opened the same checked page in the browser by itself.
    let asked = std::fs::read_to_string(&opened).unwrap_or_default();
    assert!(asked.lines().any(|l| l == url), "{asked}");

    let ready = step("ready");
    assert_eq!(ready["indicator"], "ready", "{ready}\n{app_log}");
    // Through the SAML profile's tunnel (the only one that asks for a VPN sign-in), to the NAT.
    assert_eq!(ready["egress"], ELASTIC_IP, "{ready}");
}

/// The tray as a StatusNotifier host sees it, over D-Bus (libayatana-appindicator's item and
/// its com.canonical.dbusmenu menu).
struct Tray {
    name: String,
}

const ITEM: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_postern";

fn gdbus(args: &[&str]) -> String {
    let out = Command::new("gdbus")
        .args(["call", "--session"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Tray {
    /// Waits (bounded) for the app's item to register with the watcher.
    fn find() -> Self {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let items = gdbus(&[
                "-d",
                "org.kde.StatusNotifierWatcher",
                "-o",
                "/StatusNotifierWatcher",
                "-m",
                "org.freedesktop.DBus.Properties.Get",
                "org.kde.StatusNotifierWatcher",
                "RegisteredStatusNotifierItems",
            ]);
            if let Some(start) = items.find("':") {
                let name: String = items[start + 1..]
                    .chars()
                    .take_while(|c| *c != '\'')
                    .collect();
                return Self { name };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the app's tray item never registered");
    }

    /// (id, label, enabled) for each menu item, in order.
    fn menu(&self) -> Vec<(u32, String, bool)> {
        let layout = gdbus(&[
            "-d",
            &self.name,
            "-o",
            &format!("{ITEM}/Menu"),
            "-m",
            "com.canonical.dbusmenu.GetLayout",
            "--",
            "0",
            "-1",
            "[]",
        ]);
        layout
            .split("<(")
            .skip(1)
            .filter_map(|item| {
                let id = item.split(',').next()?.trim().parse().ok()?;
                let label = item.split("'label': <'").nth(1)?.split("'>").next()?;
                let enabled = !item.contains("'enabled': <false>");
                Some((id, label.to_string(), enabled))
            })
            .collect()
    }

    fn wait_for_status(&self, prefix: &str, seconds: u64) -> Vec<(u32, String, bool)> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut menu = self.menu();
        while !menu.first().is_some_and(|(_, l, _)| l.starts_with(prefix)) {
            assert!(
                Instant::now() < deadline,
                "no '{prefix}' in the tray: {menu:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
            menu = self.menu();
        }
        menu
    }

    fn click(&self, label: &str) {
        let menu = self.menu();
        let (id, _, enabled) = menu
            .iter()
            .find(|(_, l, _)| l == label)
            .unwrap_or_else(|| panic!("no '{label}' in {menu:?}"));
        assert!(enabled, "'{label}' is disabled");
        gdbus(&[
            "-d",
            &self.name,
            "-o",
            &format!("{ITEM}/Menu"),
            "-m",
            "com.canonical.dbusmenu.Event",
            "--",
            &id.to_string(),
            "'clicked'",
            "<0>",
            "0",
        ]);
    }

    /// The icon's colour where every state's shape is filled, as ImageMagick reads the file the
    /// item points to.
    fn colour(&self) -> String {
        let icon = gdbus(&[
            "-d",
            &self.name,
            "-o",
            ITEM,
            "-m",
            "org.freedesktop.DBus.Properties.Get",
            "org.kde.StatusNotifierItem",
            "IconName",
        ]);
        let path = icon.split('\'').nth(1).unwrap_or_default().to_string();
        let out = Command::new("convert")
            .arg(&path)
            .args(["-format", "%[pixel:p{24,16}]", "info:"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn started_at_login_the_tray_connects_on_its_own_follows_the_session_and_quit_disconnects_cleanly()
{
    let desktop = Desktop::new();
    let _watcher = Spawned(
        Command::new("status-notifier-watcher")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("status-notifier-watcher (apt install haskell-status-notifier-item-utils)"),
    );
    // The organization starts Postern at login and connects it at once.
    let policy = desktop.user.home.path().join("policy-at-login.toml");
    let mut text = std::fs::read_to_string(&desktop.user.policy).unwrap();
    text.push_str("\n[app]\nstart_at_login = true\nconnect_on_start = true\n");
    std::fs::write(&policy, text).unwrap();
    // As the login item starts it: in the tray, without its window.
    let mut app = Command::new("ip");
    app.args(["netns", "exec", "pl-laptop"])
        .arg(bin("postern-app"))
        .arg("--at-login")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    desktop.app_env(&mut app);
    app.env("POSTERN_POLICY", &policy);
    let mut app = Spawned(app.spawn().unwrap());

    let tray = Tray::find();
    // Waiting on the person to sign in: the signed-out shape.
    tray.wait_for_status("Sign in to continue", 30);
    assert_eq!(tray.colour(), "srgba(110,119,129,1)", "the signed-out icon");
    // The login item the organization's setting asks for is in place, starting this app.
    let entry = desktop
        .user
        .home
        .path()
        .join(".config/autostart/postern.desktop");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !entry.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let written = std::fs::read_to_string(&entry).unwrap_or_default();
    assert!(
        written.contains(&format!("Exec={} --at-login", bin("postern-app").display())),
        "{written}"
    );

    // Connect on start: nobody clicked Connect; the only allowed role is used, and the code
    // arrives as a notification.
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        let log = std::fs::read_to_string(&desktop.notify_log).unwrap_or_default();
        if let Some(code) = log
            .split("Confirm the code ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        {
            break code.to_string();
        }
        assert!(Instant::now() < deadline, "no sign-in notification: {log}");
        std::thread::sleep(Duration::from_millis(100));
    };
    lab::approve_device_code(&code);
    // The account by its name once the portal has listed it.
    let menu = tray.wait_for_status("Protected: Production · 111122223333 / Developer", 60);
    let labels: Vec<&str> = menu.iter().map(|(_, l, _)| l.as_str()).collect();
    assert!(
        labels.contains(&"Account Production · 111122223333 · role Developer"),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"Leaving through 203.0.113.10"),
        "{labels:?}"
    );
    assert!(labels.contains(&"Disconnect"), "{labels:?}");
    assert_eq!(tray.colour(), "srgba(26,127,55,1)", "the ready icon");

    // The CLI and credential_process are served by the app's agent.
    let mut credentials = Command::new(bin("postern"));
    credentials.args([
        "credentials",
        "--account",
        "111122223333",
        "--role",
        "Developer",
    ]);
    desktop.cli_env(&mut credentials);
    let served = credentials.output().unwrap();
    assert!(
        served.status.success(),
        "{}",
        String::from_utf8_lossy(&served.stderr)
    );

    // Disconnect from the tray, then Connect from it again (still signed in: no code).
    tray.click("Disconnect");
    let menu = tray.wait_for_status("Not connected", 30);
    let labels: Vec<&str> = menu.iter().map(|(_, l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Not connected",
            "Connect",
            "Open Postern",
            "Export diagnostics…",
            "Quit Postern"
        ]
    );
    tray.click("Connect");
    tray.wait_for_status("Protected: Production · 111122223333 / Developer", 60);

    // Quit: the app withdraws the credentials, takes the tunnel down and ends.
    tray.click("Quit Postern");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the app did not quit");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        !desktop.agent_socket().exists(),
        "the agent's socket is gone"
    );
    let mut vpn = Command::new(bin("postern"));
    vpn.args(["vpn", "status", "--json"]);
    desktop.cli_env(&mut vpn);
    let vpn = serde_json::from_slice::<serde_json::Value>(&vpn.output().unwrap().stdout).unwrap();
    assert_eq!(vpn["state"], "disconnected", "{vpn}");
    assert!(lab::tun_devices().is_empty(), "no tunnel left behind");
}
