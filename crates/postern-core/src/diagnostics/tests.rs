use std::collections::BTreeMap;

use super::*;
use crate::identity::MemoryStore;

/// One fake secret of every kind, distinct, as each would appear in the wild.
fn canaries(tag: &str) -> Vec<(RedactionKind, String, String)> {
    use RedactionKind as K;
    let upper = tag.to_uppercase();
    vec![
        (
            K::PrivateKey,
            format!("PEMCANARY{tag}"),
            format!("-----BEGIN PRIVATE KEY-----\nPEMCANARY{tag}\n-----END PRIVATE KEY-----"),
        ),
        (
            K::PrivateKey,
            format!("OVPNKEYCANARY{tag}"),
            format!("<tls-crypt>\nOVPNKEYCANARY{tag}\n</tls-crypt>"),
        ),
        (
            K::SamlResponse,
            format!("SAMLCANARY{tag}"),
            format!("SAMLResponse=SAMLCANARY{tag}"),
        ),
        (
            K::Jwt,
            format!("JWTCANARY{tag}"),
            format!("eyJhbGciOiJIUzI1NiJ9.eyJJWTCANARY{tag}.sig"),
        ),
        (
            K::BearerToken,
            format!("BEARERCANARY{tag}"),
            format!("Authorization: Bearer BEARERCANARY{tag}"),
        ),
        (
            K::OauthToken,
            format!("REFRESHCANARY{tag}"),
            format!("\"refreshToken\": \"REFRESHCANARY{tag}\""),
        ),
        (
            K::OauthToken,
            format!("DEVICECANARY{tag}"),
            format!("device_code=DEVICECANARY{tag}"),
        ),
        (
            K::AwsAccessKeyId,
            format!("ASIACANARY{upper}"),
            format!("key ASIACANARY{upper}{}", "X".repeat(16 - 6 - upper.len())),
        ),
        (
            K::AwsSecretKey,
            format!("SECRETCANARY{tag}"),
            format!("aws_secret_access_key = SECRETCANARY{tag}wJalrXUtnFEMIK7MDENG"),
        ),
        (
            K::AwsSessionToken,
            format!("SESSIONCANARY{tag}"),
            format!("\"SessionToken\": \"SESSIONCANARY{tag}FwoGZXIvYXdz\""),
        ),
        (
            K::Email,
            format!("mail.canary.{tag}@example.com"),
            format!("user mail.canary.{tag}@example.com"),
        ),
        (
            K::HomePath,
            format!("homecanary{tag}"),
            format!("/home/homecanary{tag}/.config"),
        ),
        (
            K::UserName,
            format!("namecanary{tag}"),
            format!("signed in as namecanary{tag} today"),
        ),
    ]
}

