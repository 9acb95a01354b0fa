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
    DeviceCodePrompt, Identity, IdentityError, KeychainError, SecretStore, SignInMethod,
    SignInOptions, SignInPresenter,
};
use postern_core::policy::access::AccessRule;
use postern_core::posture::{self, PostureReport, Requirements};
use postern_core::session::{Cause, HelperTrouble};
use postern_core::vpn::store::ProfileStoreError;
use postern_core::vpn::tunnel::TunnelState;
use postern_core::vpn::{AuthMode, Profile, ProfileStore};
use postern_ipc::HelperError;
use postern_ipc::client::HelperClientError;
use tokio::sync::mpsc;

use crate::tunnel::{TunnelDriver, VpnSignIn};

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

/// A profile ready for the helper: its name, OpenVPN's text (with its key from the keychain),
/// and whether the endpoint signs in by SAML (`auth-federate`).
#[derive(Debug, Clone)]
pub struct PreparedProfile {
    pub name: String,
    pub text: String,
    pub federated: bool,
}

impl PreparedProfile {
    pub fn of(name: &str, profile: &Profile) -> Self {
        PreparedProfile {
            name: name.to_string(),
            text: profile.render(true),
            federated: profile.auth == AuthMode::Federated,
        }
    }
}

pub trait Helper: Send + Sync {
    /// Brings the tunnel of `profile` up (signing in to the VPN when it asks) and forwards its
    /// states into `states` until the helper stops watching. Refusals of the tunnel itself
    /// arrive as a `Failed` state; a helper that cannot be used is the error.
    fn tunnel(
        &self,
        profile: PreparedProfile,
        states: mpsc::Sender<TunnelState>,
    ) -> Task<Result<(), Cause>>;
    fn disconnect(&self) -> Task<()>;
}

pub trait Profiles: Send + Sync {
    fn list(&self) -> Result<Vec<String>, Cause>;
    fn prepare(&self, name: &str) -> Result<PreparedProfile, Cause>;
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
        vpn_sign_in: VpnSignIn,
        profiles: PathBuf,
        secrets: Arc<dyn SecretStore>,
    ) -> Self {
        Parts {
            identity: Arc::new(RealIdentity {
                identity: Arc::new(identity),
                region,
                nat,
            }),
            posture: Arc::new(RealPosture),
            egress: Arc::new(RealEgress),
            helper: Arc::new(TunnelDriver::new(
                helper_socket,
                vpn_sign_in,
                "postern-agent",
            )),
            profiles: Arc::new(RealProfiles {
                dir: profiles,
                secrets,
            }),
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
            trouble: match e {
                HelperClientError::NoPermission { .. }
                | HelperClientError::Refused(HelperError::NotAllowed { .. }) => {
                    HelperTrouble::NotPermitted
                }
                #[cfg(unix)]
                HelperClientError::Untrusted(_) => HelperTrouble::Untrusted,
                _ => HelperTrouble::Unreachable,
            },
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

struct RealProfiles {
    dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
}

impl RealProfiles {
    fn store(&self) -> ProfileStore {
        ProfileStore::new(self.dir.clone(), self.secrets.clone())
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

    fn prepare(&self, name: &str) -> Result<PreparedProfile, Cause> {
        let profile = self.store().load(name).map_err(|e| profile_cause(&e))?;
        Ok(PreparedProfile::of(name, &profile))
    }
}
