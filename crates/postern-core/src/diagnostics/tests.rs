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
            K::AwsSecretKey,
            format!("GLUEDCANARY{tag}"),
            format!("x_{}", secret_shaped(&format!("GLUEDCANARY{tag}"))),
        ),
        (
            K::AwsSecretKey,
            format!("ESCCANARY{tag}"),
            format!(
                "leaked {}",
                secret_shaped(&format!("ESCCANARY{tag}/")).replace('/', r"\/")
            ),
        ),
        (
            K::UrlCredentials,
            format!("URLPWCANARY{tag}"),
            format!("proxy http://svc:URLPWCANARY{tag}@10.0.0.5:3128/"),
        ),
        (
            K::NamedSecret,
            format!("PWCANARY{tag}"),
            format!("DB_PASSWORD=PWCANARY{tag}"),
        ),
        (
            K::BasicAuth,
            format!("BASICCANARY{tag}"),
            format!("Authorization: Basic BASICCANARY{tag}"),
        ),
        (
            K::ServiceToken,
            format!("GHPCANARY{tag}"),
            format!("token ghp_GHPCANARY{tag}{}", "a1".repeat(12)),
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

/// `start`, filled up to the 40 mixed-case characters of an AWS secret access key.
fn secret_shaped(start: &str) -> String {
    let key: String = format!("{start}wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY12")
        .chars()
        .take(40)
        .collect();
    assert_eq!(key.len(), 40);
    key
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

#[tokio::test]
async fn profile_names_remotes_and_the_resolver_file_are_redacted() {
    use crate::vpn::{AuthMode, ProfileSummary};
    let dir = tempfile::tempdir().unwrap();
    let name = format!("corp_{}", secret_shaped("PROFILECANARY"));
    let profiles = [
        ProfileSummary {
            name: name.clone(),
            auth: AuthMode::Certificate,
            remotes: vec![
                format!("ghp_REMOTECANARY{}.vpn.example.com:443", "b2".repeat(12)),
                "cvpn-endpoint-0123.prod.clientvpn.eu-west-1.amazonaws.com:443".into(),
            ],
        },
        ProfileSummary {
            name: "plain".into(),
            auth: AuthMode::Federated,
            remotes: vec!["vpn.example.com:443".into()],
        },
    ];
    let resolver = dir.path().join("resolv.conf");
    std::fs::write(
        &resolver,
        "# managed by IT; api_key=RESOLVERCANARY1\nnameserver 10.0.0.2\nsearch corp.example.com\noptions timeout:2\n",
    )
    .unwrap();
    let mut builder = BundleBuilder::new(Redactor::new(b"s".to_vec(), []));
    builder.add_profiles(Ok(&profiles));
    builder.add_keychain_inventory(&MemoryStore::default(), &[format!("vpn-key:{name}")]);
    builder.add_network_summary_with(Some(&resolver)).await;
    let bundle = builder.finish(Origin {
        program: "test".into(),
        app_version: "0".into(),
        protocols: BTreeMap::new(),
    });
    let zip = dir.path().join("bundle.zip");
    bundle.write(&zip).unwrap();
    let files = unpack_with_unzip(&zip, &dir.path().join("out"));
    for (file, text) in &files {
        for canary in ["PROFILECANARY", "REMOTECANARY", "RESOLVERCANARY1"] {
            assert!(
                !text.contains(canary),
                "{canary} survived in {file}:\n{text}"
            );
        }
    }
    let profiles = &files["vpn/profiles.json"];
    assert!(
        profiles.contains("\"corp_<redacted:aws-secret-key>\""),
        "{profiles}"
    );
    assert!(profiles.contains("<redacted:service-token>.vpn.example.com:443"));
    assert!(profiles.contains("cvpn-endpoint-0123.prod.clientvpn.eu-west-1.amazonaws.com:443"));
    assert!(profiles.contains("\"plain\"") && profiles.contains("vpn.example.com:443"));
    assert!(files["keychain.json"].contains("vpn-key:corp_<redacted:aws-secret-key>"));
    let network = &files["network.txt"];
    assert!(
        network.contains("api_key=<redacted:named-secret>"),
        "{network}"
    );
    assert!(network.contains("nameserver 10.0.0.2\nsearch corp.example.com\noptions timeout:2"));
    let manifest: serde_json::Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["redactions"]["aws-secret-key"], 2, "{manifest}");
    assert_eq!(manifest["redactions"]["service-token"], 1, "{manifest}");
    assert_eq!(manifest["redactions"]["named-secret"], 1, "{manifest}");
}
