//! The world the orchestrator drives, behind one small trait per part: IAM Identity Center, the
//! posture probes, the egress echoes, the privileged VPN helper and the profile store (whose keys
//! live in the OS keychain). Production wires the real parts ([`Parts::real`]); the
//! orchestrator's tests wire recording ones. Every failure leaves a part as a typed [`Cause`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use postern_core::credentials::{VendedCredentials, scope_down};
use postern_core::egress::{self, CountryDatabase, EgressSettings, Verdict};
use postern_core::identity::{
    DeviceCodePrompt, Identity, IdentityError, KeychainError, KeyringStore, SignInMethod,
    SignInOptions, SignInPresenter,
};
use postern_core::policy::access::AccessRule;
use postern_core::posture::{self, PostureReport, Requirements};
use postern_core::session::Cause;
use postern_core::vpn::ProfileStore;
use postern_core::vpn::store::ProfileStoreError;
use postern_core::vpn::tunnel::{TunnelFailure, TunnelState};
use postern_ipc::HelperError;
use postern_ipc::client::{HelperClient, HelperClientError};
use tokio::sync::mpsc;

/// A part's work, run by the orchestrator in a task of its own.
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Where a sign-in prompt goes: the address to open and the code to confirm, if any.
pub type Prompt = Arc<dyn Fn(String, Option<String>) + Send + Sync>;

pub trait IdentityCenter: Send + Sync {
    /// Makes sure the person is signed in and holds the role: the stored session is checked
    /// with Identity Center itself, and a sign-in is started (through `prompt`) when it is dead.
    fn sign_in(
        &self,
        account: String,
        role: String,
        open_browser: bool,
        prompt: Prompt,
    ) -> Task<Result<(), Cause>>;
    /// The role's credentials, scoped down to the NAT when the rule says so.
    fn vend(&self, rule: AccessRule) -> Task<Result<VendedCredentials, Cause>>;
}

pub trait PostureCheck: Send + Sync {
    /// Runs the probes (blocking: OS tools).
    fn check(&self, requirements: &Requirements) -> PostureReport;
}

pub trait EgressCheck: Send + Sync {
    fn check(&self, settings: EgressSettings) -> Task<Result<Verdict, Cause>>;
}

pub trait Helper: Send + Sync {
    /// Brings the tunnel of `profile` up and forwards its states into `states` until the helper
    /// stops watching. Refusals of the tunnel itself arrive as a `Failed` state; a helper that
    /// cannot be used is the error.
    fn tunnel(
        &self,
        profile: String,
        text: String,
        states: mpsc::Sender<TunnelState>,
    ) -> Task<Result<(), Cause>>;
    fn disconnect(&self) -> Task<()>;
}

pub trait Profiles: Send + Sync {
    fn list(&self) -> Result<Vec<String>, Cause>;
    /// The profile as OpenVPN gets it (with its key from the keychain).
    fn render(&self, name: &str) -> Result<String, Cause>;
}

#[derive(Clone)]
pub struct Parts {
    pub identity: Arc<dyn IdentityCenter>,
    pub posture: Arc<dyn PostureCheck>,
    pub egress: Arc<dyn EgressCheck>,
    pub helper: Arc<dyn Helper>,
    pub profiles: Arc<dyn Profiles>,
}

impl Parts {
    pub fn real(
        identity: Identity,
        region: String,
        nat: Vec<ipnet::IpNet>,
        helper_socket: PathBuf,
        profiles: PathBuf,
    ) -> Self {
        Parts {
            identity: Arc::new(RealIdentity {
                identity: Arc::new(identity),
                region,
                nat,
            }),
            posture: Arc::new(RealPosture),
            egress: Arc::new(RealEgress),
            helper: Arc::new(RealHelper {
                socket: helper_socket,
            }),
            profiles: Arc::new(RealProfiles { dir: profiles }),
        }
    }
}

/// The cause a keychain failure is, wherever it surfaced.
pub fn keychain_cause(e: &KeychainError) -> Cause {
    match e {
        KeychainError::Locked { .. } => Cause::KeychainLocked {
            detail: e.to_string(),
        },
        _ => Cause::KeychainUnavailable {
            detail: e.to_string(),
        },
    }
}

