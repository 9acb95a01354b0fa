//! SSO-OIDC operations, as in the `sso-oidc` 2019-06-10 service model.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::state::{
    AccessToken, Client, Decision, DeviceAuth, Emulator, Memory, now, random, random_from,
};

const GRANT_DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const GRANT_CODE: &str = "authorization_code";
const GRANT_REFRESH: &str = "refresh_token";
const SCOPES: &[&str] = &["sso:account:access"];
const NAMESPACE: &str = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/";

/// An error as the real service sends it: the type in `x-amzn-ErrorType`, OAuth fields in JSON.
pub fn error(status: StatusCode, error_type: &str, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{error_type}:{NAMESPACE}")) {
        response.headers_mut().insert("x-amzn-ErrorType", v);
    }
    response
}

fn bad(error_type: &str, oauth_error: &str, description: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        error_type,
        oauth_error,
        description,
    )
}

fn invalid_client(description: &str) -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "InvalidClientException",
        "invalid_client",
        description,
    )
}

/// Bodies are parsed by hand so a malformed one gets the service's error, not axum's.
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        bad(
            "InvalidRequestException",
            "invalid_request",
            &format!("Malformed request: {e}"),
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterClientRequest {
    client_name: Option<String>,
    client_type: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
}

pub async fn register_client(State(e): State<Arc<Emulator>>, body: Bytes) -> Response {
    let req: RegisterClientRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut m = e.memory();
    m.stats.register_client += 1;
    if req.client_name.as_deref().unwrap_or("").is_empty() {
        return bad(
            "InvalidRequestException",
            "invalid_request",
            "clientName is required",
        );
    }
    if req.client_type.as_deref() != Some("public") {
        return bad(
            "InvalidClientMetadataException",
            "invalid_client_metadata",
            "clientType must be public",
        );
    }
    if let Some(s) = req.scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return bad(
            "InvalidScopeException",
            "invalid_scope",
            &format!("Invalid scope: {s}"),
        );
    }
    let grant_types = if req.grant_types.is_empty() {
        vec![GRANT_DEVICE.to_string()]
    } else {
        req.grant_types
    };
    if let Some(g) = grant_types
        .iter()
        .find(|g| ![GRANT_DEVICE, GRANT_CODE, GRANT_REFRESH].contains(&g.as_str()))
    {
        return bad(
            "InvalidClientMetadataException",
            "invalid_client_metadata",
            &format!("Unsupported grant type: {g}"),
        );
    }
    if grant_types.iter().any(|g| g == GRANT_CODE)
        && (req.redirect_uris.is_empty()
            || !req.redirect_uris.iter().all(|u| is_loopback_redirect(u)))
    {
        return bad(
            "InvalidRedirectUriException",
            "invalid_redirect_uri",
            "authorization_code clients need loopback http redirect URIs",
        );
    }
    let issued = now();
    let expires = issued + m.knobs.client_secret_ttl_secs;
    let client_id = random(22);
    let secret = format!("eyJ{}", random(600));
    m.clients.insert(
        client_id.clone(),
        Client {
            secret: secret.clone(),
            expires_at: expires,
            grant_types,
            redirect_uris: req.redirect_uris,
            scopes: req.scopes,
        },
    );
    Json(json!({
        "clientId": client_id,
        "clientSecret": secret,
        "clientIdIssuedAt": issued,
        "clientSecretExpiresAt": expires,
        "authorizationEndpoint": format!("{}/authorize", e.settings.public_url),
        "tokenEndpoint": format!("{}/token", e.settings.public_url),
    }))
    .into_response()
}

pub fn is_loopback_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && matches!(
                u.host_str(),
                Some("127.0.0.1") | Some("[::1]") | Some("localhost")
            )
    })
}

/// Loopback redirect URIs match whatever the port (RFC 8252 §7.3).
pub fn redirect_registered(client: &Client, uri: &str) -> bool {
    let strip = |s: &str| {
        url::Url::parse(s).ok().map(|mut u| {
            let _ = u.set_port(None);
            u.to_string()
        })
    };
    let wanted = strip(uri);
    wanted.is_some() && client.redirect_uris.iter().any(|r| strip(r) == wanted)
}

