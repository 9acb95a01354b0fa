//! The VPN in the network lab: real OpenVPN 2.6 client and server in namespaces, the real
//! privileged helper, the real `postern` CLI. Needs root (CI is root).

use std::path::Path;
use std::time::{Duration, Instant};

use postern_core::vpn::tunnel::TunnelState;
use postern_e2e::lab::{self, ECHO_URL, ELASTIC_IP, Helper, LAPTOP_IP};
use postern_e2e::{Run, User};
use postern_ipc::client::{HelperClient, HelperClientError};
use postern_ipc::{HelperError, MAX_FRAME};

const BAD_INPUT: i32 = 3;
const VPN_FAILED: i32 = 9;
const HELPER_UNAVAILABLE: i32 = 10;

fn user() -> User {
    User::with_policy("")
}

fn vpn(user: &User, helper: &Helper, args: &[&str]) -> Run {
    Run::from(
        user.postern()
            .env("POSTERN_HELPER_SOCKET", helper.socket())
            .arg("vpn")
            .args(args),
    )
}

fn import(user: &User, cn: &str, name: &str) {
    let file = user.home.path().join(format!("{name}.ovpn"));
    lab::lab(&["profile", cn, file.to_str().unwrap()]);
    Run::from(
        user.postern()
            .args(["vpn", "import", file.to_str().unwrap()]),
    )
    .assert_ok();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn connect_proves_the_elastic_ip_and_disconnect_restores_the_laptop_address() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let user = user();
    import(&user, "alice.lab.test", "corp");
    assert_eq!(lab::egress_address(), LAPTOP_IP);

    let run = vpn(&user, &helper, &["connect", "corp"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("VPN: connected 'corp'"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        lab::egress_address(),
        ELASTIC_IP,
        "through the VPN the echo sees the NAT's Elastic IP"
    );
    // OpenVPN's byte counts arrive every 5 s; the first one within about that.
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = vpn(&user, &helper, &["status"]).stdout();
        if !text.contains("traffic: 0 bytes received") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        text.contains("traffic: ") && !text.contains("traffic: 0 bytes received"),
        "{text}"
    );
    let status = vpn(&user, &helper, &["status", "--json"]).json();
    assert_eq!(status["schema"], "postern.vpn-status.v1");
    assert_eq!(status["state"], "connected");
    assert!(status["tunnelIp"].as_str().unwrap().starts_with("10.200."));

    vpn(&user, &helper, &["disconnect"]).assert_ok();
    assert_eq!(lab::egress_address(), LAPTOP_IP);
    assert!(lab::tun_devices().is_empty());
}

#[test]
fn the_servers_deny_reason_reaches_the_user() {
    let _turn = lab::take_turn();
    let reason = "Your device failed the posture check: FileVault is off";
    lab::lab(&["deny", "mallory.lab.test", reason]);
    let helper = Helper::start(&[]);
    let user = user();
    import(&user, "mallory.lab.test", "corp");
    let run = vpn(&user, &helper, &["connect", "corp"]);
    run.assert_fails(VPN_FAILED, reason);
    assert!(lab::tun_devices().is_empty());
    assert_eq!(lab::egress_address(), LAPTOP_IP);
}

#[test]
fn a_killed_server_means_reconnecting_then_failed_with_the_tunnel_gone() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&["--max-reconnects", "3"]);
    let user = user();
    import(&user, "alice.lab.test", "corp");
    vpn(&user, &helper, &["connect", "corp"]).assert_ok();

    let rt = runtime();
    let states = rt.block_on(async {
        let mut watch = HelperClient::connect(&helper.socket(), "test")
            .await
            .unwrap()
            .watch()
            .await
            .unwrap();
        assert!(watch.next().await.unwrap().is_connected());
        lab::lab(&["server", "stop"]);
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(30), watch.next()).await {
                Ok(Some(state)) => {
                    let done = state.is_final();
                    seen.push(state);
                    if done {
                        break;
                    }
                }
                _ => break,
            }
        }
        seen
    });
    assert!(
        states
            .iter()
            .any(|s| matches!(s, TunnelState::Reconnecting { .. })),
        "Reconnecting first: {states:?}"
    );
    assert!(
        matches!(states.last(), Some(TunnelState::Failed { .. })),
        "then Failed after the bound: {states:?}"
    );
    assert!(lab::tun_devices().is_empty(), "no tun device left");
    let text = vpn(&user, &helper, &["status"]);
    assert!(text.stdout().contains("lost"), "{}", text.stdout());
}

