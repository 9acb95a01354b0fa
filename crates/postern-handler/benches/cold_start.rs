//! `cargo bench -p postern-handler --bench cold_start`: the Lambda binary's size, and its cold
//! start (process start to its first answer on a Lambda Runtime API stand-in on loopback)
//! against a Python handler with the seed's logic (`seed_handler.py`), in the same run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[path = "../tests/support/runtime_stand_in.rs"]
mod runtime_stand_in;
use runtime_stand_in::first_answer;

const RUNS: usize = 15;
/// The published mutual-TLS capture (nulls, no endpoint id): what a certificate endpoint sends.
const EVENT: &str = include_str!("../fixtures/mutual-tls-capture-nulls-no-endpoint-id.json");

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[identity_center]\nstart_url = \"https://x.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n[handler]\nblocked_common_names = [\"stolen.example.com\"]\ndeny_message = \"This device is blocked.\"\n",
    )
    .unwrap();
    let ours = Path::new(env!("CARGO_BIN_EXE_postern-handler"));
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/seed_handler.py");
    let (mut rust, mut python) = (Vec::new(), Vec::new());
    // Alternated, so both see the same machine.
    for _ in 0..RUNS {
        let mut c = Command::new(ours);
        c.arg("lambda").env("POSTERN_POLICY", &policy);
        let (t, body) = first_answer(c, EVENT);
        assert!(body.contains("\"allow\":true"), "{body}");
        rust.push(t);
        let mut c = Command::new("python3");
        c.arg(&seed).env("POSTERN_POLICY", &policy);
        let (t, body) = first_answer(c, EVENT);
        assert!(body.contains("\"allow\": true"), "{body}");
        python.push(t);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (rust, python) = (median(rust), median(python));
    let size = std::fs::metadata(ours).map(|m| m.len()).unwrap_or(0);
    println!("handler cold start, median of {RUNS} (process start to first answer):");
    println!(
        "  postern-handler lambda: {:.1} ms; Python seed handler: {:.1} ms; ratio {:.2}x",
        ms(rust),
        ms(python),
        ms(rust) / ms(python)
    );
    println!(
        "  postern-handler binary (this build's profile): {:.1} MiB; the Python handler is {} bytes of source on the runtime's interpreter",
        size as f64 / (1024.0 * 1024.0),
        std::fs::metadata(&seed).map(|m| m.len()).unwrap_or(0)
    );
}