/// Checks the client id and secret; on failure, the response to send.
pub fn authenticate<'m>(
    m: &'m Memory,
    id: &str,
    secret: Option<&str>,
) -> Result<&'m Client, Response> {
    match m.clients.get(id) {
        None => Err(invalid_client("Invalid client provided")),
        Some(c) if secret.is_some() && secret != Some(c.secret.as_str()) => {
            Err(invalid_client("Invalid client secret provided"))
        }
        Some(c) if c.expires_at <= now() => Err(invalid_client("Client registration has expired")),
        Some(c) => Ok(c),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartDeviceAuthorizationRequest {
    client_id: String,
    client_secret: String,
    start_url: String,
}

pub async fn start_device_authorization(State(e): State<Arc<Emulator>>, body: Bytes) -> Response {
    let req: StartDeviceAuthorizationRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut m = e.memory();
    m.stats.start_device_authorization += 1;
    if m.knobs.wrong_region {
        return bad(
            "InvalidRequestRegionException",
            "invalid_request",
            "Invalid request region",
        );
    }
    if let Err(r) = authenticate(&m, &req.client_id, Some(&req.client_secret)) {
        return r;
    }
    if req.start_url != e.settings.start_url {
        return bad(
            "InvalidRequestException",
            "invalid_request",
            "Invalid start URL",
        );
    }
    let device_code = random(64);
    // RFC 8628 §6.1: a user code from an alphabet without look-alike characters.
    let alphabet = b"BCDFGHJKLMNPQRSTVWXZ";
    let user_code = format!("{}-{}", random_from(alphabet, 4), random_from(alphabet, 4));
    let ttl = m.knobs.device_code_ttl_secs;
    let interval = m.knobs.interval_secs;
    m.device_auths.insert(
        device_code.clone(),
        DeviceAuth {
            client_id: req.client_id,
            user_code: user_code.clone(),
            expires_at: now() + ttl,
            decision: Decision::Pending,
            last_poll: None,
        },
    );
    let uri = format!("{}/device", e.settings.public_url);
    Json(json!({
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": uri,
        "verificationUriComplete": format!("{uri}?user_code={user_code}"),
        "expiresIn": ttl,
        "interval": interval,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTokenRequest {
    client_id: String,
    client_secret: String,
    grant_type: String,
    device_code: Option<String>,
    code: Option<String>,
    refresh_token: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

pub async fn create_token(State(e): State<Arc<Emulator>>, body: Bytes) -> Response {
    let req: CreateTokenRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut guard = e.memory();
    let m = &mut *guard;
    let client = match authenticate(m, &req.client_id, Some(&req.client_secret)) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !client.grant_types.contains(&req.grant_type) {
        return bad(
            "UnauthorizedClientException",
            "unauthorized_client",
            "The client is not registered for this grant type",
        );
    }
    let refreshable = client.scopes.iter().any(|s| s == "sso:account:access")
        && client.grant_types.iter().any(|g| g == GRANT_REFRESH);
    match req.grant_type.as_str() {
        GRANT_DEVICE => device_code_grant(m, &req, refreshable),
        GRANT_CODE => authorization_code_grant(m, &req, refreshable),
        GRANT_REFRESH => refresh_grant(m, &req),
        _ => bad(
            "UnsupportedGrantTypeException",
            "unsupported_grant_type",
            "Unsupported grant type",
        ),
    }
}

fn device_code_grant(m: &mut Memory, req: &CreateTokenRequest, refreshable: bool) -> Response {
    m.stats.token_device_code += 1;
    let Some(code) = req.device_code.as_deref() else {
        return bad(
            "InvalidRequestException",
            "invalid_request",
            "deviceCode is required",
        );
    };
    let interval = m.knobs.interval_secs;
    let Some(auth) = m.device_auths.get_mut(code) else {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "Invalid device code provided",
        );
    };
    if auth.client_id != req.client_id {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "Device code issued to another client",
        );
    }
    if auth.expires_at <= now() {
        return bad(
            "ExpiredTokenException",
            "expired_token",
            "Device code has expired",
        );
    }
    // Polling faster than the interval earns `slow_down`, as RFC 8628 says (with some slack).
    let polled_early = auth
        .last_poll
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d.as_millis() + 200 < u128::from(interval) * 1000);
    auth.last_poll = Some(SystemTime::now());
    let decision = auth.decision;
    if m.knobs.deny_next_poll {
        m.knobs.deny_next_poll = false;
        return bad("AccessDeniedException", "access_denied", "Access denied");
    }
    if m.knobs.slow_down_next > 0 || polled_early {
        m.knobs.slow_down_next = m.knobs.slow_down_next.saturating_sub(1);
        m.stats.slow_down_sent += 1;
        return bad(
            "SlowDownException",
            "slow_down",
            "Client is polling too quickly",
        );
    }
    match decision {
        Decision::Pending => bad(
            "AuthorizationPendingException",
            "authorization_pending",
            "Authorization is still pending",
        ),
        Decision::Denied => {
            m.device_auths.remove(code);
            bad("AccessDeniedException", "access_denied", "Access denied")
        }
        Decision::Approved => {
            m.device_auths.remove(code);
            issue_tokens(m, &req.client_id, refreshable)
        }
    }
}

fn authorization_code_grant(
    m: &mut Memory,
    req: &CreateTokenRequest,
    refreshable: bool,
) -> Response {
    m.stats.token_authorization_code += 1;
    let Some(code) = req.code.as_deref().and_then(|c| m.auth_codes.remove(c)) else {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "Invalid authorization code",
        );
    };
    if code.client_id != req.client_id || code.expires_at <= now() {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "Invalid authorization code",
        );
    }
    if req.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "redirectUri does not match",
        );
    }
    let Some(verifier) = req.code_verifier.as_deref() else {
        return bad(
            "InvalidRequestException",
            "invalid_request",
            "codeVerifier is required",
        );
    };
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if computed != code.code_challenge {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    issue_tokens(m, &req.client_id, refreshable)
}