/// Profiles that would run code if OpenVPN got them as they are. Each writes a marker file.
fn hostile_corpus(dir: &Path, base: &str) -> Vec<(String, String)> {
    let marker = |n: &str| dir.join(format!("PWNED-{n}")).display().to_string();
    let so = dir.join("evil.so");
    let c = dir.join("evil.c");
    std::fs::write(
        &c,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void pwn(void) {{ FILE *f = fopen(\"{}\", \"w\"); if (f) fclose(f); }}\n",
            marker("plugin")
        ),
    )
    .unwrap();
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .status()
        .unwrap();
    assert!(built.success());
    let sh = |n: &str| format!("\"/bin/sh -c 'touch {}'\"", marker(n));
    let mut corpus = vec![
        (
            "plugin".to_string(),
            format!("{base}plugin {}\n", so.display()),
        ),
        (
            "up".into(),
            format!("{base}script-security 2\nup {}\n", sh("up")),
        ),
        (
            "down".into(),
            format!("{base}script-security 2\ndown {}\n", sh("down")),
        ),
        (
            "route-up".into(),
            format!("{base}script-security 2\nroute-up {}\n", sh("route-up")),
        ),
        (
            "ipchange".into(),
            format!("{base}script-security 2\nipchange {}\n", sh("ipchange")),
        ),
        (
            "tls-verify".into(),
            format!("{base}script-security 2\ntls-verify {}\n", sh("tls-verify")),
        ),
        (
            "setenv".into(),
            format!("{base}setenv opt up {}\n", sh("setenv")),
        ),
        (
            "management".into(),
            format!("{base}management 127.0.0.1 7505\n"),
        ),
        ("log".into(), format!("{base}log {}\n", marker("log"))),
        (
            "status".into(),
            format!("{base}status {}\n", marker("status")),
        ),
        (
            "writepid".into(),
            format!("{base}writepid {}\n", marker("writepid")),
        ),
        ("cd".into(), format!("{base}cd /\n")),
        ("config".into(), format!("{base}config /etc/passwd\n")),
        ("providers".into(), format!("{base}providers legacy\n")),
        ("engine".into(), format!("{base}engine dynamic\n")),
        (
            "ca-file".into(),
            format!("{base}ca /etc/ssl/certs/ca-certificates.crt\n"),
        ),
        (
            "auth-file".into(),
            format!("{base}auth-user-pass /etc/shadow\n"),
        ),
    ];
    // Inline-looking tricks: a directive smuggled after a fake block end, and a nested block.
    corpus.push((
        "smuggled".into(),
        base.replacen("</ca>", &format!("</ca>\nplugin {}", so.display()), 1),
    ));
    // The desync: lines OpenVPN reads as the end of the <ca> block while a naive parser reads
    // them as its body, then a directive, then a quoted tag that swallows the real close tag.
    let pem = base
        .split("<ca>\n")
        .nth(1)
        .and_then(|rest| rest.split("</ca>").next())
        .expect("the base profile has a <ca> block")
        .to_string();
    for (name, cut) in [
        ("close-tag-tail", "</ca>x".to_string()),
        ("split-long-line", format!("{}</ca>", "A".repeat(255))),
    ] {
        corpus.push((
            name.into(),
            base.replacen(
                "</ca>",
                &format!("{cut}\nplugin {}\n\"<ca>\"\n{pem}</ca>", so.display()),
                1,
            ),
        ));
    }
    corpus.push((
        "connection-block".into(),
        format!(
            "{base}<connection>\nremote 203.0.113.20\nup {}\n</connection>\n",
            sh("connection")
        ),
    ));
    corpus
}

#[test]
fn hostile_profiles_are_refused_at_import_and_by_the_helper_and_nothing_runs() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let user = user();
    let base_file = user.home.path().join("base.ovpn");
    lab::lab(&["profile", "alice.lab.test", base_file.to_str().unwrap()]);
    let base = std::fs::read_to_string(&base_file).unwrap();
    let markers = tempfile::tempdir().unwrap();
    let corpus = hostile_corpus(markers.path(), &base);
    let rt = runtime();
    for (name, text) in &corpus {
        let file = user.home.path().join(format!("{name}.ovpn"));
        std::fs::write(&file, text).unwrap();
        Run::from(
            user.postern()
                .args(["vpn", "import", file.to_str().unwrap()]),
        )
        .assert_fails(BAD_INPUT, "refused");
        // The helper never trusts the caller: sent directly, the same profile is refused.
        let answer = rt.block_on(async {
            let mut c = HelperClient::connect(&helper.socket(), "test")
                .await
                .unwrap();
            c.connect_tunnel(name, text).await
        });
        assert!(
            matches!(
                answer,
                Err(HelperClientError::Refused(
                    HelperError::ProfileRefused { .. }
                ))
            ),
            "{name}: {answer:?}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(markers.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("PWNED"))
        .collect();
    assert!(left.is_empty(), "a hostile profile ran code: {left:?}");
    assert!(
        Run::from(user.postern().args(["vpn", "list"]))
            .stdout()
            .contains("No VPN profiles")
    );
    assert!(
        lab::laptop_processes(helper.pid()).is_empty(),
        "no OpenVPN was started"
    );
}

#[test]
fn a_peer_that_fails_the_check_gets_nothing_and_bad_frames_do_not_stop_the_helper() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    // Let anyone reach the socket file, so the kernel's peer check is what refuses.
    std::process::Command::new("chmod")
        .arg("666")
        .arg(helper.socket())
        .status()
        .unwrap();
    let user = user();
    let nobody = Run::from(
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(postern_e2e::bin("postern"))
            .args(["vpn", "status"])
            .env("POSTERN_HELPER_SOCKET", helper.socket()),
    );
    nobody.assert_fails(
        HELPER_UNAVAILABLE,
        "only serves members of the 'postern' group",
    );

    let rt = runtime();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Oversized: refused before anything is read.
        let mut s = tokio::net::UnixStream::connect(helper.socket())
            .await
            .unwrap();
        s.write_all(&((MAX_FRAME as u32) + 1).to_be_bytes())
            .await
            .unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
        assert!(String::from_utf8_lossy(&reply).contains("larger than allowed"));
        // Garbage JSON.
        let mut s = tokio::net::UnixStream::connect(helper.socket())
            .await
            .unwrap();
        s.write_all(&5u32.to_be_bytes()).await.unwrap();
        s.write_all(b"{nope").await.unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
        assert!(String::from_utf8_lossy(&reply).contains("malformed"));
        // A client that hangs up mid-frame.
        let mut s = tokio::net::UnixStream::connect(helper.socket())
            .await
            .unwrap();
        s.write_all(&100u32.to_be_bytes()).await.unwrap();
        s.write_all(b"{\"type\"").await.unwrap();
        drop(s);
    });
    // The helper still serves a well-behaved client.
    let status = vpn(&user, &helper, &["status", "--json"]);
    status.assert_ok();
    assert_eq!(status.json()["state"], "disconnected");
}

