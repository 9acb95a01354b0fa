//! `postern-helper`: the small privileged daemon that runs OpenVPN for Postern.
//!
//! - Listens on a local socket (mode 0660, group `postern`; on Windows a named pipe whose DACL
//!   admits SYSTEM, Administrators and the group) and checks every peer as the OS recorded it
//!   (SO_PEERCRED, LOCAL_PEERCRED, the pipe client's token): an administrator, the allowed
//!   group (primary or supplementary), or an allowed user.
//! - Takes a profile, never OpenVPN arguments; validates the profile again (never trusts the
//!   caller), writes it owner-only in a private directory and starts OpenVPN with a fixed
//!   argument list placed after `--config`, so the helper's options win.
//! - One tunnel at a time, owned by the user that started it: only that user or an
//!   administrator may disconnect it, answer its sign-in, or read its log and history.
//!   Management-interface events become typed states; bounded reconnects.
//! - Bounded: a connection cap per user, a deadline for Hello and for every frame once begun,
//!   frames buffered only as their bytes arrive.
//! - Never panics on input: every connection is its own task, every error a typed reply.
//! - On Windows it runs as a service (`--service`, started by the service manager), or in a
//!   console for a developer.

mod dns;
mod log;
// Used on Windows; its decoding is tested everywhere.
#[cfg_attr(not(windows), allow(dead_code))]
mod loopback;
mod openvpn;
mod owner;
mod peer;
mod service;
mod tunnel;
#[cfg(windows)]
mod windows_service_main;

use std::path::PathBuf;

use clap::Parser;
use postern_ipc::peer::UserId;

/// Where the helper keeps its files: the running profile, OpenVPN's pid, its log.
#[cfg(all(unix, not(target_os = "macos")))]
const STATE_DIR: &str = "/run/postern/tunnel";
#[cfg(target_os = "macos")]
const STATE_DIR: &str = "/var/run/postern/tunnel";
#[cfg(windows)]
const STATE_DIR: &str = r"C:\ProgramData\Postern\helper\tunnel";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "postern-helper",
    version,
    about = "Postern's privileged VPN helper"
)]
pub struct Args {
    /// The socket (on Windows, the named pipe) clients connect to.
    #[arg(long, default_value = postern_ipc::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// The group whose members may use the helper (besides administrators).
    #[arg(long, default_value = "postern")]
    pub group: String,
    /// Additional users allowed (uids; on Windows SIDs), for labs and tests.
    #[arg(long = "allow-uid", visible_alias = "allow-user")]
    pub allow_uids: Vec<UserId>,
    /// Private directory for the running profile and OpenVPN's management socket.
    #[arg(long, default_value = STATE_DIR)]
    pub state_dir: PathBuf,
    /// The OpenVPN binary. Default: the first of the places this OS's packages put it
    /// (`openvpn::STOCK_OPENVPN`).
    #[arg(long)]
    pub openvpn: Option<PathBuf>,
    /// An OpenVPN build that can carry real-sized SAML assertions (AWS's). Default: the AWS VPN
    /// Client's bundled binary where it is installed; otherwise stock OpenVPN, whose limit of
    /// 256 characters per management parameter only fits tiny (lab) assertions.
    #[arg(long)]
    pub saml_openvpn: Option<PathBuf>,
    /// Windows: the tunnel driver OpenVPN uses (`wintun`, `tap-windows6` or `ovpn-dco`);
    /// OpenVPN's own choice when unset. Ignored elsewhere.
    #[arg(long)]
    pub windows_driver: Option<String>,
    /// Reconnect attempts after a drop before the tunnel is declared lost.
    #[arg(long, default_value_t = 3)]
    pub max_reconnects: u32,
    /// Seconds a dropped tunnel may take to come back before it is declared lost.
    #[arg(long, default_value_t = 30)]
    pub reconnect_timeout: u64,
    /// Seconds a first connection may take.
    #[arg(long, default_value_t = 60)]
    pub connect_timeout: u64,
    /// The resolver manager's tool that takes the VPN's pushed DNS (`resolvectl` for
    /// systemd-resolved on Linux, `scutil` on macOS; on Windows OpenVPN sets the adapter's).
    #[arg(long, default_value = dns::DEFAULT_TOOL)]
    pub resolver_tool: PathBuf,
    /// The helper's own log file (private, redacted); standard error gets every line too.
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// Windows: run under the service manager (how the installed service is started).
    #[cfg(windows)]
    #[arg(long)]
    pub service: bool,
}

/// Runs the helper until `stop` resolves; an error (logged) when it could not run or stopped
/// for another reason.
fn serve(args: Args, stop: impl std::future::Future<Output = ()>) -> Result<(), ()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| tracing::error!("cannot start: {e}"))?;
    runtime
        .block_on(service::run(args, stop))
        .map_err(|e| tracing::error!("stopped: {e}"))
}

fn exit(served: Result<(), ()>) -> std::process::ExitCode {
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(()) => std::process::ExitCode::FAILURE,
    }
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    log::HelperLog::install(args.log_file.as_deref());
    exit(serve(args, async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(e) => {
                tracing::warn!("no SIGTERM handler ({e}); Ctrl-C still stops the helper");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }))
}

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.service {
        return windows_service_main::run(args);
    }
    log::HelperLog::install(args.log_file.as_deref());
    exit(serve(args, async {
        let _ = tokio::signal::ctrl_c().await;
    }))
}
