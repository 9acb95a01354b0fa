//! `postern-handler`: the doors onto the decision.
//!
//! - `lambda`: the AWS Lambda function (name it `AWSClientVPN-…`; see docs/handler.md). The
//!   policy comes from the deployment package (`--policy`, or `POSTERN_POLICY`). Each decision
//!   is logged as one JSON line on stdout (CloudWatch).
//! - `decide [--policy FILE] < event.json`: prints the output exactly as the Lambda returns it
//!   (for admins trying their rules); the decision's log line goes to stderr.
//! - `openvpn [--policy FILE] FILE`: an OpenVPN `auth-user-pass-verify … via-file` hook for
//!   self-hosted servers: reads the connection from OpenVPN's environment, writes the message to
//!   `$auth_failed_reason_file` so a stock client sees it, exits 0 (allow) or 1 (deny); the log
//!   line goes to stderr (OpenVPN's log).
//! - `validate --policy FILE`: type-checks the policy (TOML and its Cedar policy) with
//!   line:column errors. `schema` prints the Cedar schema policies are checked against.

#![allow(
    clippy::print_stdout,
    reason = "standard output is this door's answer: the decision for `decide`, the log line for CloudWatch"
)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use postern_handler::runtime::RuntimeApi;
use postern_handler::{Handler, LoadError, MAX_EVENT_BYTES, Origin};
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "postern-handler",
    version,
    about = "AWS Client VPN client-connect handler"
)]
struct Cli {
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(subcommand)]
    command: Door,
}

#[derive(Subcommand)]
enum Door {
    /// Serve as the AWS Lambda client-connect handler (Lambda Runtime API).
    Lambda,
    /// Decide one event read from standard input.
    Decide,
    /// Run as OpenVPN's auth-user-pass-verify hook (the credentials file is ignored).
    Openvpn {
        credentials_file: Option<PathBuf>,
        /// The `username` in OpenVPN's environment was verified by an auth backend that ran
        /// before this hook; without it the user rules apply to the certificate's common name.
        #[arg(long)]
        verified_username: bool,
    },
    /// Check a policy: the TOML rules and the Cedar policy against the schema.
    Validate,
    /// Print the Cedar schema handler policies are checked against.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Door::Schema => {
            print!("{}", postern_handler::cedar::SCHEMA);
            ExitCode::SUCCESS
        }
        Door::Validate => validate(cli.policy.as_deref()),
        Door::Lambda => lambda(Handler::load(cli.policy.as_deref())),
        Door::Decide => {
            let loaded = Handler::load(cli.policy.as_deref());
            // One byte past the limit is enough to know the event is too large.
            let mut input = Vec::new();
            let read = std::io::stdin()
                .take(MAX_EVENT_BYTES as u64 + 1)
                .read_to_end(&mut input);
            let now = jiff::Timestamp::now();
            let output = match (&loaded, read) {
                (Ok(handler), Ok(_)) => {
                    let d = handler.decide_bytes(&input, Origin::Aws, now);
                    eprintln!("{}", d.log);
                    d.output
                }
                (Err(e), _) => {
                    eprintln!("postern-handler: {e}; denying (fail closed)");
                    postern_handler::fail_closed(&Value::Null)
                }
                (_, Err(e)) => {
                    eprintln!("postern-handler: standard input cannot be read ({e}); denying");
                    postern_handler::fail_closed(&Value::Null)
                }
            };
            println!("{output}");
            ExitCode::SUCCESS
        }
        Door::Openvpn {
            verified_username, ..
        } => {
            let (allow, message) = match Handler::load(cli.policy.as_deref()) {
                Ok(handler) => {
                    let d = handler.decide(
                        &postern_handler::event_from_openvpn_env(
                            |k| std::env::var(k).ok(),
                            verified_username,
                        ),
                        Origin::OpenVpn,
                        jiff::Timestamp::now(),
                    );
                    eprintln!("{}", d.log);
                    (d.allowed(), d.message().to_string())
                }
                Err(e) => {
                    eprintln!("postern-handler: {e}; denying (fail closed)");
                    (false, postern_handler::GENERIC_DENY.to_string())
                }
            };
            if allow {
                return ExitCode::SUCCESS;
            }
            if let Ok(path) = std::env::var("auth_failed_reason_file") {
                let _ = std::fs::write(path, &message);
            }
            ExitCode::FAILURE
        }
    }
}

/// Exit 0 and say what was checked, or print every located problem and exit 1.
fn validate(policy: Option<&Path>) -> ExitCode {
    match Handler::load(policy) {
        Ok(handler) => {
            let cedar = match (&handler.cedar, &handler.rules.cedar_policy) {
                (Some(_), Some(path)) => format!(
                    "; the Cedar policy {} type-checks against the schema",
                    path.display()
                ),
                _ => String::new(),
            };
            println!("postern-handler: the policy is valid{cedar}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// One decision per invocation, on the Lambda Runtime API; a policy that cannot be loaded makes
/// every answer a denial (logged once, at cold start) instead of a crash the endpoint would
/// report as an error.
fn lambda(loaded: Result<Handler, LoadError>) -> ExitCode {
    let api = match RuntimeApi::from_env() {
        Ok(api) => api,
        Err(e) => {
            eprintln!("postern-handler: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = &loaded {
        eprintln!("postern-handler: {e}; every connection will be denied (fail closed)");
    }
    loop {
        let invocation = match api.next() {
            Ok(invocation) => invocation,
            Err(e) => {
                // Lambda restarts the function; nothing was decided.
                eprintln!("postern-handler: {e}");
                return ExitCode::FAILURE;
            }
        };
        let output = match &loaded {
            Ok(handler) => {
                let d =
                    handler.decide_bytes(&invocation.event, Origin::Aws, jiff::Timestamp::now());
                println!("{}", d.log);
                d.output
            }
            Err(_) => postern_handler::fail_closed(
                &serde_json::from_slice(&invocation.event).unwrap_or(Value::Null),
            ),
        };
        if let Err(e) = api.respond(&invocation.request_id, output.to_string().as_bytes()) {
            eprintln!("postern-handler: {e}");
            return ExitCode::FAILURE;
        }
    }
}
