//! `postern-helper`: the small privileged daemon that runs OpenVPN for Postern.
//!
//! - Listens on a local socket (mode 0660, group `postern`) and checks every peer's credentials
//!   (SO_PEERCRED): root, the allowed group (primary or supplementary), or an allowed uid.
//! - Takes a profile, never OpenVPN arguments; validates the profile again (never trusts the
//!   caller), writes it owner-only in a root-only directory and starts OpenVPN with a fixed
//!   argument list placed after `--config`, so the helper's options win.
//! - One tunnel at a time, owned by the uid that started it (from the peer credentials): only
//!   that uid or root may disconnect it, answer its sign-in, or read its log and history.
//!   Management-interface events become typed states; bounded reconnects.
//! - Bounded: a connection cap per uid, a deadline for Hello and for every frame once begun,
//!   frames buffered only as their bytes arrive.
//! - Never panics on input: every connection is its own task, every error a typed reply.

#[cfg_attr(not(unix), allow(dead_code))]
mod dns;
#[cfg_attr(not(unix), allow(dead_code))]
mod log;
#[cfg(unix)]
mod owner;
#[cfg_attr(not(unix), allow(dead_code))]
mod peer;
#[cfg(unix)]
mod service;
#[cfg(unix)]
mod tunnel;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "postern-helper",
    version,
    about = "Postern's privileged VPN helper"
)]
pub struct Args {
    /// The socket clients connect to.
    #[arg(long, default_value = postern_ipc::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// The group whose members may use the helper (besides root).
    #[arg(long, default_value = "postern")]
    pub group: String,
    /// Additional user ids allowed (for labs and tests).
    #[arg(long = "allow-uid")]
    pub allow_uids: Vec<u32>,
    /// Root-only directory for the running profile and OpenVPN's management socket.
    #[arg(long, default_value = "/run/postern/tunnel")]
    pub state_dir: PathBuf,
    /// The OpenVPN binary.
    #[arg(long, default_value = "/usr/sbin/openvpn")]
    pub openvpn: PathBuf,
    /// An OpenVPN build that can carry real-sized SAML assertions (AWS's). Default: the AWS VPN
    /// Client's bundled binary where it is installed; otherwise stock OpenVPN, whose limit of
    /// 256 characters per management parameter only fits tiny (lab) assertions.
    #[arg(long)]
    pub saml_openvpn: Option<PathBuf>,
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
    /// systemd-resolved on Linux, `scutil` on macOS).
    #[arg(long, default_value = dns::DEFAULT_TOOL)]
    pub resolver_tool: PathBuf,
    /// The helper's own log file (root-only, redacted); standard error gets every line too.
    #[arg(long)]
    pub log_file: Option<PathBuf>,
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    log::HelperLog::install(args.log_file.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("stopped: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    // The Windows service (named pipe with a strict DACL) is not built yet.
    let _ = Args::parse();
    eprintln!("postern-helper: this platform is not supported yet");
    std::process::ExitCode::FAILURE
}
