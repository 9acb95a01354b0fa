//! `postern diagnostics`, end to end: the real CLI collects from real sources (files, the
//! session's gnome-keyring, sockets), writes the zip, and the standard `unzip` tool opens it.

use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;

use postern_core::diagnostics::unpack_with_unzip;
use postern_e2e::{Run, User};

/// A profile whose private key and tls-crypt block are canaries.
const PROFILE: &str = "client\ndev tun\nproto udp\nremote vpn.example.com 443\n\
<ca>\n-----BEGIN CERTIFICATE-----\nMIIBCERT\n-----END CERTIFICATE-----\n</ca>\n\
<cert>\n-----BEGIN CERTIFICATE-----\nMIIBCLIENTAA\n-----END CERTIFICATE-----\n</cert>\n\
<key>\n-----BEGIN PRIVATE KEY-----\nPROFILEKEYCANARY\n-----END PRIVATE KEY-----\n</key>\n\
<tls-crypt>\n-----BEGIN OpenVPN Static key V1-----\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n7e57c0de7e57c0de7e57c0de7e57c0de\n-----END OpenVPN Static key V1-----\n</tls-crypt>\n";

/// (kind, canary, line) for every redaction rule, tagged by the source it is planted in.
fn canaries(tag: &str) -> Vec<(&'static str, String, String)> {
    let up = tag.to_uppercase();
    vec![
        (
            "private-key",
            format!("PEM{up}CANARY"),
            format!(
                "-----BEGIN RSA PRIVATE KEY-----\nPEM{up}CANARY\n-----END RSA PRIVATE KEY-----"
            ),
        ),
        (
            "private-key",
            format!("OVPN{up}CANARY"),
            format!("<key>\nOVPN{up}CANARY\n</key>"),
        ),
        (
            "saml-response",
            format!("SAML{up}CANARY"),
            format!("POST SAMLResponse=SAML{up}CANARY&RelayState=x"),
        ),
        (
            "jwt",
            format!("JWT{up}CANARY"),
            format!("id eyJhbGciOiJSUzI1NiJ9.eyJJWT{up}CANARY.c2ln"),
        ),
        (
            "bearer-token",
            format!("BEARER{up}CANARY"),
            format!("Authorization: Bearer BEARER{up}CANARY"),
        ),
        (
            "oauth-token",
            format!("ACCESS{up}CANARY"),
            format!("{{\"accessToken\":\"ACCESS{up}CANARY\"}}"),
        ),
        (
            "oauth-token",
            format!("DEVICE{up}CANARY"),
            format!("device_code=DEVICE{up}CANARY"),
        ),
        (
            "aws-access-key-id",
            format!("ASIA{up}CANARY"),
            format!("key ASIA{up}CANARY{}", "Q".repeat(10 - up.len())),
        ),
        (
            "aws-secret-key",
            format!("SECRET{up}CANARY"),
            format!("aws_secret_access_key=SECRET{up}CANARYwJalrXUtnFEMIK7MDENG"),
        ),
        (
            "aws-session-token",
            format!("SESSION{up}CANARY"),
            format!("aws_session_token=SESSION{up}CANARYIQoJb3JpZ2lu"),
        ),
        (
            "email",
            format!("mail.{tag}.canary@corp.example"),
            format!("for mail.{tag}.canary@corp.example"),
        ),
        (
            "home-path",
            format!("home{tag}canary"),
            format!("open /home/home{tag}canary/.aws/config"),
        ),
        (
            "user-name",
            "namecanary".into(),
            "signed in as namecanary".into(),
        ),
    ]
}

