//! Gathers the helpdesk bundle from every source: the policy, the agent's session history, the
//! helper's tunnel history and OpenVPN log, a fresh posture and egress check, the stored profiles
//! (names and remotes only), the keychain inventory, the logs and the network (with the resolver
//! file). Every part, profile names and remotes included, goes through the bundle's redactor. A
//! source that does not answer in time is listed as missing; the bundle is produced all the same.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use postern_core::diagnostics::{Bundle, BundleBuilder, Origin, Redactor};
use postern_core::egress::{self, CountryDatabase};
use postern_core::identity::{Identity, KeyringStore, SecretStore};
use postern_core::policy::{self, OrgPolicy};
use postern_core::posture;
use postern_core::vpn::ProfileStore;
use postern_ipc::client::HelperClient;

use postern_ipc::agent_client::AgentClient;

/// How long any one source may take before it is reported missing.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct DiagnosticsSources {
    /// The policy named on the command line, if any (otherwise the usual lookup).
    pub policy_file: Option<PathBuf>,
    pub agent_socket: PathBuf,
    pub helper_socket: PathBuf,
    pub profiles: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    /// What is exporting: "postern" (CLI) or "postern-app".
    pub program: String,
}

impl DiagnosticsSources {
    /// This user's usual places.
    pub fn for_this_user(policy_file: Option<PathBuf>, program: &str) -> Self {
        Self {
            policy_file,
            agent_socket: postern_core::paths::agent_socket(),
            helper_socket: postern_ipc::client::socket_path(),
            profiles: ProfileStore::default_dir(),
            state_dir: postern_core::paths::user_state_dir(),
            log_dir: postern_core::diagnostics::logging::log_dir(),
            program: program.into(),
        }
    }
}

async fn bounded<T>(
    what: &str,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(SOURCE_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{what} did not answer within {} s",
                SOURCE_TIMEOUT.as_secs()
            ))
        })
}

pub async fn collect(sources: &DiagnosticsSources) -> Bundle {
    let mut bundle = BundleBuilder::new(Redactor::for_this_user(postern_core::diagnostics::salt()));
    let located = policy::locate(sources.policy_file.as_deref());
    bundle.add_policy(located.as_ref().ok().map(|f| f.path.as_path()));
    let policy: Result<OrgPolicy, String> = match &located {
        Ok(file) => policy::load_file(&file.path).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };

    let session = bounded("the Postern agent", async {
        let mut agent = AgentClient::connect(&sources.agent_socket)
            .await
            .map_err(|e| e.to_string())?;
        let current = agent.status().await.map_err(|e| e.to_string())?;
        let history = agent.history().await.map_err(|e| e.to_string())?;
        Ok(serde_json::json!({ "current": current, "history": history }))
    })
    .await;
    bundle.add_result("session.json", session);

    let helper = bounded("the VPN helper", async {
        let mut helper = HelperClient::connect(&sources.helper_socket, "postern-diagnostics")
            .await
            .map_err(|e| e.to_string())?;
        let current = helper.status().await.map_err(|e| e.to_string())?;
        let history = helper.state_history().await.map_err(|e| e.to_string())?;
        let log = helper.openvpn_log().await.map_err(|e| e.to_string())?;
        Ok((
            serde_json::json!({ "current": current, "history": history }),
            log,
        ))
    })
    .await;
    match helper {
        Ok((states, log)) => {
            bundle.add_json("vpn/state.json", &states);
            bundle.add_text("vpn/openvpn.log", &log.join("\n"));
        }
        Err(reason) => {
            bundle.add_missing("vpn/state.json", &reason);
            bundle.add_missing("vpn/openvpn.log", &reason);
        }
    }

    let store = ProfileStore::new(sources.profiles.clone(), Arc::new(KeyringStore));
    let profiles = store.list().map_err(|e| e.to_string());
    let mut keychain_items: Vec<String> = profiles
        .iter()
        .flatten()
        .map(|p| ProfileStore::key_item(&p.name))
        .collect();
    bundle.add_profiles(profiles.as_deref().map_err(Clone::clone));

    match &policy {
        Ok(policy) => {
            add_posture_and_egress(&mut bundle, policy).await;
            if let Ok(identity) = Identity::new(
                &policy.identity_center,
                Arc::new(KeyringStore),
                sources.state_dir.clone(),
                None,
            ) {
                keychain_items.extend(identity.keychain_items());
            }
        }
        Err(reason) => {
            let reason = format!("no usable organization policy: {reason}");
            bundle.add_missing("posture.json", &reason);
            bundle.add_missing("egress.json", &reason);
        }
    }
    let store: &dyn SecretStore = &KeyringStore;
    bundle.add_keychain_inventory(store, &keychain_items);
    bundle.add_logs(&sources.log_dir);
    bundle.add_network_summary().await;

    bundle.finish(Origin {
        program: sources.program.clone(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        protocols: BTreeMap::from([
            ("helper".into(), postern_ipc::PROTOCOL_VERSION),
            ("agent".into(), postern_ipc::agent::AGENT_PROTOCOL_VERSION),
        ]),
    })
}

async fn add_posture_and_egress(bundle: &mut BundleBuilder, policy: &OrgPolicy) {
    match &policy.posture {
        Some(settings) => {
            let requirements = settings.for_this_os().clone();
            let report = bounded("the posture check", async move {
                tokio::task::spawn_blocking(move || posture::check(&requirements))
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
            bundle.add_result("posture.json", report);
        }
        None => bundle.add_missing("posture.json", "the policy has no [posture] section"),
    }
    match &policy.egress {
        Some(settings) => {
            let report = bounded("the egress check", async {
                let countries = match &settings.geoip_database {
                    Some(path) => Some(CountryDatabase::open(path).map_err(|e| e.to_string())?),
                    None => None,
                };
                Ok(egress::check(settings, countries.as_ref()).await)
            })
            .await;
            bundle.add_result("egress.json", report);
        }
        None => bundle.add_missing("egress.json", "the policy has no [egress] section"),
    }
}