#[test]
fn a_hundred_connect_disconnect_cycles_leave_no_openvpn_and_no_tun() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let user = user();
    import(&user, "alice.lab.test", "corp");
    let profile = {
        let file = user.home.path().join("corp.ovpn");
        std::fs::read_to_string(file).unwrap()
    };
    let rt = runtime();
    rt.block_on(async {
        for cycle in 0..100 {
            let up = lab::connect_tunnel(&helper.socket(), &profile).await;
            assert!(up.is_connected(), "cycle {cycle}: {up:?}");
            let mut c = HelperClient::connect(&helper.socket(), "test")
                .await
                .unwrap();
            let down = c.disconnect().await.unwrap();
            assert_eq!(down, TunnelState::Disconnected, "cycle {cycle}");
        }
    });
    assert!(
        lab::laptop_processes(helper.pid()).is_empty(),
        "processes left: {:?}",
        lab::laptop_processes(helper.pid())
    );
    assert!(
        lab::tun_devices().is_empty(),
        "tun devices left: {:?}",
        lab::tun_devices()
    );
}

#[test]
fn a_missing_or_old_openvpn_and_a_missing_helper_are_explained() {
    let _turn = lab::take_turn();
    let user = user();
    import(&user, "alice.lab.test", "corp");
    let missing = Helper::start(&["--openvpn", "/nonexistent/openvpn"]);
    vpn(&user, &missing, &["connect", "corp"]).assert_fails(
        VPN_FAILED,
        "OpenVPN is not installed at /nonexistent/openvpn",
    );
    drop(missing);

    let old = tempfile::tempdir().unwrap();
    let fake = old.path().join("openvpn");
    // Written by another process: an executable this process had open for writing could be
    // inherited by a concurrent fork and then fail to run ("text file busy").
    let written = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf '#!/bin/sh\\necho \"OpenVPN 2.3.18 x86_64-pc-linux-gnu [SSL (OpenSSL)]\"\\n' > \"$1\" && chmod 755 \"$1\"")
        .arg("sh")
        .arg(&fake)
        .status()
        .unwrap();
    assert!(written.success());
    let too_old = Helper::start(&["--openvpn", fake.to_str().unwrap()]);
    vpn(&user, &too_old, &["connect", "corp"])
        .assert_fails(VPN_FAILED, "OpenVPN 2.3.18 is too old");
    let socket = too_old.socket();
    drop(too_old);

    // Stock OpenVPN passes and is remembered; the SAML build is checked on its own account.
    let saml_too_old = Helper::start(&["--saml-openvpn", fake.to_str().unwrap()]);
    vpn(&user, &saml_too_old, &["connect", "corp"]).assert_ok();
    vpn(&user, &saml_too_old, &["disconnect"]).assert_ok();
    let saml_user = saml_user();
    import_saml(&saml_user, "corp-saml");
    vpn(&saml_user, &saml_too_old, &["connect", "corp-saml"])
        .assert_fails(VPN_FAILED, "OpenVPN 2.3.18 is too old");
    drop(saml_too_old);

    let gone = Run::from(
        user.postern()
            .env("POSTERN_HELPER_SOCKET", &socket)
            .args(["vpn", "connect", "corp"]),
    );
    gone.assert_fails(HELPER_UNAVAILABLE, "helper is not running");
}

