//! Device posture: is this device in the state the organization requires? Every check answers
//! Pass, Fail (with what to do) or Unknown (with why it could not tell); the policy decides per
//! check whether Unknown blocks. "Could not tell" is never silently a pass or a fail.
//!
//! OS tools are run by thin platform code behind one signature ([`platform::collect`]); all
//! parsing is in [`parse`], pure and tested on recorded outputs from every OS.

pub mod monitor;
pub mod parse;

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(target_os = "macos", path = "macos.rs")]
#[cfg_attr(windows, path = "windows.rs")]
#[cfg_attr(
    not(any(target_os = "linux", target_os = "macos", windows)),
    path = "other.rs"
)]
mod platform;

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

pub use postern_policy::posture::{CheckName, PostureSettings, Requirements};
pub use postern_policy::version::Version;
use postern_types::problem::{ExitCode, Problem};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case", content = "detail")]
pub enum UnknownReason {
    NotApplicable,
    NeedsElevation,
    DetectionFailed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    Pass { detail: String },
    Fail { detail: String, remediation: String },
    Unknown { reason: UnknownReason },
}

/// A reading from the device, before the policy judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading<T> {
    Value(T),
    Unknown(UnknownReason),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub check: CheckName,
    /// e.g. the process name for process checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Whether an Unknown here blocks access (from the policy).
    pub unknown_blocks: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "status",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Status {
    Compliant,
    NonCompliant {
        failing: Vec<String>,
    },
    /// Nothing failed, but a check that must be known could not be read.
    Unknown {
        unknown: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureReport {
    #[serde(flatten)]
    pub status: Status,
    pub checks: Vec<CheckResult>,
    #[serde(with = "time::serde::rfc3339")]
    pub taken_at: OffsetDateTime,
    pub elapsed_ms: u64,
}

impl PostureReport {
    /// The report of a check that could not run to its end (it panicked, or took too long):
    /// Unknown with the reason, which blocks the gate like any Unknown the policy cares about.
    pub fn could_not_check(reason: String) -> Self {
        PostureReport {
            status: Status::Unknown {
                unknown: vec![reason],
            },
            checks: Vec::new(),
            taken_at: OffsetDateTime::now_utc(),
            elapsed_ms: 0,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.status {
            Status::Compliant => ExitCode::Ok,
            Status::NonCompliant { .. } => ExitCode::NonCompliant,
            Status::Unknown { .. } => ExitCode::PostureUnknown,
        }
    }

    /// The Client VPN handler's words for it: `compliant` or `non-compliant` with the failing
    /// check names (at most 10, as the handler schema allows).
    pub fn handler_statuses(&self) -> Vec<String> {
        match &self.status {
            Status::Compliant => vec!["compliant".into()],
            Status::NonCompliant { failing } | Status::Unknown { unknown: failing } => {
                std::iter::once("non-compliant".to_string())
                    .chain(failing.iter().cloned())
                    .take(10)
                    .collect()
            }
        }
    }
}

/// What the device told the platform probes.
#[derive(Debug, Clone)]
pub struct Facts {
    pub os_version: Reading<(Version, String)>,
    pub disk_encrypted: Reading<bool>,
    pub firewall_on: Reading<bool>,
    pub running: Reading<Vec<String>>,
    pub screen_lock: Reading<bool>,
    pub secure_boot: Reading<bool>,
    pub system_integrity: Reading<bool>,
    pub managed: Reading<bool>,
}

/// Reads the device (runs OS tools; no admin rights needed for the checks that are asked).
pub fn collect(req: &Requirements) -> Facts {
    platform::collect(req)
}

/// Judges facts against requirements: pure.
pub fn evaluate(req: &Requirements, facts: &Facts, elapsed: Duration) -> PostureReport {
    let mut checks = Vec::new();
    let blocks = |c: CheckName| req.unknown_blocks.contains(&c);
    let mut push = |check: CheckName, subject: Option<String>, outcome: Outcome| {
        checks.push(CheckResult {
            check,
            subject,
            outcome,
            unknown_blocks: blocks(check),
        });
    };
    if let Some(min) = &req.min_os_version {
        let outcome = match &facts.os_version {
            Reading::Value((v, shown)) if v >= min => Outcome::Pass {
                detail: format!("{shown} (at least {min})"),
            },
            Reading::Value((_, shown)) => Outcome::Fail {
                detail: format!("{shown} is older than {min}"),
                remediation: platform::UPDATE_OS.into(),
            },
            Reading::Unknown(r) => Outcome::Unknown { reason: r.clone() },
        };
        push(CheckName::OsVersion, None, outcome);
    }
    let mut flag = |wanted: bool,
                    check: CheckName,
                    reading: &Reading<bool>,
                    on: &str,
                    off: &str,
                    fix: &str| {
        if !wanted {
            return;
        }
        let outcome = match reading {
            Reading::Value(true) => Outcome::Pass { detail: on.into() },
            Reading::Value(false) => Outcome::Fail {
                detail: off.into(),
                remediation: fix.into(),
            },
            Reading::Unknown(r) => Outcome::Unknown { reason: r.clone() },
        };
        push(check, None, outcome);
    };
    flag(
        req.require_disk_encryption,
        CheckName::DiskEncryption,
        &facts.disk_encrypted,
        "the system disk is encrypted",
        "the system disk is not encrypted",
        platform::ENCRYPT_DISK,
    );
    flag(
        req.require_firewall,
        CheckName::Firewall,
        &facts.firewall_on,
        "the firewall is on",
        "the firewall is off",
        platform::ENABLE_FIREWALL,
    );
    flag(
        req.require_screen_lock,
        CheckName::ScreenLock,
        &facts.screen_lock,
        "the screen locks with a password",
        "the screen does not lock with a password",
        platform::SCREEN_LOCK,
    );
    flag(
        req.require_secure_boot,
        CheckName::SecureBoot,
        &facts.secure_boot,
        "Secure Boot is on",
        "Secure Boot is off",
        platform::SECURE_BOOT,
    );
    flag(
        req.require_system_integrity,
        CheckName::SystemIntegrity,
        &facts.system_integrity,
        "system integrity protections are on",
        "system integrity protections are off",
        platform::SYSTEM_INTEGRITY,
    );
    flag(
        req.require_managed,
        CheckName::Managed,
        &facts.managed,
        "the device is managed by the organization",
        "the device is not enrolled in the organization's management",
        platform::ENROLL,
    );
    for name in &req.required_processes {
        let outcome = match &facts.running {
            Reading::Value(procs) if procs.iter().any(|p| p == name) => Outcome::Pass {
                detail: format!("{name} is running"),
            },
            Reading::Value(_) => Outcome::Fail {
                detail: format!("{name} is not running"),
                remediation: format!(
                    "Start {name} (your security agent), or reinstall it from the company software portal."
                ),
            },
            Reading::Unknown(r) => Outcome::Unknown { reason: r.clone() },
        };
        push(CheckName::RequiredProcess, Some(name.clone()), outcome);
    }
    for name in &req.forbidden_processes {
        let outcome = match &facts.running {
            Reading::Value(procs) if procs.iter().any(|p| p == name) => Outcome::Fail {
                detail: format!("{name} is running"),
                remediation: format!(
                    "Quit {name}; the company policy does not allow it while connected."
                ),
            },
            Reading::Value(_) => Outcome::Pass {
                detail: format!("{name} is not running"),
            },
            Reading::Unknown(r) => Outcome::Unknown { reason: r.clone() },
        };
        push(CheckName::ForbiddenProcess, Some(name.clone()), outcome);
    }
    let label = |c: &CheckResult| match &c.subject {
        Some(s) => format!("{}:{s}", c.check.key()),
        None => c.check.key().to_string(),
    };
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail { .. }))
        .map(label)
        .collect();
    let unknown: Vec<String> = checks
        .iter()
        .filter(|c| c.unknown_blocks && matches!(c.outcome, Outcome::Unknown { .. }))
        .map(label)
        .collect();
    let status = if !failing.is_empty() {
        Status::NonCompliant { failing }
    } else if !unknown.is_empty() {
        Status::Unknown { unknown }
    } else {
        Status::Compliant
    };
    PostureReport {
        status,
        checks,
        taken_at: OffsetDateTime::now_utc(),
        elapsed_ms: elapsed.as_millis() as u64,
    }
}

/// Collects and evaluates.
pub fn check(req: &Requirements) -> PostureReport {
    let started = std::time::Instant::now();
    let facts = collect(req);
    evaluate(req, &facts, started.elapsed())
}

/// A running session is torn down only when posture fails twice in a row: one flaky reading
/// (a tool that timed out once) must not cut an employee off.
#[derive(Debug, Default)]
pub struct Hysteresis {
    consecutive_failures: u32,
}

impl Hysteresis {
    pub const FAILURES_TO_ACT: u32 = 2;

    /// Feeds a report; true when the session must now be withdrawn.
    pub fn observe(&mut self, report: &PostureReport) -> bool {
        if matches!(report.status, Status::Compliant) {
            self.consecutive_failures = 0;
            false
        } else {
            self.consecutive_failures += 1;
            self.consecutive_failures >= Self::FAILURES_TO_ACT
        }
    }
}

/// The report as a problem for the doors that stop unless compliant.
impl std::fmt::Display for PostureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.status {
            Status::Compliant => write!(f, "This device meets the company's requirements."),
            Status::NonCompliant { failing } => write!(
                f,
                "This device does not meet the company's requirements ({}).",
                failing.join(", ")
            ),
            Status::Unknown { unknown } => write!(
                f,
                "Postern could not tell whether this device meets the company's requirements ({}).",
                unknown.join(", ")
            ),
        }
    }
}

