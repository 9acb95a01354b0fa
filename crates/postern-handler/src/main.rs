//! `postern-handler`: the doors onto the decision.
//!
//! - `lambda`: the AWS Lambda function (name it `AWSClientVPN-…`; see docs/handler.md). The
//!   policy comes from the deployment package (`--policy`, or `POSTERN_POLICY`).
//! - `decide [--policy FILE] < event.json`: prints the output exactly as the Lambda returns it
//!   (for admins trying their rules).
//! - `openvpn [--policy FILE] FILE`: an OpenVPN `auth-user-pass-verify … via-file` hook for
//!   self-hosted servers: reads the connection from OpenVPN's environment, writes the message to
//!   `$auth_failed_reason_file` so a stock client sees it, exits 0 (allow) or 1 (deny).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use postern_core::egress::CountryDatabase;
use postern_core::policy::{self, handler::HandlerRules};
use serde_json::{Value, json};

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
    Openvpn { credentials_file: Option<PathBuf> },
}

fn rules(
    policy_file: Option<&std::path::Path>,
) -> Result<(HandlerRules, Option<CountryDatabase>), String> {
    let (policy, _) = policy::load(policy_file).map_err(|e| e.to_string())?;
    let rules = policy.handler.unwrap_or_default();
    let db = match &rules.geoip_database {
        Some(p) => Some(CountryDatabase::open(p).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok((rules, db))
}

/// The handler's input, from OpenVPN's client-connect/auth environment.
fn event_from_env() -> Value {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    json!({
        "connection-id": format!("openvpn-{}", var("untrusted_port")),
        "endpoint-id": "openvpn",
        "common-name": var("common_name"),
        "username": var("username"),
        "platform": var("IV_PLAT"),
        "platform-version": var("IV_PLAT_VER"),
        "public-ip": var("untrusted_ip"),
        "client-openvpn-version": var("IV_VER"),
        "schema-version": "v2",
        "groups": []
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = rules(cli.policy.as_deref());
    match cli.command {
        Door::Lambda => lambda(loaded),
        Door::Decide => {
            let mut input = String::new();
            let _ = std::io::stdin().read_to_string(&mut input);
            let event: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
            let output = match &loaded {
                Ok((rules, db)) => postern_handler::decide(rules, db.as_ref(), &event),
                Err(e) => {
                    eprintln!("postern-handler: {e}; denying (fail closed)");
                    postern_handler::fail_closed(&event)
                }
            };
            println!("{output}");
            ExitCode::SUCCESS
        }
        Door::Openvpn { .. } => {
            let (allow, message) = match &loaded {
                Ok((rules, db)) => {
                    let out = postern_handler::decide(rules, db.as_ref(), &event_from_env());
                    (
                        out["allow"] == true,
                        out["error-msg-on-denied-connection"]
                            .as_str()
                            .unwrap_or(postern_handler::GENERIC_DENY)
                            .to_string(),
                    )
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

/// One decision per invocation; a policy that cannot be loaded makes every answer a denial
/// (logged once, at cold start) instead of a crash the endpoint would report as an error.
fn lambda(loaded: Result<(HandlerRules, Option<CountryDatabase>), String>) -> ExitCode {
    if let Err(e) = &loaded {
        eprintln!("postern-handler: {e}; every connection will be denied (fail closed)");
    }
    let loaded = std::sync::Arc::new(loaded);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("postern-handler: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handler = lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| {
        let loaded = loaded.clone();
        async move {
            Ok::<Value, lambda_runtime::Error>(match loaded.as_ref() {
                Ok((rules, db)) => postern_handler::decide(rules, db.as_ref(), &event.payload),
                Err(_) => postern_handler::fail_closed(&event.payload),
            })
        }
    });
    match runtime.block_on(lambda_runtime::run(handler)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postern-handler: the Lambda runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
