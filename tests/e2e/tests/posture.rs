//! `postern posture` on this machine, for real: a running "EDR agent" passes, a missing one
//! fails with its remediation.

use std::process::{Child, Command};

use postern_e2e::{Run, User};

const NON_COMPLIANT: i32 = 11;
const NOT_CONFIGURED: i32 = 8;

/// A process named like an EDR agent: `sleep` started through a symlink of that name (a link,
/// not a copy: writing an executable while other tests fork races into "text file busy").
struct FakeAgent {
    process: Child,
    _dir: tempfile::TempDir,
}

impl FakeAgent {
    fn start(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(name);
        std::os::unix::fs::symlink("/bin/sleep", &exe).unwrap();
        let process = Command::new(&exe).arg("60").spawn().unwrap();
        Self { process, _dir: dir }
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn policy(posture: &str) -> User {
    User::with_policy(&format!(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n\n[posture]\n{posture}"
    ))
}

#[test]
fn a_running_agent_passes_and_a_missing_one_fails_with_its_fix() {
    let _agent = FakeAgent::start("falcon-sensor");
    let user = policy(
        "[posture.linux]\nmin_kernel = \"3.0\"\nrequired_processes = [\"falcon-sensor\", \"s1-agent\"]\n",
    );
    let run = Run::from(user.postern().args(["posture", "--json"]));
    assert_eq!(
        run.code(),
        NON_COMPLIANT,
        "{}\n{}",
        run.stdout(),
        run.stderr()
    );
    let j = run.json();
    assert_eq!(j["schema"], "postern.posture.v1");
    assert_eq!(j["status"], "non-compliant");
    assert_eq!(
        j["failing"],
        serde_json::json!(["required_process:s1-agent"])
    );
    let checks = j["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "os_version");
    assert_eq!(checks[0]["result"], "pass");
    assert_eq!(checks[1]["subject"], "falcon-sensor");
    assert_eq!(checks[1]["result"], "pass");
    assert_eq!(checks[2]["subject"], "s1-agent");
    assert_eq!(checks[2]["result"], "fail");
    assert!(
        checks[2]["remediation"]
            .as_str()
            .unwrap()
            .contains("Start s1-agent")
    );

    let text = Run::from(user.postern().arg("posture"));
    assert_eq!(text.code(), NON_COMPLIANT);
    assert!(
        text.stdout()
            .contains("FAIL     required_process s1-agent: s1-agent is not running"),
        "{}",
        text.stdout()
    );
    assert!(
        text.stdout()
            .contains("pass     required_process falcon-sensor"),
        "{}",
        text.stdout()
    );
    assert!(
        text.stderr().contains("Start s1-agent"),
        "{}",
        text.stderr()
    );
}

#[test]
fn a_compliant_device_exits_zero_and_unknowns_only_block_when_asked() {
    let _agent = FakeAgent::start("falcon-sensor");
    let user = policy(
        "[posture.linux]\nrequired_processes = [\"falcon-sensor\"]\nforbidden_processes = [\"definitely-not-running\"]\n",
    );
    Run::from(user.postern().arg("posture")).assert_ok();
    // With no OS tools on PATH the kernel version cannot be read: unknown, which blocks only
    // when the policy says so.
    let lenient = policy("[posture.linux]\nmin_kernel = \"3.0\"\n");
    let run = Run::from(
        lenient
            .postern()
            .env("PATH", "/nonexistent")
            .args(["posture", "--json"]),
    );
    run.assert_ok();
    assert_eq!(run.json()["checks"][0]["result"], "unknown");
    assert_eq!(run.json()["checks"][0]["reason"]["why"], "detection-failed");
    let strict =
        policy("[posture.linux]\nmin_kernel = \"3.0\"\nunknown_blocks = [\"os_version\"]\n");
    let run = Run::from(
        strict
            .postern()
            .env("PATH", "/nonexistent")
            .args(["posture", "--json"]),
    );
    assert_eq!(run.code(), 12, "{}", run.stdout());
    assert_eq!(run.json()["status"], "unknown");
    assert_eq!(run.json()["unknown"], serde_json::json!(["os_version"]));
}

#[test]
fn a_policy_without_posture_says_so() {
    let user = User::with_policy(
        "[identity_center]\nstart_url = \"https://lab.awsapps.com/start\"\nregion = \"eu-west-1\"\n",
    );
    Run::from(user.postern().arg("posture"))
        .assert_fails(NOT_CONFIGURED, "has no [posture] section");
}
