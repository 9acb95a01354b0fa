//! `postern exec` and `postern env`: the role's credentials in a command's environment, or as
//! the lines a shell evaluates. Neither starts or prints anything while the gate is closed.

use std::ffi::OsString;
use std::path::Path;

use clap::{Args, ValueEnum};
use postern_core::credentials::environment::{self, Shell};
use postern_core::{ExitCode, Problem};

use crate::output::Failure;
use crate::role::{Role, RoleArgs, agent};

#[derive(Args)]
pub struct ExecArgs {
    #[command(flatten)]
    role: RoleArgs,
    /// Give the command the local credentials endpoint instead of keys, so that a long-running
    /// command sees the credentials withdrawn.
    #[arg(long)]
    endpoint: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ShellName {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Args)]
pub struct EnvArgs {
    #[command(flatten)]
    role: RoleArgs,
    /// The shell whose syntax to print (default: $SHELL's; PowerShell on Windows).
    #[arg(long, value_enum)]
    shell: Option<ShellName>,
    /// Print the lines that remove the variables instead.
    #[arg(long)]
    unset: bool,
}

#[derive(Debug, thiserror::Error)]
enum ExecError {
    #[error("The command {program} was not found.")]
    NotFound { program: String },
    #[error("The command {program} could not be started ({detail}).")]
    NotRunnable { program: String, detail: String },
}

impl Problem for ExecError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ExecError::NotFound { .. } => ExitCode::CommandNotFound,
            ExecError::NotRunnable { .. } => ExitCode::CommandNotRunnable,
        }
    }
    fn next_step(&self) -> String {
        "Check the command's name and PATH; nothing was run.".into()
    }
}

/// A region the user already chose wins over the policy's.
fn region_unless_set(role: &Role) -> Option<&str> {
    let chosen = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if chosen { None } else { role.region.as_deref() }
}

/// Runs the command with the credentials (or the endpoint) and ends as it ended: its exit
/// code, or the signal that ended it.
pub async fn exec(policy_file: Option<&Path>, args: ExecArgs) -> Result<(), Failure> {
    let role = args.role.resolve(policy_file).await?;
    // The gate is asked before anything starts, in both modes (the agent grants an endpoint
    // only while it serves the role): a closed gate starts nothing.
    let mut command = tokio::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    let region = region_unless_set(&role);
    let mut lease = None;
    if args.endpoint {
        let granted = agent()
            .await?
            .open_endpoint(&role.account, &role.role)
            .await?;
        for name in environment::CLEARED_WITH_ENDPOINT {
            command.env_remove(name);
        }
        command.envs(environment::endpoint_variables(
            &granted.url,
            &granted.token,
        ));
        if let Some(region) = region {
            command
                .env("AWS_REGION", region)
                .env("AWS_DEFAULT_REGION", region);
        }
        lease = Some(granted);
    } else {
        let credentials = role.credentials().await?;
        for name in environment::CLEARED_WITH_KEYS {
            command.env_remove(name);
        }
        command.envs(environment::key_variables(&credentials, region));
    }
    let program = args.command[0].to_string_lossy().into_owned();
    let child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Failure::from(ExecError::NotFound { program }),
        _ => Failure::from(ExecError::NotRunnable {
            program,
            detail: e.to_string(),
        }),
    })?;
    let ended = child_end::wait(child).await;
    // The endpoint's token dies with this process, and with it what the command was served.
    drop(lease);
    child_end::end_as(ended)
}

pub async fn env(policy_file: Option<&Path>, args: EnvArgs) -> Result<(), Failure> {
    let shell = match args.shell {
        Some(ShellName::Bash | ShellName::Zsh) => Shell::Posix,
        Some(ShellName::Fish) => Shell::Fish,
        Some(ShellName::Powershell) => Shell::PowerShell,
        None if cfg!(windows) => Shell::PowerShell,
        None => std::env::var("SHELL")
            .ok()
            .and_then(|s| Shell::parse(&s))
            .unwrap_or(Shell::Posix),
    };
    if args.unset {
        for name in environment::ALL_SET {
            println!("{}", shell.unset(name));
        }
        return Ok(());
    }
    let role = args.role.resolve(policy_file).await?;
    let credentials = role.credentials().await?;
    println!(
        "# Postern: {} / {} until {} (UTC); `postern env --unset` removes them",
        role.account, role.role, credentials.expiration
    );
    for name in environment::CLEARED_WITH_KEYS {
        println!("{}", shell.unset(name));
    }
    for (name, value) in environment::key_variables(&credentials, region_unless_set(&role)) {
        println!("{}", shell.set(name, &value));
    }
    Ok(())
}

