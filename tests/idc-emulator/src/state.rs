//! The emulator's memory: clients, pending device and browser authorizations, tokens, issued
//! role credentials, knobs and counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

pub struct Settings {
    pub start_url: String,
    pub public_url: String,
    pub user: String,
    /// The NAT's addresses: STS calls from anywhere else are denied (empty: no perimeter).
    pub nat_addresses: Vec<ipnet::IpNet>,
}

/// Fault and timing knobs, settable at run time with `POST /_emulator/knobs` (partial JSON).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    pub access_token_ttl_secs: u64,
    pub device_code_ttl_secs: u64,
    pub client_secret_ttl_secs: u64,
    pub role_credentials_ttl_secs: u64,
    pub interval_secs: u64,
    /// The next N device-code polls answer `slow_down`.
    pub slow_down_next: u32,
    /// The next device-code poll answers `access_denied`.
    pub deny_next_poll: bool,
    /// The next N API requests answer HTTP 500.
    pub fail_next: u32,
    /// Every API request waits this long first.
    pub delay_ms: u64,
    /// Refreshes answer `invalid_grant`.
    pub invalid_grant_on_refresh: bool,
    /// StartDeviceAuthorization answers `InvalidRequestRegionException`.
    pub wrong_region: bool,
    /// The portal pages at most this many items, to exercise pagination.
    pub max_page: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 3600,
            device_code_ttl_secs: 600,
            client_secret_ttl_secs: 90 * 24 * 3600,
            role_credentials_ttl_secs: 3600,
            // AWS uses 5 s; the lab is faster. Clients must honour whatever is returned.
            interval_secs: 1,
            slow_down_next: 0,
            deny_next_poll: false,
            fail_next: 0,
            delay_ms: 0,
            invalid_grant_on_refresh: false,
            wrong_region: false,
            max_page: 100,
        }
    }
}

#[derive(Default, Clone, Serialize)]
pub struct Stats {
    pub register_client: u32,
    pub start_device_authorization: u32,
    pub token_device_code: u32,
    pub token_authorization_code: u32,
    pub token_refresh: u32,
    pub list_accounts: u32,
    pub list_account_roles: u32,
    pub get_role_credentials: u32,
    pub logout: u32,
    pub slow_down_sent: u32,
    pub sts_calls: u32,
    pub sts_denied: u32,
    pub signin_tokens: u32,
    pub console_sign_ins: u32,
    pub console_denied: u32,
}

pub struct Client {
    pub secret: String,
    pub expires_at: u64,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pending,
    Approved,
    Denied,
}

pub struct DeviceAuth {
    pub client_id: String,
    pub user_code: String,
    pub expires_at: u64,
    pub decision: Decision,
    pub last_poll: Option<SystemTime>,
}

pub struct BrowserRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
}

pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: u64,
}

pub struct AccessToken {
    pub client_id: String,
    pub expires_at: u64,
    pub refresh_token: Option<String>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCredentials {
    pub access_key_id: String,
    #[serde(skip)]
    pub secret_access_key: String,
    #[serde(skip)]
    pub session_token: String,
    pub account_id: String,
    pub role_name: String,
    pub user: String,
    pub expiration_ms: u64,
}

impl IssuedCredentials {
    /// The session's ARN, as STS and the console name it.
    pub fn assumed_role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/AWSReservedSSO_{}_0123456789abcdef/{}",
            self.account_id, self.role_name, self.user
        )
    }
}

impl Settings {
    /// The organization's identity policy: every call is denied unless `aws:SourceIp` is a NAT
    /// address (no NAT configured: nothing is denied).
    pub fn is_through_nat(&self, source: std::net::IpAddr) -> bool {
        self.nat_addresses.is_empty() || self.nat_addresses.iter().any(|n| n.contains(&source))
    }
}

pub struct Account {
    pub id: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub roles: &'static [&'static str],
}

