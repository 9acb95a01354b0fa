//! Rendering: versioned JSON documents on stdout, problems on stderr (and as JSON with --json).

use postern_core::problem::Explained;
use postern_core::{ExitCode, Problem};
use serde::Serialize;

/// Every JSON document says what it is and which version of its shape it has; fields are only
/// ever added within a version.
pub fn print_json<T: Serialize>(kind: &str, body: &T) {
    let mut value = serde_json::to_value(body).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("schema".into(), format!("postern.{kind}.v1").into());
    } else {
        value = serde_json::json!({"schema": format!("postern.{kind}.v1"), "items": value});
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
}

/// A failed command: any core problem, boxed so every door renders it the same way; or a
/// verdict the command already printed, which only sets the exit code.
pub enum Failure {
    Problem(Box<dyn Problem + Send + Sync>),
    Reported(ExitCode),
}

impl<P: Problem + Send + Sync + 'static> From<P> for Failure {
    fn from(p: P) -> Self {
        Failure::Problem(Box::new(p))
    }
}

impl Failure {
    /// Something that should not happen (a task that panicked).
    pub fn internal(detail: &str) -> Self {
        Failure::from(Internal(detail.to_string()))
    }

    /// The command printed its result (a report with a negative verdict); just exit with this.
    pub fn quiet(code: ExitCode) -> Self {
        Failure::Reported(code)
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Problem(p) => p.exit_code(),
            Failure::Reported(code) => *code,
        }
    }

    pub fn report(&self, json: bool) {
        let Failure::Problem(problem) = self else {
            return;
        };
        eprintln!("postern: {}", Explained(problem.as_ref()));
        if json {
            print_json(
                "error",
                &serde_json::json!({
                    "code": problem.exit_code(),
                    "exitCode": problem.exit_code().code(),
                    "message": problem.to_string(),
                    "nextStep": problem.next_step(),
                }),
            );
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Postern failed unexpectedly: {0}.")]
struct Internal(String);

impl Problem for Internal {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Internal
    }

    fn next_step(&self) -> String {
        "Send this message to your helpdesk.".into()
    }
}