/// Identity Center's errors as the session's causes: an outage is not "sign in again".
pub fn identity_cause(e: &IdentityError) -> Cause {
    use IdentityError as I;
    let detail = e.to_string();
    match e {
        I::Keychain(k) => keychain_cause(k),
        I::Unreachable { .. } | I::TimedOut { .. } => Cause::IdentityCenterUnreachable { detail },
        I::ServiceFault { .. } | I::Throttled => Cause::IdentityCenterFault { detail },
        I::Rejected { .. } | I::Protocol { .. } | I::WrongRegion { .. } | I::BadEndpoint { .. } => {
            Cause::IdentityCenterDenied { detail }
        }
        I::NotSignedIn { .. }
        | I::SessionEnded { .. }
        | I::ClientRejected { .. }
        | I::CodeExpired
        | I::Denied
        | I::BrowserTimedOut { .. }
        | I::Busy
        | I::Listener { .. }
        | I::Export { .. } => Cause::SignInFailed { detail },
    }
}

pub fn profile_cause(e: &ProfileStoreError) -> Cause {
    match e {
        ProfileStoreError::Keychain(k) => keychain_cause(k),
        _ => Cause::ProfileStoreUnreadable {
            detail: e.to_string(),
        },
    }
}

pub fn helper_cause(e: &HelperClientError) -> Cause {
    match e {
        HelperClientError::Refused(HelperError::ProtocolMismatch { helper, client }) => {
            Cause::HelperVersion {
                helper: *helper,
                agent: *client,
            }
        }
        _ => Cause::HelperUnavailable {
            detail: e.to_string(),
        },
    }
}

struct Presenter(Prompt);

impl SignInPresenter for Presenter {
    fn device_code(&self, p: &DeviceCodePrompt) {
        (self.0)(
            p.verification_uri_complete
                .clone()
                .unwrap_or_else(|| p.verification_uri.clone()),
            Some(p.user_code.clone()),
        );
    }

    fn browser(&self, url: &url::Url, _opened: bool) {
        (self.0)(url.to_string(), None);
    }
}

struct RealIdentity {
    identity: Arc<Identity>,
    region: String,
    nat: Vec<ipnet::IpNet>,
}

