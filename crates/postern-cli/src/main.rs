//! `postern`: the headless door onto postern-core. Every command loads the org policy, calls
//! the core, and renders the result (text, or versioned JSON with `--json`). Failures are typed
//! problems rendered in one place with their documented exit code (`docs/cli.md`).

#![allow(
    clippy::print_stdout,
    reason = "the CLI is the renderer: its commands print their results (JSON through `output`)"
)]

mod autostart;
mod completions;
mod console;
mod diagnostics;
mod egress;
mod exec;
mod identity;
mod output;
mod posture;
mod role;
mod session;
mod vpn;

use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;

use clap::{Parser, Subcommand};
use postern_core::{ExitCode, policy};

use output::Failure;

#[derive(Parser)]
#[command(
    name = "postern",
    version,
    about = "AWS credentials that only work from the company network"
)]
struct Cli {
    /// The organization policy file (default: $POSTERN_POLICY, then the system and user locations).
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to IAM Identity Center.
    Login(identity::LoginArgs),
    /// Sign out: end the session at Identity Center and delete every stored secret.
    Logout(identity::JsonArg),
    /// Show who is signed in, where, and until when.
    Whoami(identity::JsonArg),
    /// List the AWS accounts and roles you may use.
    Accounts(identity::JsonArg),
    /// Run the per-user agent that keeps the session (the desktop app does this when it runs).
    Agent(session::AgentArgs),
    /// Sign in if needed, check the device, bring the VPN up, prove the egress, then serve
    /// credentials for this account and role.
    Connect(session::ConnectArgs),
    /// Withdraw the credentials and take the VPN down.
    Disconnect,
    /// The session's state and why.
    Status(session::StatusArgs),
    /// credential_process: print the credentials while the gate is open, else why not.
    Credentials(session::CredentialsArgs),
    /// Run a command with the role's credentials in its environment (refused, and nothing run,
    /// while the gate is closed); it ends as the command ends.
    Exec(exec::ExecArgs),
    /// Print the shell lines that export the role's credentials (`eval "$(postern env)"`).
    Env(exec::EnvArgs),
    /// Open the AWS console in the browser, signed in as the role.
    Console(console::ConsoleArgs),
    /// The AWS CLI profiles that use `postern credentials`.
    #[command(subcommand, name = "aws-config")]
    AwsConfig(AwsConfigCommand),
    /// Check this device against the company's requirements (OS, disk, firewall, agents…).
    Posture(identity::JsonArg),
    /// Check where this device's traffic leaves the network, against the company NAT.
    Egress(identity::JsonArg),
    /// Client VPN profiles and the tunnel.
    #[command(subcommand)]
    Vpn(vpn::VpnCommand),
    /// Work with the organization policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The bundle for your helpdesk: logs and checks, with every secret removed.
    #[command(subcommand)]
    Diagnostics(diagnostics::DiagnosticsCommand),
    /// Print the completion script for a shell (e.g. `postern completions bash > /etc/bash_completion.d/postern`).
    Completions {
        #[arg(value_enum)]
        shell: completions::CompletionShell,
    },
    /// Print the man page, postern(1), as roff (`postern man | man -l -`).
    Man,
    /// Start the desktop app at login (unless your organization decides).
    #[command(subcommand)]
    Autostart(autostart::AutostartCommand),
}

#[derive(Subcommand)]
enum AwsConfigCommand {
    /// Add (or update) one [profile] per allowed account and role in ~/.aws/config, and remove
    /// Postern's profiles for roles no longer allowed; everything else is kept as it is.
    Install {
        /// Only the roles Identity Center gives you (of those the policy allows), as the portal
        /// lists them now: needs a sign-in.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy file and list every problem with its line and column.
    Validate {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print what AWS must enforce, from the policy's NAT addresses: the identity policy (iam),
    /// the service control policy (scp) or the resource control policy (rcp).
    Render {
        #[arg(long, value_parser = ["iam", "scp", "rcp"])]
        kind: String,
    },
}

/// A reader that went away (`postern … | head`) ends the command quietly: the standard
/// printing macros panic on a closed pipe, and that panic is no bug to report.
fn end_quietly_on_a_closed_output() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let closed = (message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr"))
            && message.contains("Broken pipe");
        if closed {
            std::process::exit(ExitCode::Ok.code());
        }
        report(info);
    }));
}

/// The signals that end a command (Ctrl-C, SIGTERM, SIGHUP), taken over from the default so
/// that the command ends as the default would (exit 128 + the signal) but only once no keychain
/// call is in progress (at most 5 s): a Secret Service client that vanishes mid-call can crash
/// the user's keyring daemon, which then comes back locked. Registered before the command runs,
/// so no keychain call can start before them.
fn end_on_signal_between_keychain_calls() -> Option<impl Future<Output = ()>> {
    #[cfg(unix)]
    let stopped = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).ok()?;
        let mut terminate = signal(SignalKind::terminate()).ok()?;
        let mut hang_up = signal(SignalKind::hangup()).ok()?;
        async move {
            tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
                _ = hang_up.recv() => 129,
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
        130
    };
    Some(async move {
        let code = stopped.await;
        for _ in 0..500 {
            if postern_core::identity::keychain_calls_in_progress() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        std::process::exit(code);
    })
}