#[test]
fn a_helper_of_another_protocol_version_is_refused_clearly() {
    // A stand-in for a newer helper: it answers Hello the way a v2 helper would.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("helper.sock");
    let rt = runtime();
    let listener = rt.block_on(async { tokio::net::UnixListener::bind(&socket).unwrap() });
    let server = rt.spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let _: postern_ipc::Request = postern_ipc::read_frame(&mut s).await.unwrap();
        let refusal = postern_ipc::Reply::Refused(HelperError::ProtocolMismatch {
            helper: 2,
            client: 1,
        });
        postern_ipc::write_frame(&mut s, &refusal).await.unwrap();
    });
    let user = user();
    let socket2 = socket.clone();
    let run = std::thread::spawn(move || {
        Run::from(
            user.postern()
                .env("POSTERN_HELPER_SOCKET", &socket2)
                .args(["vpn", "status"]),
        )
    });
    rt.block_on(server).unwrap();
    let run = run.join().unwrap();
    run.assert_fails(
        HELPER_UNAVAILABLE,
        "speaks protocol 2, this program speaks 1",
    );
    run.assert_fails(HELPER_UNAVAILABLE, "Update Postern");
}

#[test]
fn bad_profile_files_are_refused_at_import_and_lose_nothing() {
    let user = user();
    let dir = user.home.path();
    let base_file = dir.join("corp.ovpn");
    // A profile that needs no lab: a minimal valid export.
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    let key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----";
    let good = format!(
        "client\ndev tun\nremote vpn.example.com 443\n<ca>\n{pem}\n</ca>\n<cert>\n{pem}\n</cert>\n<key>\n{key}\n</key>\n"
    );
    std::fs::write(&base_file, &good).unwrap();
    Run::from(
        user.postern()
            .args(["vpn", "import", base_file.to_str().unwrap()]),
    )
    .assert_ok();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good.as_bytes()[..good.len() - 20].to_vec(),
            "never closed",
        ),
        (
            "binary",
            b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec(),
            "not a text file",
        ),
        ("enormous", vec![b'#'; 300 * 1024], "larger than"),
        (
            "noinline",
            b"client\ndev tun\nremote x 443\n".to_vec(),
            "no <ca> block",
        ),
    ];
    for (name, bytes, needle) in cases {
        let file = dir.join(format!("{name}.ovpn"));
        std::fs::write(&file, bytes).unwrap();
        Run::from(
            user.postern()
                .args(["vpn", "import", file.to_str().unwrap()]),
        )
        .assert_fails(BAD_INPUT, needle);
    }
    Run::from(user.postern().args(["vpn", "import", "/nonexistent.ovpn"]))
        .assert_fails(BAD_INPUT, "could not be read");
    Run::from(
        user.postern()
            .args(["vpn", "import", base_file.to_str().unwrap()]),
    )
    .assert_fails(BAD_INPUT, "already exists");
    let list = Run::from(user.postern().args(["vpn", "list", "--json"])).json();
    assert_eq!(
        list["profiles"].as_array().unwrap().len(),
        1,
        "the first import is intact"
    );
}