fn planted(tag: &str) -> String {
    canaries(tag)
        .into_iter()
        .map(|(_, _, line)| line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_canary_survives_and_the_manifest_counts_what_was_planted() {
    let dir = tempfile::tempdir().unwrap();
    let sources = ["log", "rotated", "policy", "history", "helper"];
    // Logs, one of them rotated; a policy with a pasted secret in a comment.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("agent.log"), planted("log")).unwrap();
    std::fs::write(logs.join("agent.log.1"), planted("rotated")).unwrap();
    let policy = dir.path().join("policy.toml");
    let policy_text = format!(
        "# {}\n[identity_center]\n",
        planted("policy").replace('\n', "\n# ")
    );
    std::fs::write(&policy, &policy_text).unwrap();
    // The keychain holds real-looking values: only presence may show.
    let store = MemoryStore::default();
    store
        .set(
            "sso-token:https://example.awsapps.com/start",
            "KEYCHAINVALUECANARY",
        )
        .unwrap();

    let redactor = Redactor::new(
        b"salt".to_vec(),
        sources.iter().map(|s| format!("namecanary{s}")),
    );
    let mut builder = BundleBuilder::new(redactor);
    builder.add_policy(Some(&policy));
    builder.add_logs(&logs);
    builder.add_json(
        "session.json",
        &serde_json::json!({"history": [{"cause": planted("history")}]}),
    );
    builder.add_text("vpn/openvpn.log", &planted("helper"));
    builder.add_keychain_inventory(
        &store,
        &[
            "sso-token:https://example.awsapps.com/start".to_string(),
            "vpn-key:corp".to_string(),
        ],
    );
    builder.add_missing("vpn/state.json", "the VPN helper did not answer");
    let bundle = builder.finish(Origin {
        program: "test".into(),
        app_version: "0.0.0".into(),
        protocols: BTreeMap::from([("helper".into(), 1)]),
    });
    let zip = dir.path().join("bundle.zip");
    bundle.write(&zip).unwrap();
    assert!(!dir.path().join("bundle.zip.partial").exists());

    let files = unpack_with_unzip(&zip, &dir.path().join("out"));
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "keychain.json",
            "logs/agent.log",
            "logs/agent.log.1",
            "manifest.json",
            "policy.toml",
            "session.json",
            "vpn/openvpn.log"
        ]
    );
    for (name, text) in &files {
        for source in sources {
            for (kind, canary, _) in canaries(source) {
                assert!(
                    !text.to_lowercase().contains(&canary.to_lowercase()),
                    "{kind:?} canary {canary} survived in {name}:\n{text}"
                );
            }
        }
        assert!(!text.contains("KEYCHAINVALUECANARY"));
    }
    let keychain = &files["keychain.json"];
    assert!(keychain.contains("\"sso-token:https://example.awsapps.com/start\": \"present\""));
    assert!(keychain.contains("\"vpn-key:corp\": \"absent\""));

    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, _, _) in canaries("x") {
        *expected.entry(kind.as_str().to_string()).or_default() += sources.len() as u64;
    }
    let counted: BTreeMap<String, u64> =
        serde_json::from_value(manifest["redactions"].clone()).unwrap();
    assert_eq!(counted, expected);
    assert_eq!(manifest["format"], "postern.diagnostics.v1");
    assert_eq!(
        manifest["policySha256"],
        hex::encode(Sha256::digest(policy_text.as_bytes()))
    );
    assert_eq!(manifest["missing"][0]["name"], "vpn/state.json");
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed.len(),
        files.len() - 1,
        "every file but the manifest is listed"
    );
}

#[test]
fn a_huge_non_utf8_log_keeps_its_newest_part() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.log");
    let mut bytes = Vec::new();
    for i in 0..200_000 {
        bytes.extend_from_slice(format!("line {i:06} ").as_bytes());
        bytes.extend_from_slice(b"\xff\xfe ok\n");
    }
    std::fs::write(&log, &bytes).unwrap();
    let mut builder = BundleBuilder::new(Redactor::new(b"s".to_vec(), []));
    builder.add_file("logs/agent.log", &log);
    let bundle = builder.finish(Origin {
        program: "test".into(),
        app_version: "0".into(),
        protocols: BTreeMap::new(),
    });
    let entry = &bundle.manifest().files[0];
    assert!(
        entry.bytes as usize <= MAX_PART_BYTES + 200,
        "{}",
        entry.bytes
    );
    let text = String::from_utf8(bundle.parts[0].bytes.clone()).unwrap();
    assert!(text.starts_with("[the first "));
    assert!(text.trim_end().ends_with("line 199999 \u{fffd}\u{fffd} ok"));
    // The cut is at a line boundary.
    assert!(text.lines().nth(1).unwrap().starts_with("line "));
}

#[test]
fn an_existing_file_is_never_replaced_and_an_unwritable_place_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = BundleBuilder::new(Redactor::new(b"s".to_vec(), [])).finish(Origin {
        program: "test".into(),
        app_version: "0".into(),
        protocols: BTreeMap::new(),
    });
    let existing = dir.path().join("old.zip");
    std::fs::write(&existing, "keep me").unwrap();
    let err = bundle.write(&existing).unwrap_err();
    assert!(matches!(err, ExportError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");

    let missing_dir = dir.path().join("no/such/dir/b.zip");
    let err = bundle.write(&missing_dir).unwrap_err();
    assert!(matches!(err, ExportError::Unwritable { .. }), "{err}");
    assert_eq!(err.exit_code(), ExitCode::ExportFailed);
    assert!(err.to_string().contains("no/such/dir/b.zip"));
}

#[test]
fn bundle_names_sort_by_time() {
    let at = time::macros::datetime!(2026-11-22 06:05:09 UTC);
    assert_eq!(
        default_bundle_name(at),
        "postern-diagnostics-20261122-060509.zip"
    );
}
