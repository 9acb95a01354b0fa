//! The Lambda door end to end: the release-shaped binary in `lambda` mode against a Runtime API
//! stand-in, answering the events AWS documents and captures, and failing closed without a
//! readable policy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]

use std::process::Command;

#[path = "support/runtime_stand_in.rs"]
mod runtime_stand_in;
use runtime_stand_in::first_answer;

fn policy(dir: &std::path::Path, handler: &str) -> std::path::PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!("[identity_center]\nstart_url = \"https://x.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n[handler]\n{handler}"),
    )
    .unwrap();
    path
}

fn answer(policy: &std::path::Path, event: &'static str) -> serde_json::Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_postern-handler"));
    c.arg("lambda").env("POSTERN_POLICY", policy);
    let (_, body) = first_answer(c, event);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn the_published_capture_and_the_docs_schema_are_answered_over_the_runtime_api() {
    let dir = tempfile::tempdir().unwrap();
    let allowing = policy(
        dir.path(),
        "blocked_common_names = [\"stolen.example.com\"]\n",
    );
    let capture = answer(
        &allowing,
        include_str!("../fixtures/mutual-tls-capture-nulls-no-endpoint-id.json"),
    );
    assert_eq!(capture["allow"], true, "{capture}");
    let docs = answer(
        &allowing,
        include_str!("../fixtures/aws-docs-request-schema-v1.json"),
    );
    assert_eq!(docs["allow"], true, "{docs}");
    assert_eq!(docs["schema-version"], "v1", "{docs}");

    let denying = policy(
        dir.path(),
        "blocked_common_names = [\"alice.lab.test\"]\ndeny_message = \"This device is blocked.\"\n",
    );
    let denied = answer(
        &denying,
        include_str!("../fixtures/aws-docs-request-schema-v1.json"),
    );
    assert_eq!(denied["allow"], false, "{denied}");
    assert_eq!(
        denied["error-msg-on-failed-posture-compliance"],
        "This device is blocked."
    );
}

#[test]
fn without_a_readable_policy_every_connection_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("policy.toml");
    std::fs::write(&broken, "[handler\n").unwrap();
    let out = answer(
        &broken,
        include_str!("../fixtures/aws-docs-request-schema-v1.json"),
    );
    assert_eq!(out["allow"], false, "{out}");
    assert!(
        out["posture-compliance-statuses"]
            .as_array()
            .unwrap()
            .contains(&"handler-error".into()),
        "{out}"
    );
}
