//! `agent`, `connect`, `disconnect`, `status`, `credentials`, `aws-config install`: the doors
//! onto the per-user agent that runs the session.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use postern_agent::AgentConfig;
use postern_core::credentials::aws_config::{self, ManagedProfile};
use postern_core::session::{SessionState, Transition, present};
use postern_core::{ExitCode, Problem, paths, policy};
use postern_ipc::agent_client::{AgentClient, AgentClientError};

use crate::output::{Failure, print_json};

#[derive(Args)]
pub struct ConnectArgs {
    /// The VPN profile (default: the only imported one).
    profile: Option<String>,
    #[arg(long)]
    account: String,
    #[arg(long)]
    role: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
    #[arg(long)]
    watch: bool,
}

#[derive(Args)]
pub struct CredentialsArgs {
    #[arg(long)]
    account: String,
    #[arg(long)]
    role: String,
}

#[derive(Args)]
pub struct AgentArgs {
    /// Never open a browser for sign-in; show the code instead (headless machines).
    #[arg(long)]
    no_browser: bool,
}

async fn agent() -> Result<AgentClient, Failure> {
    Ok(AgentClient::connect(&paths::agent_socket()).await?)
}

pub async fn run_agent(policy_file: Option<&Path>, args: AgentArgs) -> Result<(), Failure> {
    let (policy, _) = policy::load(policy_file)?;
    // The agent's log is for the helpdesk bundle; without it the agent still runs.
    if let Err(e) = postern_core::diagnostics::logging::init("agent") {
        eprintln!("postern agent: no log file ({e}); continuing without one");
    }
    let config = AgentConfig::for_this_user(policy, !args.no_browser);
    postern_agent::serve(config, &paths::agent_socket())
        .await
        .map_err(|e| Failure::from(AgentStartFailed(e)))
}

#[derive(Debug, thiserror::Error)]
#[error("The Postern agent could not start: {0}.")]
struct AgentStartFailed(String);

impl Problem for AgentStartFailed {
    fn exit_code(&self) -> ExitCode {
        ExitCode::AgentUnavailable
    }
    fn next_step(&self) -> String {
        "If another agent runs (the Postern app), use it; otherwise remove the stale socket named above.".into()
    }
}

/// The session in the words every door uses (`present`), as terminal lines.
fn describe(t: &Transition) -> String {
    present::terminal_lines(&present::present(t), time::OffsetDateTime::now_utc()).join("\n")
}

pub async fn connect(args: ConnectArgs) -> Result<(), Failure> {
    let mut client = agent().await?;
    client
        .connect_session(args.profile.clone(), &args.account, &args.role)
        .await?;
    let mut transitions = agent().await?.watch().await?;
    let mut last = String::new();
    let outcome = tokio::time::timeout(Duration::from_secs(900), async {
        while let Some(t) = transitions.next().await {
            if args.json {
                print_json("session", &t);
            } else {
                let text = describe(&t);
                if text != last {
                    eprintln!("{text}");
                    last = text;
                }
            }
            match &t.state {
                SessionState::Ready { .. } => return Ok(()),
                SessionState::Blocked { cause } => return Err(Failure::quiet(cause.exit_code())),
                SessionState::Idle if t.cause != postern_core::session::Cause::ConnectRequested => {
                    return Err(Failure::quiet(ExitCode::NotConnected));
                }
                _ => {}
            }
        }
        Err(Failure::from(AgentClientError::Broken(
            "the agent closed the connection".into(),
        )))
    })
    .await;
    outcome.unwrap_or_else(|_| {
        Err(Failure::from(AgentClientError::Broken(
            "no answer within 15 minutes".into(),
        )))
    })
}

pub async fn disconnect() -> Result<(), Failure> {
    agent().await?.disconnect().await?;
    println!("Disconnected: AWS credentials are no longer served.");
    Ok(())
}

pub async fn status(policy_file: Option<&Path>, args: StatusArgs) -> Result<(), Failure> {
    // Settings belong to the JSON document only; the text shows the session.
    let settings = args.json.then(|| status_settings(policy_file));
    let print = |t: &Transition| {
        if let Some(settings) = &settings {
            let mut document = serde_json::to_value(t).unwrap_or_default();
            if let Some(map) = document.as_object_mut() {
                map.insert("settings".into(), settings.clone());
            }
            print_json("session", &document)
        } else {
            println!("{}", describe(t))
        }
    };
    if args.watch {
        let mut transitions = agent().await?.watch().await?;
        while let Some(t) = transitions.next().await {
            print(&t);
        }
        return Ok(());
    }
    print(&agent().await?.status().await?);
    Ok(())
}

/// The app's settings and where each came from; an unreadable source is said, not guessed
/// (`{"problem": …}`), and does not hide the session's state.
fn status_settings(policy_file: Option<&Path>) -> serde_json::Value {
    use postern_core::settings::{self, ThisUser};
    match settings::load(policy_file, &ThisUser) {
        Ok((settings, _)) => serde_json::to_value(settings).unwrap_or_default(),
        Err(e) => serde_json::json!({ "problem": e.to_string(), "nextStep": e.next_step() }),
    }
}

/// The credential_process door: prints the document or says why not, never prompts.
pub async fn credentials(args: CredentialsArgs) -> Result<(), Failure> {
    let document = agent()
        .await?
        .credentials(&args.account, &args.role)
        .await?;
    println!("{document}");
    Ok(())
}

pub async fn aws_config_install(
    policy_file: Option<&Path>,
    all: bool,
    json: bool,
) -> Result<(), Failure> {
    let (policy, _) = policy::load(policy_file)?;
    let mut rules: Vec<&policy::access::AccessRule> = policy.access.iter().collect();
    if all {
        // What the portal gives this person now, of what the policy allows.
        let given = crate::identity::identity(policy_file)?.accounts().await?;
        rules.retain(|r| {
            given
                .iter()
                .any(|a| a.account_id == r.account && a.roles.contains(&r.role))
        });
    }
    let profiles: Vec<ManagedProfile> = rules
        .iter()
        .map(|r| ManagedProfile::new(&r.account, &r.role).with_region(r.region.as_deref()))
        .collect();
    let cli = std::env::current_exe().unwrap_or_else(|_| "postern".into());
    let program = aws_config::CredentialProgram::beside(&cli);
    let report = aws_config::install(&crate::role::aws_config_file(), &profiles, &program)?;
    if json {
        print_json("aws-config", &report);
    } else {
        for name in &report.added {
            println!("added    [profile {name}]");
        }
        for name in &report.updated {
            println!("updated  [profile {name}]");
        }
        for name in &report.unchanged {
            println!("kept     [profile {name}]");
        }
        for name in &report.removed {
            println!("removed  [profile {name}]");
        }
        if let Some(b) = &report.backup {
            println!("The previous file is saved as {}.", b.display());
        }
        if profiles.is_empty() {
            let none = if all {
                "Of the roles the company policy allows, Identity Center gives you none."
            } else {
                "The company policy allows no account and role yet ([[access]])."
            };
            println!("{none}");
        }
    }
    Ok(())
}
