//! Signing the employee in to IAM Identity Center and keeping that session alive.
//!
//! - Sign-in by device code (for remote shells) or by PKCE with a loopback listener.
//! - One client registration (scope `sso:account:access`, device-code, authorization-code and
//!   refresh grants) reused until an hour before it expires.
//! - Refresh before expiry; `invalid_grant` means "sign in again".
//! - Single flight across processes: a lock file, then re-read the keychain.
//! - Every secret in the OS keychain ([`postern_keychain`]); the AWS CLI cache export is opt-in.

mod cli_cache;
mod error;
mod oidc;
mod pkce;
mod portal;
mod records;
mod secret;
mod single_flight;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

pub use cli_cache::SSO_SESSION_NAME;
pub use error::IdentityError;
pub use oidc::Endpoints;
pub use portal::{Account, RoleCredentials};
#[cfg(any(test, feature = "test-support"))]
pub use postern_keychain::MemoryStore;
pub use postern_keychain::{KeychainError, KeyringStore, SecretStore, keychain_calls_in_progress};
pub use records::{ClientRegistration, Freshness, SignInMethod, TokenSet};
pub use secret::SecretText;

use oidc::{OidcClient, PollOutcome};
use pkce::{CallbackListener, PkceAttempt};
use portal::PortalClient;

use crate::policy::IdentityCenter;

/// How long an interactive sign-in may hold the single-flight lock before waiters give up.
const SIGN_IN_LOCK_WAIT: Duration = Duration::from_secs(15 * 60);
/// How long a refresh may keep other processes waiting.
const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(60);
/// Added to the polling interval on every `slow_down`, as RFC 8628 §3.5 asks.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

pub struct SignInOptions {
    pub method: SignInMethod,
    pub open_browser: bool,
    pub export_cli_cache: bool,
    /// How long PKCE waits for the browser to come back (10 minutes by default).
    pub browser_timeout: Duration,
}