impl IdentityCenter for RealIdentity {
    fn sign_in(
        &self,
        account: String,
        role: String,
        open_browser: bool,
        prompt: Prompt,
    ) -> Task<Result<(), Cause>> {
        let identity = self.identity.clone();
        Box::pin(async move {
            let checked = match identity.has_role(&account, &role).await {
                Err(
                    IdentityError::NotSignedIn { .. }
                    | IdentityError::SessionEnded { .. }
                    | IdentityError::ClientRejected { .. },
                ) => {
                    let options = SignInOptions {
                        method: SignInMethod::DeviceCode,
                        open_browser,
                        ..SignInOptions::default()
                    };
                    match identity.sign_in(&options, &Presenter(prompt)).await {
                        Ok(_) => identity.has_role(&account, &role).await,
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            match checked {
                Ok(true) => Ok(()),
                Ok(false) => Err(Cause::RoleNotGranted { account, role }),
                Err(e) => Err(identity_cause(&e)),
            }
        })
    }

    fn vend(&self, rule: AccessRule) -> Task<Result<VendedCredentials, Cause>> {
        let (identity, region, nat) =
            (self.identity.clone(), self.region.clone(), self.nat.clone());
        Box::pin(async move {
            let portal = identity
                .role_credentials(&rule.account, &rule.role)
                .await
                .map_err(|e| identity_cause(&e))?;
            match &rule.scope_down {
                Some(arn) => scope_down::assume(
                    &portal,
                    &rule.account,
                    &rule.role,
                    arn,
                    &region,
                    &nat,
                    rule.max_duration,
                )
                .await
                .map_err(|e| Cause::ScopeDownRefused { detail: e.detail }),
                None => Ok(VendedCredentials {
                    account: rule.account.clone(),
                    role: rule.role.clone(),
                    access_key_id: portal.access_key_id,
                    secret_access_key: portal.secret_access_key,
                    session_token: portal.session_token,
                    expiration: portal.expiration,
                }),
            }
        })
    }
}

struct RealPosture;

impl PostureCheck for RealPosture {
    fn check(&self, requirements: &Requirements) -> PostureReport {
        posture::check(requirements)
    }
}

struct RealEgress;

impl EgressCheck for RealEgress {
    fn check(&self, settings: EgressSettings) -> Task<Result<Verdict, Cause>> {
        Box::pin(async move {
            // A country database the policy names but that cannot be opened closes the gate:
            // checking without it would let any country through.
            let countries = match &settings.geoip_database {
                Some(path) => Some(CountryDatabase::open(path).map_err(|e| {
                    Cause::CountryDatabaseUnreadable {
                        path: e.path,
                        detail: e.detail,
                    }
                })?),
                None => None,
            };
            Ok(egress::check(&settings, countries.as_ref()).await.verdict)
        })
    }
}

struct RealHelper {
    socket: PathBuf,
}

impl Helper for RealHelper {
    fn tunnel(
        &self,
        profile: String,
        text: String,
        states: mpsc::Sender<TunnelState>,
    ) -> Task<Result<(), Cause>> {
        let socket = self.socket.clone();
        Box::pin(async move {
            let mut control = HelperClient::connect(&socket, "postern-agent")
                .await
                .map_err(|e| helper_cause(&e))?;
            // A fresh Connect starts over: a tunnel of this profile still up or reconnecting
            // from the previous attempt is ours, and is taken down first.
            if let Ok(current) = control.status().await
                && !current.is_final()
                && current.profile() == Some(profile.as_str())
            {
                tracing::info!(profile, "taking down the previous attempt's tunnel");
                let _ = control.disconnect().await;
            }
            if let Err(e) = control.connect_tunnel(&profile, &text).await {
                let failure = match e {
                    HelperClientError::Refused(HelperError::Tunnel { failure }) => failure,
                    HelperClientError::Refused(
                        HelperError::ProtocolMismatch { .. } | HelperError::NotAllowed { .. },
                    )
                    | HelperClientError::NotRunning { .. }
                    | HelperClientError::NoPermission { .. }
                    | HelperClientError::Broken(_) => return Err(helper_cause(&e)),
                    other => TunnelFailure::Fatal {
                        message: other.to_string(),
                    },
                };
                let _ = states
                    .send(TunnelState::Failed {
                        profile: profile.clone(),
                        cause: failure,
                    })
                    .await;
                return Ok(());
            }
            let watch = HelperClient::connect(&socket, "postern-agent")
                .await
                .map_err(|e| helper_cause(&e))?;
            let mut stream = watch.watch().await.map_err(|e| helper_cause(&e))?;
            while let Some(state) = stream.next().await {
                if states.send(state).await.is_err() {
                    return Ok(());
                }
            }
            // The helper went away while the tunnel was ours: it cannot be trusted.
            Err(Cause::HelperUnavailable {
                detail: "the VPN helper stopped".into(),
            })
        })
    }

    fn disconnect(&self) -> Task<()> {
        let socket = self.socket.clone();
        Box::pin(async move {
            if let Ok(mut helper) = HelperClient::connect(&socket, "postern-agent").await {
                let _ = helper.disconnect().await;
            }
        })
    }
}

struct RealProfiles {
    dir: PathBuf,
}

impl RealProfiles {
    fn store(&self) -> ProfileStore {
        ProfileStore::new(self.dir.clone(), Arc::new(KeyringStore))
    }
}

impl Profiles for RealProfiles {
    fn list(&self) -> Result<Vec<String>, Cause> {
        // No folder yet is no profile; a folder that cannot be read is a problem to name.
        if self.dir.exists()
            && let Err(e) = std::fs::read_dir(&self.dir)
        {
            return Err(Cause::ProfileStoreUnreadable {
                detail: format!("{}: {e}", self.dir.display()),
            });
        }
        self.store()
            .list()
            .map(|l| l.into_iter().map(|p| p.name).collect())
            .map_err(|e| profile_cause(&e))
    }

    fn render(&self, name: &str) -> Result<String, Cause> {
        self.store()
            .load(name)
            .map(|p| p.render(true))
            .map_err(|e| profile_cause(&e))
    }
}
