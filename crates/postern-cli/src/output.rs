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

/// A failed command: any core problem, boxed so every door renders it the same way.
pub struct Failure(Box<dyn Problem + Send + Sync>);

impl<P: Problem + Send + Sync + 'static> From<P> for Failure {
    fn from(p: P) -> Self {
        Failure(Box::new(p))
    }
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        self.0.exit_code()
    }

    pub fn report(&self, json: bool) {
        eprintln!("postern: {}", Explained(self.0.as_ref()));
        if json {
            print_json(
                "error",
                &serde_json::json!({
                    "code": self.0.exit_code(),
                    "exitCode": self.0.exit_code().code(),
                    "message": self.0.to_string(),
                    "nextStep": self.0.next_step(),
                }),
            );
        }
    }
}