/// The lab's IdP is plain http: it opens only under a policy with the lab's switch.
fn saml_user() -> User {
    User::with_policy(&format!(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n\
         [egress]\necho_urls = [\"{ECHO_URL}\"]\nallow_plain_http = true\nnat_addresses = [\"{ELASTIC_IP}/32\"]\n"
    ))
}

fn import_saml(user: &User, name: &str) {
    lab::import_saml_profile(user, name);
}

/// `postern vpn connect corp-saml` with the lab's browser answering the IdP.
fn saml_connect(user: &User, helper: &Helper, env: &[(&str, &str)]) -> Run {
    let mut c = user.postern();
    c.env("POSTERN_HELPER_SOCKET", helper.socket())
        .env("BROWSER", lab::browser())
        .args(["vpn", "connect", "corp-saml"]);
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(&mut c)
}

#[test]
fn a_saml_profile_completes_the_crv1_round_trip() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let user = saml_user();
    import_saml(&user, "corp-saml");
    let run = saml_connect(&user, &helper, &[]);
    run.assert_ok();
    // The endpoint's CRV1 challenge carried the IdP address; the browser posted the assertion
    // to 127.0.0.1:35001; the retry with CRV1::state::assertion was accepted.
    assert!(
        run.stderr().contains("Open: http://192.0.2.80/idp?state="),
        "{}",
        run.stderr()
    );
    assert!(
        run.stdout().contains("VPN: connected 'corp-saml'"),
        "{}",
        run.stdout()
    );
    assert_eq!(lab::egress_address(), ELASTIC_IP);
    vpn(&user, &helper, &["disconnect"]).assert_ok();
}

#[test]
fn a_plain_http_sign_in_page_is_refused_without_the_policys_lab_switch() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    // No policy with `allow_plain_http`: the lab IdP's http:// address must not be opened.
    let user = user();
    import_saml(&user, "corp-saml");
    let run = saml_connect(&user, &helper, &[]);
    run.assert_fails(VPN_FAILED, "which Postern does not open");
    run.assert_fails(VPN_FAILED, "allow_plain_http");
    assert!(!run.stderr().contains("Open: "), "{}", run.stderr());
    // The waiting tunnel was taken down, and traffic leaves as before.
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !lab::tun_devices().is_empty() {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(lab::tun_devices().is_empty());
    assert_eq!(lab::egress_address(), LAPTOP_IP);
}

#[test]
fn a_real_sized_assertion_with_stock_openvpn_fails_saying_exactly_that() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let user = saml_user();
    import_saml(&user, "corp-saml");
    let run = saml_connect(&user, &helper, &[("LAB_SAML_BIG", "1")]);
    run.assert_fails(VPN_FAILED, "the installed OpenVPN can pass at most 256");
    run.assert_fails(VPN_FAILED, "Install the AWS VPN Client");
    assert!(lab::tun_devices().is_empty());
}

