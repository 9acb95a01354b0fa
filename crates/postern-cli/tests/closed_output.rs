//! The real `postern` binary, writing into a pipe whose reader is already gone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]

use std::io::Read;
use std::process::{Command, Stdio};

const POLICY: &str = r#"
[identity_center]
start_url = "https://my-org.awsapps.com/start"
region    = "eu-west-1"

[egress]
nat_addresses = ["203.0.113.10/32"]
"#;

/// Runs postern with stdout a pipe closed before it starts; returns (exit code, stderr).
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("postern-closed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code(), stderr)
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    for args in [
        &["policy", "render", "--kind", "rcp"][..],
        &["policy", "render", "--kind", "iam"][..],
        &["policy", "validate", "--json", "POLICY"][..],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "POLICY" {
                    std::env::temp_dir()
                        .join(format!("postern-closed-{}", std::process::id()))
                        .join("policy.toml")
                        .display()
                        .to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = with_closed_stdout(&args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
    }
}