impl Default for SignInOptions {
    fn default() -> Self {
        Self {
            method: SignInMethod::Pkce,
            open_browser: true,
            export_cli_cache: false,
            browser_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// What the device-code flow asks the user to do.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodePrompt {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub browser_opened: bool,
}

/// How a sign-in talks to the person: the CLI prints, the app renders it from its state.
pub trait SignInPresenter: Send + Sync {
    fn device_code(&self, prompt: &DeviceCodePrompt);
    fn browser(&self, url: &Url, opened: bool);
}

/// What `whoami` shows: never a secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub start_url: String,
    pub region: String,
    pub method: SignInMethod,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_in_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub refreshable: bool,
    pub aws_cli_cache_exported: bool,
}

impl From<&TokenSet> for SessionInfo {
    fn from(t: &TokenSet) -> Self {
        Self {
            start_url: t.start_url.clone(),
            region: t.region.clone(),
            method: t.method,
            signed_in_at: t.signed_in_at,
            expires_at: t.expires_at,
            refreshable: t.refresh_token.is_some(),
            aws_cli_cache_exported: t.export_cli_cache,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOutReport {
    pub was_signed_in: bool,
    /// `None` when the portal confirmed the logout; otherwise why it could not.
    pub portal_logout_error: Option<String>,
    pub removed_aws_cli_cache: bool,
}

/// The employee's Identity Center session, as one object every door shares.
pub struct Identity {
    start_url: String,
    region: String,
    endpoints: Endpoints,
    oidc: OidcClient,
    store: Arc<dyn SecretStore>,
    lock_file: PathBuf,
    aws_dir: Option<PathBuf>,
}

impl Identity {
    pub fn new(
        settings: &IdentityCenter,
        store: Arc<dyn SecretStore>,
        state_dir: PathBuf,
        aws_dir: Option<PathBuf>,
    ) -> Result<Self, IdentityError> {
        let endpoints = Endpoints::resolve(
            &settings.region,
            settings.oidc_endpoint.as_ref(),
            settings.portal_endpoint.as_ref(),
        )
        .map_err(|detail| IdentityError::BadEndpoint { detail })?;
        let start_url = settings.start_url.as_str().to_string();
        Ok(Self {
            oidc: OidcClient::new(&settings.region, &endpoints.oidc),
            lock_file: single_flight::lock_path(&state_dir, &start_url),
            region: settings.region.clone(),
            start_url,
            endpoints,
            store,
            aws_dir,
        })
    }

    pub fn start_url(&self) -> &str {
        &self.start_url
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The keychain items this identity may hold (for the diagnostics inventory; never values).
    pub fn keychain_items(&self) -> Vec<String> {
        vec![self.token_key(), self.client_key()]
    }

    fn token_key(&self) -> String {
        format!("sso-token:{}", self.start_url)
    }

    fn client_key(&self) -> String {
        format!("oidc-client:{}:{}", self.region, self.start_url)
    }

    fn load<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, IdentityError> {
        match self.store.get(key)? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|_| KeychainError::Corrupt { key: key.into() }.into()),
        }
    }

    fn save<T: Serialize>(&self, key: &str, value: &T) -> Result<(), IdentityError> {
        let json = serde_json::to_string(value).map_err(|e| KeychainError::Failed {
            detail: e.to_string(),
        })?;
        Ok(self.store.set(key, &json)?)
    }

    /// The stored token set, if any (no network, no refresh).
    pub fn stored_token(&self) -> Result<Option<TokenSet>, IdentityError> {
        self.load(&self.token_key())
    }

    async fn registration(&self) -> Result<ClientRegistration, IdentityError> {
        let now = OffsetDateTime::now_utc();
        if let Ok(Some(reg)) = self.load::<ClientRegistration>(&self.client_key())
            && reg.usable_at(now)
        {
            return Ok(reg);
        }
        // Missing, unreadable or about to expire: register again (cheap and unprivileged).
        let reg = self.oidc.register(&self.start_url).await?;
        self.save(&self.client_key(), &reg)?;
        Ok(reg)
    }

    /// Signs in interactively. Waits for (and does not repeat) a sign-in another process is
    /// already doing.
    pub async fn sign_in(
        &self,
        options: &SignInOptions,
        presenter: &dyn SignInPresenter,
    ) -> Result<SessionInfo, IdentityError> {
        let asked_at = OffsetDateTime::now_utc();
        let _lock = single_flight::acquire(&self.lock_file, SIGN_IN_LOCK_WAIT).await?;
        if let Ok(Some(token)) = self.stored_token()
            && token.signed_in_at >= asked_at
        {
            return Ok(SessionInfo::from(&token));
        }
        let mut reg = self.registration().await?;
        let grant = match self.flow(&reg, options, presenter).await {
            // A stored registration Identity Center no longer accepts (revoked, or made against
            // another instance): register again, once.
            Err(IdentityError::ClientRejected { .. }) => {
                self.store.delete(&self.client_key())?;
                reg = self.registration().await?;
                self.flow(&reg, options, presenter).await?
            }
            other => other?,
        };
        let token = TokenSet {
            start_url: self.start_url.clone(),
            region: self.region.clone(),
            access_token: grant.access_token,
            expires_at: grant.expires_at,
            refresh_token: grant.refresh_token,
            signed_in_at: OffsetDateTime::now_utc(),
            method: options.method,
            export_cli_cache: options.export_cli_cache,
        };
        self.save(&self.token_key(), &token)?;
        self.export_cli_cache(&token, &reg)?;
        Ok(SessionInfo::from(&token))
    }

    async fn flow(
        &self,
        reg: &ClientRegistration,
        options: &SignInOptions,
        presenter: &dyn SignInPresenter,
    ) -> Result<oidc::Grant, IdentityError> {
        match options.method {
            SignInMethod::DeviceCode => self.device_code_flow(reg, options, presenter).await,
            SignInMethod::Pkce => self.pkce_flow(reg, options, presenter).await,
        }
    }

    async fn device_code_flow(
        &self,
        reg: &ClientRegistration,
        options: &SignInOptions,
        presenter: &dyn SignInPresenter,
    ) -> Result<oidc::Grant, IdentityError> {
        let auth = self
            .oidc
            .start_device_authorization(reg, &self.start_url)
            .await?;
        let target = auth
            .verification_uri_complete
            .clone()
            .unwrap_or_else(|| auth.verification_uri.clone());
        let browser_opened = options.open_browser && webbrowser::open(&target).is_ok();
        let deadline = tokio::time::Instant::now() + auth.expires_in;
        presenter.device_code(&DeviceCodePrompt {
            user_code: auth.user_code.clone(),
            verification_uri: auth.verification_uri.clone(),
            verification_uri_complete: auth.verification_uri_complete.clone(),
            expires_at: OffsetDateTime::now_utc() + auth.expires_in,
            browser_opened,
        });
        let mut interval = auth.interval;
        loop {
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(IdentityError::CodeExpired);
            }
            match self.oidc.poll_device_token(reg, &auth.device_code).await {
                Ok(grant) => return Ok(grant),
                Err(PollOutcome::Pending) => {}
                Err(PollOutcome::SlowDown) => interval += SLOW_DOWN_STEP,
                Err(PollOutcome::Failed(e)) => return Err(e),
            }
        }
    }

    async fn pkce_flow(
        &self,
        reg: &ClientRegistration,
        options: &SignInOptions,
        presenter: &dyn SignInPresenter,
    ) -> Result<oidc::Grant, IdentityError> {
        let listener = CallbackListener::bind().await?;
        let redirect_uri = listener.redirect_uri();
        let attempt = PkceAttempt::new();
        let url = attempt.authorize_url(
            &self.endpoints.authorize_url(),
            &reg.client_id,
            &redirect_uri,
        );
        let opened = options.open_browser && webbrowser::open(url.as_str()).is_ok();
        presenter.browser(&url, opened);
        let code = listener
            .wait_for_code(attempt.state.secret(), options.browser_timeout)
            .await?;
        self.oidc
            .exchange_code(reg, &code, &redirect_uri, attempt.verifier.secret())
            .await
    }

    /// A valid access token, refreshed first when due. Exactly one process refreshes; the
    /// others wait for it and read its result.
    pub async fn access_token(&self) -> Result<SecretText, IdentityError> {
        let token = self.require_token()?;
        if token.freshness(OffsetDateTime::now_utc()) == Freshness::Fresh {
            return Ok(token.access_token);
        }
        let _lock = single_flight::acquire(&self.lock_file, REFRESH_LOCK_WAIT).await?;
        let token = self.require_token()?;
        match token.freshness(OffsetDateTime::now_utc()) {
            Freshness::Fresh => Ok(token.access_token),
            freshness => match self.refresh(&token).await {
                Ok(fresh) => Ok(fresh.access_token),
                // A network hiccup while the token is still valid is no reason to fail.
                Err(
                    IdentityError::Unreachable { .. }
                    | IdentityError::TimedOut { .. }
                    | IdentityError::Throttled
                    | IdentityError::ServiceFault { .. },
                ) if freshness == Freshness::RefreshDue => Ok(token.access_token),
                Err(e) => Err(e),
            },
        }
    }

    fn require_token(&self) -> Result<TokenSet, IdentityError> {
        self.stored_token()?
            .ok_or_else(|| IdentityError::NotSignedIn {
                start_url: self.start_url.clone(),
            })
    }

    async fn refresh(&self, token: &TokenSet) -> Result<TokenSet, IdentityError> {
        let ended = |reason: &str| IdentityError::SessionEnded {
            reason: reason.into(),
        };
        let Some(refresh_token) = &token.refresh_token else {
            return Err(ended("the sign-in expired and cannot be renewed"));
        };
        let reg = match self.load::<ClientRegistration>(&self.client_key())? {
            Some(reg) if !reg.expired_at(OffsetDateTime::now_utc()) => reg,
            _ => {
                return Err(ended(
                    "this app's registration with Identity Center expired",
                ));
            }
        };
        let grant = match self.oidc.refresh(&reg, refresh_token).await {
            Ok(grant) => grant,
            Err(e @ IdentityError::SessionEnded { .. }) => {
                // The refresh token is dead: forget it so nothing retries with it.
                self.store.delete(&self.token_key())?;
                return Err(e);
            }
            Err(e @ IdentityError::ClientRejected { .. }) => {
                // So is the registration it was issued to: the next sign-in registers anew.
                self.store.delete(&self.token_key())?;
                self.store.delete(&self.client_key())?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let fresh = TokenSet {
            access_token: grant.access_token,
            expires_at: grant.expires_at,
            // Identity Center may rotate the refresh token; keep the old one if it did not.
            refresh_token: grant.refresh_token.or_else(|| token.refresh_token.clone()),
            ..token.clone()
        };
        self.save(&self.token_key(), &fresh)?;
        self.export_cli_cache(&fresh, &reg)?;
        Ok(fresh)
    }

    fn export_cli_cache(
        &self,
        token: &TokenSet,
        reg: &ClientRegistration,
    ) -> Result<(), IdentityError> {
        if !token.export_cli_cache {
            return Ok(());
        }
        let Some(aws_dir) = &self.aws_dir else {
            return Ok(());
        };
        let path = cli_cache::cache_file(aws_dir);
        cli_cache::write(&path, token, reg).map_err(|e| IdentityError::Export {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    /// The session as `whoami` shows it, refreshed first if due.
    pub async fn session(&self) -> Result<SessionInfo, IdentityError> {
        self.access_token().await?;
        Ok(SessionInfo::from(&self.require_token()?))
    }

    /// Accounts and their roles, every page.
    pub async fn accounts(&self) -> Result<Vec<Account>, IdentityError> {
        self.with_portal_token(|portal, token| async move { portal.accounts(&token).await })
            .await
    }

    /// Asks Identity Center whether the session is alive and gives this role: a token that
    /// only looks valid here (revoked, or issued by another instance) fails now, not later.
    pub async fn has_role(&self, account_id: &str, role_name: &str) -> Result<bool, IdentityError> {
        self.with_portal_token(|portal, token| async move {
            portal.has_role(&token, account_id, role_name).await
        })
        .await
    }

    pub async fn role_credentials(
        &self,
        account_id: &str,
        role_name: &str,
    ) -> Result<RoleCredentials, IdentityError> {
        self.with_portal_token(|portal, token| async move {
            portal.role_credentials(&token, account_id, role_name).await
        })
        .await
    }

    /// Runs a portal call; when the portal rejects a token that looked valid here (revoked or
    /// expired server side), refreshes once and retries before asking for a new sign-in.
    ///
    /// Each call gets a new portal client, so no pooled connection outlives a route change: one
    /// opened before the VPN came up would still carry the laptop's own address and hang.
    async fn with_portal_token<T, F, Fut>(&self, call: F) -> Result<T, IdentityError>
    where
        F: Fn(PortalClient, SecretText) -> Fut,
        Fut: std::future::Future<Output = Result<T, IdentityError>>,
    {
        let portal = || PortalClient::new(&self.region, &self.endpoints.portal);
        match call(portal(), self.access_token().await?).await {
            Err(IdentityError::SessionEnded { .. }) => {
                let _lock = single_flight::acquire(&self.lock_file, REFRESH_LOCK_WAIT).await?;
                let token = self.refresh(&self.require_token()?).await?;
                call(portal(), token.access_token).await
            }
            other => other,
        }
    }

    /// Ends the session at Identity Center (best effort: local secrets go regardless) and
    /// deletes every secret Postern stored for it.
    pub async fn sign_out(&self) -> Result<SignOutReport, IdentityError> {
        let token = self.stored_token().unwrap_or(None);
        let portal_logout_error = match &token {
            Some(t) => PortalClient::new(&self.region, &self.endpoints.portal)
                .logout(&t.access_token)
                .await
                .err()
                .map(|e| e.to_string()),
            None => None,
        };
        self.store.delete(&self.token_key())?;
        self.store.delete(&self.client_key())?;
        let removed_aws_cli_cache = match &self.aws_dir {
            Some(dir) => {
                let path = cli_cache::cache_file(dir);
                // Only our own export: the file names our start URL.
                let ours = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                    .is_some_and(|v| v["startUrl"] == self.start_url.as_str());
                ours && cli_cache::remove(&path).unwrap_or(false)
            }
            None => false,
        };
        Ok(SignOutReport {
            was_signed_in: token.is_some(),
            portal_logout_error,
            removed_aws_cli_cache,
        })
    }
}