impl std::error::Error for PostureReport {}

impl Problem for PostureReport {
    fn exit_code(&self) -> ExitCode {
        PostureReport::exit_code(self)
    }

    fn next_step(&self) -> String {
        let fixes: Vec<String> = self
            .checks
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Fail { remediation, .. } => Some(remediation.clone()),
                _ => None,
            })
            .collect();
        if fixes.is_empty() {
            "Run `postern posture` again; if it keeps saying unknown, export diagnostics for your helpdesk.".into()
        } else {
            fixes.join(" ")
        }
    }
}

/// How long an OS tool may take.
const TOOL_LIMIT: Duration = Duration::from_secs(5);

/// Runs an OS tool with a time limit; its stdout, or why it could not be read. Stdout and stderr
/// are drained while the tool runs (a tool that prints more than a pipe holds would otherwise
/// block on its write and never exit), and the wait is a blocking receive with a deadline.
pub(crate) fn run_tool(program: &str, args: &[&str]) -> Result<String, UnknownReason> {
    run_tool_within(program, args, TOOL_LIMIT)
}

pub(crate) fn run_tool_within(
    program: &str,
    args: &[&str],
    limit: Duration,
) -> Result<String, UnknownReason> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| UnknownReason::DetectionFailed(format!("{program}: {e}")))?;
    let (done, finished) = std::sync::mpsc::channel::<Vec<u8>>();
    if let Some(mut stdout) = child.stdout.take() {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stdout.read_to_end(&mut out);
            let _ = done.send(out);
        });
    }
    // Stderr is read and dropped: only its draining matters.
    if let Some(mut stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });
    }
    drop(done);
    // Stdout closes when the tool exits (or hands it to a child that outlives it).
    let out = match finished.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(UnknownReason::DetectionFailed(format!(
                "{program} did not answer within {} s",
                limit.as_secs()
            )));
        }
    };
    let _ = child.wait();
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Turns a tool run and a parser into a reading.
pub(crate) fn read_with<T>(
    program: &str,
    args: &[&str],
    parse: impl Fn(&str) -> Reading<T>,
) -> Reading<T> {
    match run_tool(program, args) {
        Ok(out) => parse(&out),
        Err(reason) => Reading::Unknown(reason),
    }
}

/// Names of running processes (and their executables' file names, which are not truncated).
pub(crate) fn running_processes() -> Reading<Vec<String>> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let mut system = match System::new() {
        Ok(s) => s,
        Err(e) => {
            return Reading::Unknown(UnknownReason::DetectionFailed(format!("process list: {e}")));
        }
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_exe(UpdateKind::OnlyIfNotSet),
    );
    let mut names: Vec<String> = system
        .processes()
        .values()
        .flat_map(|p| {
            let exe = p
                .exe()
                .and_then(|e| e.file_name())
                .map(|n| n.to_string_lossy().into_owned());
            std::iter::once(p.name().to_string_lossy().into_owned()).chain(exe)
        })
        .collect();
    if names.is_empty() {
        return Reading::Unknown(UnknownReason::DetectionFailed(
            "the process list is empty".into(),
        ));
    }
    names.sort();
    names.dedup();
    Reading::Value(names)
}

/// A reading that is only taken when the policy asks for it.
pub(crate) fn if_asked<T>(asked: bool, read: impl FnOnce() -> Reading<T>) -> Reading<T> {
    if asked {
        read()
    } else {
        Reading::Unknown(UnknownReason::NotApplicable)
    }
}

#[cfg(test)]
mod tests;