fn refresh_grant(m: &mut Memory, req: &CreateTokenRequest) -> Response {
    m.stats.token_refresh += 1;
    if m.knobs.invalid_grant_on_refresh {
        return bad(
            "InvalidGrantException",
            "invalid_grant",
            "Refresh token has been revoked",
        );
    }
    let Some(rt) = req.refresh_token.as_deref() else {
        return bad(
            "InvalidRequestException",
            "invalid_request",
            "refreshToken is required",
        );
    };
    match m.refresh_tokens.get(rt) {
        Some(owner) if *owner == req.client_id => {}
        _ => {
            return bad(
                "InvalidGrantException",
                "invalid_grant",
                "Invalid refresh token provided",
            );
        }
    }
    // Rotate, as Identity Center does: the old refresh token stops working.
    m.refresh_tokens.remove(rt);
    m.access_tokens
        .retain(|_, t| t.refresh_token.as_deref() != Some(rt));
    issue_tokens(m, &req.client_id, true)
}

fn issue_tokens(m: &mut Memory, client_id: &str, refreshable: bool) -> Response {
    let access = format!("aoa{}", random(500));
    let ttl = m.knobs.access_token_ttl_secs;
    let refresh = refreshable.then(|| format!("aor{}", random(500)));
    if let Some(r) = &refresh {
        m.refresh_tokens.insert(r.clone(), client_id.to_string());
    }
    m.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client_id.to_string(),
            expires_at: now() + ttl,
            refresh_token: refresh.clone(),
        },
    );
    let mut body = json!({
        "accessToken": access,
        "tokenType": "Bearer",
        "expiresIn": ttl,
    });
    if let Some(r) = refresh {
        body["refreshToken"] = json!(r);
    }
    Json(body).into_response()
}