/// The lab organization: a production account, a sandbox and a shared-services account.
pub const ACCOUNTS: &[Account] = &[
    Account {
        id: "111122223333",
        name: "Production",
        email: "aws-prod@example.com",
        roles: &["Developer", "ReadOnly"],
    },
    Account {
        id: "444455556666",
        name: "Sandbox",
        email: "aws-sandbox@example.com",
        roles: &["Admin", "Developer"],
    },
    Account {
        id: "777788889999",
        name: "Shared Services",
        email: "aws-shared@example.com",
        roles: &["ReadOnly"],
    },
];

#[derive(Default)]
pub struct Memory {
    pub knobs: Knobs,
    pub stats: Stats,
    pub clients: HashMap<String, Client>,
    pub device_auths: HashMap<String, DeviceAuth>,
    pub browser_requests: HashMap<String, BrowserRequest>,
    pub auth_codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    /// refresh token -> client id
    pub refresh_tokens: HashMap<String, String>,
    pub credentials: Vec<IssuedCredentials>,
    /// Console sign-in token -> the credentials it was made from, and until when it may be used.
    pub signin_tokens: HashMap<String, (IssuedCredentials, u64)>,
}

pub struct Emulator {
    pub settings: Settings,
    memory: Mutex<Memory>,
}

impl Emulator {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            memory: Mutex::new(Memory::default()),
        }
    }

    pub fn memory(&self) -> MutexGuard<'_, Memory> {
        // A panicked handler must not take the emulator down for the rest of a test run.
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Consumes one injected fault: (delay, answer 500?).
    pub fn take_fault(&self) -> (Duration, bool) {
        let mut m = self.memory();
        let delay = Duration::from_millis(m.knobs.delay_ms);
        let fail = m.knobs.fail_next > 0;
        if fail {
            m.knobs.fail_next -= 1;
        }
        (delay, fail)
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn random(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Characters from an alphabet, e.g. RFC 8628's user-code alphabet without look-alikes.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

pub async fn get_knobs(State(e): State<Arc<Emulator>>) -> Json<Knobs> {
    Json(e.memory().knobs.clone())
}

pub async fn set_knobs(
    State(e): State<Arc<Emulator>>,
    Json(patch): Json<serde_json::Value>,
) -> Result<Json<Knobs>, (axum::http::StatusCode, String)> {
    let mut m = e.memory();
    let mut current = serde_json::to_value(&m.knobs).unwrap_or_default();
    let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) else {
        return Err((
            axum::http::StatusCode::BAD_REQUEST,
            "expected a JSON object".into(),
        ));
    };
    for (k, v) in p {
        if !cur.contains_key(k) {
            return Err((
                axum::http::StatusCode::BAD_REQUEST,
                format!("unknown knob {k}"),
            ));
        }
        cur.insert(k.clone(), v.clone());
    }
    m.knobs = serde_json::from_value(current)
        .map_err(|e| (axum::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(m.knobs.clone()))
}

pub async fn stats(State(e): State<Arc<Emulator>>) -> Json<Stats> {
    Json(e.memory().stats.clone())
}

/// Makes every issued access token expire now, server side.
pub async fn expire_tokens(State(e): State<Arc<Emulator>>) -> Json<usize> {
    let mut m = e.memory();
    let t = now();
    for token in m.access_tokens.values_mut() {
        token.expires_at = t;
    }
    Json(m.access_tokens.len())
}

/// Forgets every registered client, as Identity Center does with a registration it revoked (or one
/// made against another instance): their refreshes and sign-ins answer InvalidClientException.
pub async fn forget_clients(State(e): State<Arc<Emulator>>) -> Json<usize> {
    let mut m = e.memory();
    let n = m.clients.len();
    m.clients.clear();
    Json(n)
}

/// Issued role credentials (without secrets): lets tests and the lab's AWS endpoint check them.
pub async fn issued_credentials(State(e): State<Arc<Emulator>>) -> Json<Vec<IssuedCredentials>> {
    Json(e.memory().credentials.clone())
}
