//! `postern vpn …`: profiles (local) and the tunnel (through the privileged helper).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use postern_core::identity::KeyringStore;
use postern_core::vpn::ProfileStore;
use postern_core::vpn::tunnel::{TunnelFailure, TunnelState};
use postern_ipc::HelperError;
use postern_ipc::client::{HelperClient, HelperClientError, socket_path};

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
    Connect { name: String },
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

pub async fn run(command: VpnCommand) -> Result<(), Failure> {
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
        VpnCommand::Connect { name } => connect(&name).await?,
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
                show(&client.status().await?, json);
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
        } => {
            format!(
                "VPN: connected '{profile}' (tunnel address {tunnel_ip}, endpoint {endpoint_ip})"
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
        TunnelState::Disconnecting { profile } => format!("VPN: disconnecting '{profile}'"),
        TunnelState::Failed { profile, cause } => format!("VPN: '{profile}' failed: {cause}"),
    }
}

async fn connect(name: &str) -> Result<(), Failure> {
    let profile = store().load(name)?;
    let mut client = helper().await?;
    let socket = socket_path();
    match client.connect_tunnel(name, &profile.render(true)).await {
        Ok(_) => {}
        Err(HelperClientError::Refused(HelperError::Tunnel { failure: cause })) => {
            return Err(cause.into());
        }
        Err(e) => return Err(e.into()),
    }
    eprintln!("Connecting '{name}'...");
    let mut states = HelperClient::connect(&socket, "postern-cli")
        .await?
        .watch()
        .await?;
    // The helper bounds the attempt itself; this only guards against a helper that hangs.
    let wait = tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(state) = states.next().await {
            match state {
                TunnelState::Connected { .. } => return Ok(state),
                TunnelState::Failed { cause, .. } => return Err(Failure::from(cause)),
                TunnelState::Disconnected => {
                    return Err(TunnelFailure::Fatal {
                        message: "the tunnel was stopped".into(),
                    }
                    .into());
                }
                _ => {}
            }
        }
        Err(HelperClientError::Broken("the helper closed the connection".into()).into())
    })
    .await;
    match wait {
        Ok(Ok(state)) => {
            println!("{}", describe(&state));
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(HelperClientError::Broken(
            "no answer from the helper within 3 minutes".into(),
        )
        .into()),
    }
}
