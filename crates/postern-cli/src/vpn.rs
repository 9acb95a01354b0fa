//! `postern vpn …`: profiles (local) and the tunnel (through the privileged helper).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use postern_agent::parts::{Helper, PreparedProfile};
use postern_agent::tunnel::{TunnelDriver, VpnSignIn};
use postern_core::identity::KeyringStore;
use postern_core::policy;
use postern_core::session::Cause;
use postern_core::vpn::ProfileStore;
use postern_core::vpn::saml::PlainHttp;
use postern_core::vpn::tunnel::{TunnelFailure, TunnelState};
use postern_ipc::client::{HelperClient, HelperClientError, socket_path};
use tokio::sync::mpsc;

use crate::output::{Failure, print_json};

#[derive(Subcommand)]
pub enum VpnCommand {
    /// Check a Client VPN profile (.ovpn) and keep it: its private key goes to the keychain.
    Import {
        file: PathBuf,
        /// The name to use (default: the file name without .ovpn).
        #[arg(long)]
        name: Option<String>,
    },
    /// List imported profiles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an imported profile and its key.
    Remove { name: String },
    /// Bring the tunnel up with an imported profile and wait until it is connected.
    Connect {
        name: String,
        /// For SAML profiles: print the sign-in address instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// Take the tunnel down.
    Disconnect,
    /// Show the tunnel's state; `--watch` follows it.
    Status {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        watch: bool,
    },
}

impl VpnCommand {
    pub fn wants_json(&self) -> bool {
        matches!(
            self,
            VpnCommand::List { json: true } | VpnCommand::Status { json: true, .. }
        )
    }
}

fn store() -> ProfileStore {
    ProfileStore::new(ProfileStore::default_dir(), Arc::new(KeyringStore))
}

async fn helper() -> Result<HelperClient, Failure> {
    Ok(HelperClient::connect(&socket_path(), "postern-cli").await?)
}

/// `policy_file` is `--policy`: the policy says whether a lab's plain-http sign-in page opens.
pub async fn run(policy_file: Option<&Path>, command: VpnCommand) -> Result<(), Failure> {
    match command {
        VpnCommand::Import { file, name } => {
            let s = store().import(&file, name.as_deref())?;
            println!(
                "Imported VPN profile '{}' ({}).",
                s.name,
                s.remotes.join(", ")
            );
        }
        VpnCommand::List { json } => {
            let profiles = store().list()?;
            if json {
                print_json("vpn-profiles", &serde_json::json!({ "profiles": profiles }));
            } else if profiles.is_empty() {
                println!(
                    "No VPN profiles. Import the one your IT department sent: postern vpn import FILE"
                );
            } else {
                for p in profiles {
                    println!("{}  {}", p.name, p.remotes.join(", "));
                }
            }
        }
        VpnCommand::Remove { name } => {
            store().remove(&name)?;
            println!("Removed VPN profile '{name}'.");
        }
        VpnCommand::Connect { name, no_browser } => {
            connect(&name, !no_browser, policy_file).await?
        }
        VpnCommand::Disconnect => {
            let state = helper().await?.disconnect().await?;
            println!("{}", describe(&state));
        }
        VpnCommand::Status { json, watch } => {
            let client = helper().await?;
            if watch {
                let mut states = client.watch().await?;
                while let Some(state) = states.next().await {
                    show(&state, json);
                }
            } else {
                let mut client = client;
                let state = client.status().await?;
                show(&state, json);
                if state.is_connected() && !json {
                    let (received, sent) = client.traffic().await?;
                    println!("traffic: {received} bytes received, {sent} sent");
                }
            }
        }
    }
    Ok(())
}

fn show(state: &TunnelState, json: bool) {
    if json {
        print_json("vpn-status", state);
    } else {
        println!("{}", describe(state));
    }
}

pub fn describe(state: &TunnelState) -> String {
    match state {
        TunnelState::Disconnected => "VPN: disconnected".into(),
        TunnelState::Connecting { profile, phase } => {
            format!("VPN: connecting '{profile}' ({phase})")
        }
        TunnelState::Connected {
            profile,
            tunnel_ip,
            endpoint_ip,
            dns,
        } => {
            format!(
                "VPN: connected '{profile}' (tunnel address {tunnel_ip}, endpoint {endpoint_ip})\n{}",
                dns.describe()
            )
        }
        TunnelState::Reconnecting {
            profile,
            attempt,
            max,
            reason,
        } => {
            format!("VPN: reconnecting '{profile}' (attempt {attempt} of {max}: {reason})")
        }
        TunnelState::AwaitingBrowser { profile, url } => {
            format!("VPN: '{profile}' waits for you to sign in: {url}")
        }
        TunnelState::Disconnecting { profile } => format!("VPN: disconnecting '{profile}'"),
        TunnelState::Failed { profile, cause } => format!("VPN: '{profile}' failed: {cause}"),
    }
}

async fn connect(
    name: &str,
    open_browser: bool,
    policy_file: Option<&Path>,
) -> Result<(), Failure> {
    let profile = store().load(name)?;
    // Without a readable policy only https:// sign-in pages open.
    let policy = policy::load(policy_file).ok().map(|(p, _)| p);
    let driver = TunnelDriver::new(
        socket_path(),
        VpnSignIn {
            open_browser,
            plain_http: PlainHttp::from_policy(policy.as_ref()),
        },
        "postern-cli",
    );
    let prepared = PreparedProfile::of(name, &profile);
    eprintln!("Connecting '{name}'...");
    let (states, mut received) = mpsc::channel(16);
    // The driver owns the sender: once it ends, the states it sent are read, then `None`.
    let driving = tokio::spawn(driver.tunnel(prepared, states));
    // The helper bounds every attempt itself; this only guards against a helper that hangs.
    let wait = tokio::time::timeout(Duration::from_secs(600), async {
        while let Some(state) = received.recv().await {
            match state {
                TunnelState::Connected { .. } => return Ok(state),
                TunnelState::Failed { cause, .. } => return Err(Failure::from(cause)),
                TunnelState::Disconnected => {
                    return Err(TunnelFailure::Fatal {
                        message: "the tunnel was stopped".into(),
                    }
                    .into());
                }
                TunnelState::AwaitingBrowser { url, .. } => {
                    eprintln!("Sign in to the VPN in your browser.\nOpen: {url}");
                }
                _ => {}
            }
        }
        // The driver stopped without a final state: it says why.
        let cause = match driving.await {
            Ok(Err(cause)) => cause,
            _ => Cause::HelperUnavailable {
                trouble: Default::default(),
                detail: "the helper stopped reporting the tunnel".into(),
            },
        };
        Err(Failure::from(cause))
    })
    .await;
    match wait {
        Ok(Ok(state)) => {
            println!("{}", describe(&state));
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(HelperClientError::Broken(
            "no answer from the helper within 10 minutes".into(),
        )
        .into()),
    }
}