/// How the child ended, passed on as the process's own end.
#[allow(
    unsafe_code,
    reason = "kill(2), signal(2) and raise(3) on plain integers: std has no way to pass a signal on"
)]
mod child_end {
    use super::Failure;
    use std::process::ExitStatus;

    /// Waits for the child; signals meant for it are passed on meanwhile. Ctrl-C and Ctrl-\
    /// reach the child from the terminal itself (same process group): they are only kept from
    /// ending Postern first.
    #[cfg(unix)]
    pub async fn wait(mut child: tokio::process::Child) -> std::io::Result<ExitStatus> {
        use tokio::signal::unix::{SignalKind, signal};
        let pid = child.id().map(|p| p as libc::pid_t);
        let (Ok(mut term), Ok(mut hup), Ok(mut usr1), Ok(mut usr2), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            return child.wait().await;
        };
        let forward = |sig: libc::c_int| {
            if let Some(pid) = pid {
                // SAFETY: kill(2) with the child's pid, which we have not reaped yet.
                unsafe { libc::kill(pid, sig) };
            }
        };
        loop {
            tokio::select! {
                status = child.wait() => return status,
                _ = term.recv() => forward(libc::SIGTERM),
                _ = hup.recv() => forward(libc::SIGHUP),
                _ = usr1.recv() => forward(libc::SIGUSR1),
                _ = usr2.recv() => forward(libc::SIGUSR2),
                _ = int.recv() => {}
                _ = quit.recv() => {}
            }
        }
    }

    /// Ctrl-C and Ctrl-Break reach every process of the console: the child gets its own.
    #[cfg(windows)]
    pub async fn wait(mut child: tokio::process::Child) -> std::io::Result<ExitStatus> {
        let Ok(mut brk) = tokio::signal::windows::ctrl_break() else {
            return child.wait().await;
        };
        loop {
            tokio::select! {
                status = child.wait() => return status,
                _ = tokio::signal::ctrl_c() => {}
                _ = brk.recv() => {}
            }
        }
    }

    /// Exits with the child's code; a child a signal ended ends Postern by the same signal, so
    /// the shell reports it as it would have.
    pub fn end_as(ended: std::io::Result<ExitStatus>) -> Result<(), Failure> {
        let status =
            ended.map_err(|e| Failure::internal(&format!("waiting for the command: {e}")))?;
        if let Some(code) = status.code() {
            std::process::exit(code);
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(sig) = status.signal() {
                // SAFETY: restores the default action, then raises the signal on ourselves.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
                std::process::exit(128 + sig);
            }
        }
        Err(Failure::internal("the command ended without an exit code"))
    }
}

#[cfg(all(test, unix))]
#[allow(unsafe_code, reason = "kill(2) to this test process")]
mod tests {
    use super::child_end;
    use std::os::unix::process::ExitStatusExt;

    #[allow(clippy::expect_used, reason = "a test: a failure is its own")]
    fn sh(script: &str) -> tokio::process::Child {
        tokio::process::Command::new("sh")
            .args(["-c", script])
            .spawn()
            .expect("sh starts")
    }

    #[tokio::test]
    async fn the_childs_exit_code_is_kept() {
        let status = child_end::wait(sh("exit 7")).await.unwrap();
        assert_eq!(status.code(), Some(7));
    }

    #[tokio::test]
    async fn a_signal_to_postern_reaches_the_child() {
        // The child reports the TERM it was sent, and ends with 42 on it.
        let child = sh(
            "trap 'exit 42' TERM; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 3",
        );
        let waiting = tokio::spawn(child_end::wait(child));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // SAFETY: a signal to this test process, which `wait` forwards.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        let status = waiting.await.unwrap().unwrap();
        assert_eq!(status.code(), Some(42), "{status:?}");
    }

    #[tokio::test]
    async fn a_child_ended_by_a_signal_is_reported_as_that_signal() {
        let status = child_end::wait(sh("kill -USR2 $$")).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGUSR2));
    }
}