#[test]
fn a_restarted_helper_ends_the_tunnel_a_crashed_one_left_behind() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let text = lab::profile_text("alice.lab.test");
    let state = runtime().block_on(lab::connect_tunnel(&helper.socket(), &text));
    assert!(state.is_connected(), "{state:?}");
    let pid_file = helper.dir.path().join("state/openvpn.pid");
    let openvpn: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let dir = helper.crash();
    assert!(
        Path::new(&format!("/proc/{openvpn}")).exists(),
        "OpenVPN outlived the crashed helper"
    );
    assert!(!lab::tun_devices().is_empty());

    let _second = Helper::start_in(dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline
        && (Path::new(&format!("/proc/{openvpn}")).exists() || !lab::tun_devices().is_empty())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !Path::new(&format!("/proc/{openvpn}")).exists(),
        "the stale OpenVPN was ended"
    );
    assert!(lab::tun_devices().is_empty(), "its tun device is gone");
    assert_eq!(lab::egress_address(), LAPTOP_IP);
}

/// What the laptop's systemd-resolved answers for `name` (its own API, no cache), or None.
fn resolve(name: &str) -> Option<String> {
    let out = std::process::Command::new(lab::script())
        .args(["resolvectl", "query", "--cache=no", "--legend=no", name])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.split_whitespace().nth(1).unwrap_or("").to_string())
}

/// What a program's own libc lookup gets, on a laptop whose /etc/resolv.conf points at
/// systemd-resolved's stub (127.0.0.53), as on a distribution that runs it.
fn getent(name: &str) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", "pl-laptop", "unshare", "-m", "sh", "-c"])
        .arg(
            "echo 'nameserver 127.0.0.53' > /tmp/stub-resolv.conf && \
             mount --bind /tmp/stub-resolv.conf /etc/resolv.conf && \
             getent ahostsv4 \"$0\"",
        )
        .arg(name)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.split_whitespace().next().unwrap_or("").to_string())
}

/// Every DNS server systemd-resolved knows of, on any link.
fn resolver_servers() -> String {
    lab::lab(&["resolvectl", "dns"])
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_vpns_dns_resolves_the_vpc_only_while_connected_and_leaves_nothing_behind() {
    let _turn = lab::take_turn();
    let helper = Helper::start(&[]);
    let db = "db.corp.internal";
    // Before: the VPC's names do not resolve; the internet's do.
    assert_eq!(resolve(db), None);
    assert_eq!(resolve("anything.lab.test").as_deref(), Some("192.0.2.80"));

    let text = lab::profile_text("alice.lab.test");
    let state = runtime().block_on(lab::connect_tunnel(&helper.socket(), &text));
    let TunnelState::Connected { dns, .. } = &state else {
        panic!("{state:?}")
    };
    assert_eq!(
        *dns,
        postern_core::vpn::dns::DnsState::Applied {
            servers: vec!["10.0.0.2".parse().unwrap()],
            domains: vec!["corp.internal".into()],
            via: "systemd-resolved".into(),
        }
    );
    // While connected: the VPC's name through the VPN's server, by its API and by libc through
    // the stub; the search domain completes a short name; other names resolve as before.
    assert_eq!(resolve(db).as_deref(), Some("10.0.5.5"));
    assert_eq!(getent(db).as_deref(), Some("10.0.5.5"));
    assert_eq!(resolve("db").as_deref(), Some("10.0.5.5"));
    assert_eq!(resolve("anything.lab.test").as_deref(), Some("192.0.2.80"));

    // Disconnect: reverted, nothing left on any link.
    runtime().block_on(async {
        let mut control = HelperClient::connect(&helper.socket(), "test")
            .await
            .unwrap();
        control.disconnect().await.unwrap();
    });
    assert_eq!(resolve(db), None);
    assert!(
        !resolver_servers().contains("10.0.0.2"),
        "{}",
        resolver_servers()
    );
    assert_eq!(resolve("anything.lab.test").as_deref(), Some("192.0.2.80"));

    // Connected again, then OpenVPN killed outright: the settings end with its interface.
    let state = runtime().block_on(lab::connect_tunnel(&helper.socket(), &text));
    assert!(state.is_connected(), "{state:?}");
    assert_eq!(resolve(db).as_deref(), Some("10.0.5.5"));
    let pid = std::fs::read_to_string(helper.dir.path().join("state/openvpn.pid")).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_until("the tunnel's interface to go", || {
        lab::tun_devices().is_empty()
    });
    wait_until("the VPN's DNS to go", || {
        !resolver_servers().contains("10.0.0.2")
    });
    assert_eq!(resolve(db), None);
    assert_eq!(getent(db), None);
    assert_eq!(resolve("anything.lab.test").as_deref(), Some("192.0.2.80"));
}