fn plant(tag: &str) -> String {
    canaries(tag)
        .into_iter()
        .map(|(_, _, l)| l)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn log_dir(user: &User) -> PathBuf {
    user.home.path().join(".local/state/postern/logs")
}

#[test]
fn every_planted_secret_is_removed_and_counted_and_missing_sources_are_named() {
    let tags = ["log", "rotated", "policy"];
    let user = User::with_policy(&format!(
        "# pasted by mistake:\n# {}\n[identity_center]\nstart_url = \"https://diagnostics-canary.awsapps.com/start\"\nregion = \"eu-west-1\"\n",
        plant("policy").trim_end().replace('\n', "\n# ")
    ));
    let profile = user.home.path().join("corp.ovpn");
    std::fs::write(&profile, PROFILE).unwrap();
    Run::from(user.postern().args(["vpn", "import"]).arg(&profile)).assert_ok();
    std::fs::remove_file(&profile).unwrap();
    let logs = log_dir(&user);
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("agent.log"), plant("log")).unwrap();
    std::fs::write(logs.join("agent.log.1"), plant("rotated")).unwrap();
    // A helper that accepts and never answers.
    let silent = user.home.path().join("helper.sock");
    let _listener = UnixListener::bind(&silent).unwrap();

    let bundle = user.home.path().join("bundle.zip");
    let run = Run::from(
        user.postern()
            .env("USER", "namecanary")
            .env("POSTERN_HELPER_SOCKET", &silent)
            .env(
                "POSTERN_AGENT_SOCKET",
                user.home.path().join("no-agent.sock"),
            )
            .args(["diagnostics", "export", "--json", "-o"])
            .arg(&bundle),
    );
    run.assert_ok();
    let out = run.json();
    assert_eq!(out["schema"], "postern.diagnostics.v1");
    assert!(!user.home.path().join("bundle.zip.partial").exists());

    let files = unpack_with_unzip(&bundle, &user.home.path().join("unzipped"));
    for part in [
        "manifest.json",
        "policy.toml",
        "logs/agent.log",
        "logs/agent.log.1",
        "vpn/profiles.json",
        "keychain.json",
        "network.txt",
    ] {
        assert!(
            files.contains_key(part),
            "{part} missing from {:?}",
            files.keys()
        );
    }
    for (name, text) in &files {
        let lower = text.to_lowercase();
        for tag in tags {
            for (kind, canary, _) in canaries(tag) {
                assert!(
                    !lower.contains(&canary.to_lowercase()),
                    "{kind} canary {canary} survived in {name}"
                );
            }
        }
        for key in ["PROFILEKEYCANARY", "7e57c0de7e57c0de"] {
            assert!(!text.contains(key), "profile key material in {name}");
        }
    }
    assert!(files["vpn/profiles.json"].contains("vpn.example.com"));
    // Which items exist, never their values.
    assert!(
        files["keychain.json"].contains("\"vpn-key:corp\": \"present\""),
        "{}",
        files["keychain.json"]
    );
    assert!(
        files["keychain.json"]
            .contains("\"sso-token:https://diagnostics-canary.awsapps.com/start\": \"absent\"")
    );

    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let mut planted: BTreeMap<String, u64> = BTreeMap::new();
    for tag in tags {
        for (kind, _, _) in canaries(tag) {
            *planted.entry(kind.to_string()).or_default() += 1;
        }
    }
    let counted: BTreeMap<String, u64> =
        serde_json::from_value(manifest["redactions"].clone()).unwrap();
    assert_eq!(
        counted, planted,
        "the manifest counts exactly what was planted"
    );
    let missing: BTreeMap<String, String> = manifest["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        missing["session.json"].contains("agent is not running"),
        "{missing:?}"
    );
    assert!(
        missing["vpn/openvpn.log"].contains("did not answer within"),
        "{missing:?}"
    );
    assert!(
        missing["posture.json"].contains("no [posture] section"),
        "{missing:?}"
    );
    assert_eq!(
        manifest["protocols"],
        serde_json::Value::Null,
        "protocols live under origin"
    );
    assert_eq!(manifest["origin"]["protocols"]["helper"], 1);
    assert!(manifest["policySha256"].as_str().unwrap().len() == 64);
}

#[test]
fn preview_lists_files_and_sizes_and_writes_nothing() {
    let user = User::with_policy(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n",
    );
    let logs = log_dir(&user);
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("agent.log"), "hello\n").unwrap();
    let before = user.files();
    let run = Run::from(
        user.postern()
            .current_dir(user.home.path())
            .env("POSTERN_HELPER_SOCKET", user.home.path().join("none.sock"))
            .env("POSTERN_AGENT_SOCKET", user.home.path().join("none.sock"))
            .args(["diagnostics", "preview"]),
    );
    run.assert_ok();
    let out = run.stdout();
    assert!(
        out.contains("manifest.json") && out.contains("logs/agent.log"),
        "{out}"
    );
    assert!(out.contains("missing  session.json"), "{out}");
    let mut after = user.files();
    after.retain(|f| !f.ends_with("redaction-salt"));
    assert_eq!(after, before, "preview wrote nothing");
}

#[test]
fn a_full_disk_or_unwritable_place_fails_clearly_and_leaves_no_partial_file() {
    let user = User::with_policy(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n",
    );
    // An incompressible log larger than the small disk below.
    let logs = log_dir(&user);
    std::fs::create_dir_all(&logs).unwrap();
    let noise: String = (0..40_000u64)
        .map(|i| format!("{:016x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    std::fs::write(logs.join("agent.log"), noise).unwrap();
    let small = user.home.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mut inner = user.postern();
    inner
        .env("POSTERN_HELPER_SOCKET", user.home.path().join("none.sock"))
        .env("POSTERN_AGENT_SOCKET", user.home.path().join("none.sock"))
        .args(["diagnostics", "export", "-o"])
        .arg(small.join("bundle.zip"));
    // A 64 KiB tmpfs in a private mount namespace: a real ENOSPC, seen by nobody else.
    let mut full = Command::new("unshare");
    full.args([
        "--mount",
        "sh",
        "-c",
        "mount -t tmpfs -o size=64k tmpfs \"$0\" && exec \"$@\"",
    ])
    .arg(&small)
    .arg(inner.get_program())
    .args(inner.get_args());
    postern_e2e::copy_env(&inner, &mut full);
    let run = Run::from(&mut full);
    run.assert_fails(18, "is full: the bundle was not written");
    run.assert_fails(18, "Free some space");
    assert!(
        std::fs::read_dir(&small).unwrap().next().is_none(),
        "nothing left behind"
    );

    let nowhere = Run::from(
        user.postern()
            .env("POSTERN_HELPER_SOCKET", user.home.path().join("none.sock"))
            .env("POSTERN_AGENT_SOCKET", user.home.path().join("none.sock"))
            .args(["diagnostics", "export", "-o", "/proc/postern-bundle.zip"]),
    );
    nowhere.assert_fails(18, "cannot be written to /proc/postern-bundle.zip");
    nowhere.assert_fails(18, "Choose a folder you can write to");
}
