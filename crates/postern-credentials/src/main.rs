//! `postern-credentials --account ID --role NAME`: what `credential_process` runs for every AWS
//! call. It asks this user's agent for the role's credentials and prints the document, or says
//! why the gate is closed and ends with the documented exit code; it never prompts. The same
//! answer as `postern credentials`, from a program that links only the wire (no clap, no
//! session, no AWS SDK): its start-up is most of a warm call's cost.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode as ProcessExit;

use postern_ipc::agent_client::{AgentClient, AgentClientError, agent_socket};
use postern_types::problem::Explained;
use postern_types::{ExitCode, Problem};

const USAGE: &str = "Usage: postern-credentials --account ID --role NAME";

/// The account and role asked for.
#[derive(Debug, PartialEq, Eq)]
struct Role {
    account: String,
    role: String,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Credentials(Role),
    Help,
    Version,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum UsageError {
    #[error("{0} needs a value.")]
    MissingValue(&'static str),
    #[error("--account and --role are both needed.")]
    MissingRole,
    #[error("{0} is given twice.")]
    Repeated(&'static str),
    #[error("{0:?} is not an argument of postern-credentials.")]
    Unknown(String),
}

impl Problem for UsageError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
    fn next_step(&self) -> String {
        USAGE.into()
    }
}

/// `--account ID --role NAME` (either as `--name=value` too), `--help`, `--version`.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Asked, UsageError> {
    let mut account = None;
    let mut role = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value.into())),
            _ => (arg.clone(), None),
        };
        let (slot, flag) = match name.as_str() {
            "-h" | "--help" => return Ok(Asked::Help),
            "-V" | "--version" => return Ok(Asked::Version),
            "--account" => (&mut account, "--account"),
            "--role" => (&mut role, "--role"),
            _ => return Err(UsageError::Unknown(arg)),
        };
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or(UsageError::MissingValue(flag))?,
        };
        if value.is_empty() {
            return Err(UsageError::MissingValue(flag));
        }
        if slot.replace(value).is_some() {
            return Err(UsageError::Repeated(flag));
        }
    }
    match (account, role) {
        (Some(account), Some(role)) => Ok(Asked::Credentials(Role { account, role })),
        _ => Err(UsageError::MissingRole),
    }
}

/// Why no document was printed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Agent(Box<AgentClientError>),
    #[error("Postern could not start its connection to the agent ({0}).")]
    Runtime(std::io::Error),
}

impl From<AgentClientError> for Failure {
    fn from(e: AgentClientError) -> Self {
        Failure::Agent(Box::new(e))
    }
}

impl Problem for Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Agent(e) => e.exit_code(),
            Failure::Runtime(_) => ExitCode::Internal,
        }
    }
    fn next_step(&self) -> String {
        match self {
            Failure::Agent(e) => e.next_step(),
            Failure::Runtime(_) => "Send this message to your helpdesk.".into(),
        }
    }
}

fn credentials(asked: &Role) -> Result<String, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Failure::Runtime)?;
    runtime.block_on(async {
        let mut agent = AgentClient::connect(&agent_socket()).await?;
        Ok(agent.credentials(&asked.account, &asked.role).await?)
    })
}

/// Writes and says whether it could: a reader that went away is not a panic.
fn say(mut out: impl Write, text: &str) -> bool {
    writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
}

fn fail(problem: &dyn Problem) -> ProcessExit {
    say(
        std::io::stderr().lock(),
        &format!("postern: {}", Explained(problem)),
    );
    ProcessExit::from(problem.exit_code().code() as u8)
}

fn main() -> ProcessExit {
    match parse(std::env::args_os().skip(1)) {
        Ok(Asked::Help) => {
            say(std::io::stdout().lock(), USAGE);
            ProcessExit::SUCCESS
        }
        Ok(Asked::Version) => {
            say(
                std::io::stdout().lock(),
                concat!("postern-credentials ", env!("CARGO_PKG_VERSION")),
            );
            ProcessExit::SUCCESS
        }
        Ok(Asked::Credentials(role)) => match credentials(&role) {
            Ok(document) if say(std::io::stdout().lock(), &document) => ProcessExit::SUCCESS,
            // The caller stopped reading: it has no credentials from us.
            Ok(_) => ProcessExit::from(ExitCode::Internal.code() as u8),
            Err(failure) => fail(&failure),
        },
        Err(usage) => fail(&usage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Asked, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    fn role(account: &str, role: &str) -> Asked {
        Asked::Credentials(Role {
            account: account.into(),
            role: role.into(),
        })
    }

    #[test]
    fn the_account_and_role_come_as_aws_config_install_writes_them_or_with_equals() {
        let expected = role("111122223333", "Developer");
        assert_eq!(
            parsed(&["--account", "111122223333", "--role", "Developer"]),
            Ok(expected)
        );
        assert_eq!(
            parsed(&["--role=Developer", "--account=111122223333"]),
            Ok(role("111122223333", "Developer"))
        );
    }

    #[test]
    fn a_wrong_command_line_is_named_and_never_asks_the_agent() {
        assert_eq!(parsed(&["--account", "1"]), Err(UsageError::MissingRole));
        assert_eq!(
            parsed(&["--account", "1", "--role"]),
            Err(UsageError::MissingValue("--role"))
        );
        assert_eq!(
            parsed(&["--account=", "--role", "r"]),
            Err(UsageError::MissingValue("--account"))
        );
        assert_eq!(
            parsed(&["--account", "1", "--account", "2", "--role", "r"]),
            Err(UsageError::Repeated("--account"))
        );
        assert_eq!(
            parsed(&["credentials", "--account", "1", "--role", "r"]),
            Err(UsageError::Unknown("credentials".into()))
        );
        assert_eq!(parsed(&[]), Err(UsageError::MissingRole));
        assert_eq!(UsageError::MissingRole.exit_code(), ExitCode::Usage);
    }

    #[test]
    fn help_and_version_win_over_anything_else() {
        assert_eq!(parsed(&["--account", "1", "--help"]), Ok(Asked::Help));
        assert_eq!(parsed(&["-V"]), Ok(Asked::Version));
    }
}