fn main() -> ProcessExit {
    end_quietly_on_a_closed_output();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("postern: cannot start: {e}");
            return ProcessExit::from(ExitCode::Internal.code() as u8);
        }
    };
    let json = cli.command.wants_json();
    // The agent has its own orderly stop (it takes the tunnel down first).
    // `exec` passes signals on to its command instead.
    if !matches!(cli.command, Command::Agent(_) | Command::Exec(_)) {
        // Signal streams are made inside the runtime, and before the command starts.
        let _inside = runtime.enter();
        if let Some(ending) = end_on_signal_between_keychain_calls() {
            runtime.spawn(ending);
        }
    }
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ProcessExit::SUCCESS,
        Err(failure) => {
            failure.report(json);
            ProcessExit::from(failure.exit_code().code() as u8)
        }
    }
}

impl Command {
    fn wants_json(&self) -> bool {
        match self {
            Command::Login(_) => false,
            Command::Logout(a)
            | Command::Whoami(a)
            | Command::Accounts(a)
            | Command::Egress(a)
            | Command::Posture(a) => a.json,
            Command::Policy(PolicyCommand::Validate { json, .. }) => *json,
            Command::Policy(PolicyCommand::Render { .. }) => false,
            Command::Vpn(v) => v.wants_json(),
            Command::Diagnostics(d) => d.wants_json(),
            Command::AwsConfig(AwsConfigCommand::Install { json, .. }) => *json,
            Command::Autostart(a) => a.wants_json(),
            Command::Agent(_)
            | Command::Exec(_)
            | Command::Env(_)
            | Command::Console(_)
            | Command::Completions { .. }
            | Command::Man
            | Command::Connect(_)
            | Command::Disconnect
            | Command::Status(_)
            | Command::Credentials(_) => false,
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Policy(PolicyCommand::Validate { file, json }) => validate_policy(&file, json),
        Command::Policy(PolicyCommand::Render { kind }) => {
            render_policy(cli.policy.as_deref(), &kind)
        }
        Command::Login(args) => identity::login(cli.policy.as_deref(), args).await,
        Command::Logout(a) => identity::logout(cli.policy.as_deref(), a.json).await,
        Command::Whoami(a) => identity::whoami(cli.policy.as_deref(), a.json).await,
        Command::Accounts(a) => identity::accounts(cli.policy.as_deref(), a.json).await,
        Command::Vpn(v) => vpn::run(cli.policy.as_deref(), v).await,
        Command::Diagnostics(d) => diagnostics::run(cli.policy.as_deref(), d).await,
        Command::Egress(a) => egress::run(cli.policy.as_deref(), a.json).await,
        Command::Posture(a) => posture::run(cli.policy.as_deref(), a.json).await,
        Command::Agent(a) => session::run_agent(cli.policy.as_deref(), a).await,
        Command::Connect(a) => session::connect(a).await,
        Command::Disconnect => session::disconnect().await,
        Command::Status(a) => session::status(cli.policy.as_deref(), a).await,
        Command::Credentials(a) => session::credentials(a).await,
        Command::AwsConfig(AwsConfigCommand::Install { all, json }) => {
            session::aws_config_install(cli.policy.as_deref(), all, json).await
        }
        Command::Exec(a) => exec::exec(cli.policy.as_deref(), a).await,
        Command::Env(a) => exec::env(cli.policy.as_deref(), a).await,
        Command::Console(a) => console::console(cli.policy.as_deref(), a).await,
        Command::Completions { shell } => completions::completions(shell),
        Command::Man => completions::man(),
        Command::Autostart(a) => autostart::run(cli.policy.as_deref(), a),
    }
}

fn render_policy(explicit: Option<&std::path::Path>, kind: &str) -> Result<(), Failure> {
    let (org, file) = policy::load(explicit)?;
    let egress = org.egress.ok_or(policy::PolicyError::MissingSection {
        path: file.path,
        section: "egress",
    })?;
    let kind = policy::render::Kind::parse(kind).unwrap_or(policy::render::Kind::Iam);
    println!("{}", policy::render::render(kind, &egress.nat_addresses));
    Ok(())
}

fn validate_policy(file: &std::path::Path, json: bool) -> Result<(), Failure> {
    policy::load_file(file)?;
    if json {
        output::print_json(
            "policy-validation",
            &serde_json::json!({"file": file, "valid": true}),
        );
    } else {
        println!("{}: valid", file.display());
    }
    Ok(())
}
