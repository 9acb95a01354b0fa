//! Portal operations, as in the `sso` 2019-06-10 service model: bearer token in the
//! `x-amz-sso_bearer_token` header, `{message}` error bodies, epoch-millisecond expirations.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::state::{ACCOUNTS, Emulator, IssuedCredentials, Memory, now, random, random_from};

fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut r = (status, Json(json!({ "message": message }))).into_response();
    if let Ok(v) = HeaderValue::from_str(error_type) {
        r.headers_mut().insert("x-amzn-ErrorType", v);
    }
    r
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "UnauthorizedException",
        "Session token not found or invalid",
    )
}

/// The bearer token, if it is one we issued and it has not expired.
fn bearer(m: &Memory, headers: &HeaderMap) -> Option<String> {
    let token = headers.get("x-amz-sso_bearer_token")?.to_str().ok()?;
    let t = m.access_tokens.get(token)?;
    (t.expires_at > now() && m.clients.contains_key(&t.client_id)).then(|| token.to_string())
}

#[derive(Deserialize)]
pub struct Page {
    max_result: Option<usize>,
    next_token: Option<String>,
    account_id: Option<String>,
    role_name: Option<String>,
}

fn page<T: Clone>(items: &[T], q: &Page, cap: usize) -> Result<(Vec<T>, Option<String>), Response> {
    let size = q.max_result.unwrap_or(cap).clamp(1, 100).min(cap.max(1));
    let start: usize = match &q.next_token {
        None => 0,
        Some(t) => t.parse().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestException",
                "Invalid next token",
            )
        })?,
    };
    let end = (start + size).min(items.len());
    let slice = items.get(start..end).unwrap_or_default().to_vec();
    Ok((slice, (end < items.len()).then(|| end.to_string())))
}

pub async fn list_accounts(
    State(e): State<Arc<Emulator>>,
    headers: HeaderMap,
    Query(q): Query<Page>,
) -> Response {
    let mut m = e.memory();
    m.stats.list_accounts += 1;
    if bearer(&m, &headers).is_none() {
        return unauthorized();
    }
    let all: Vec<serde_json::Value> = ACCOUNTS
        .iter()
        .map(|a| json!({"accountId": a.id, "accountName": a.name, "emailAddress": a.email}))
        .collect();
    match page(&all, &q, m.knobs.max_page) {
        Ok((items, next)) => Json(json!({"accountList": items, "nextToken": next})).into_response(),
        Err(r) => r,
    }
}

pub async fn list_account_roles(
    State(e): State<Arc<Emulator>>,
    headers: HeaderMap,
    Query(q): Query<Page>,
) -> Response {
    let mut m = e.memory();
    m.stats.list_account_roles += 1;
    if bearer(&m, &headers).is_none() {
        return unauthorized();
    }
    let Some(account) = ACCOUNTS
        .iter()
        .find(|a| Some(a.id) == q.account_id.as_deref())
    else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Account not found",
        );
    };
    let all: Vec<serde_json::Value> = account
        .roles
        .iter()
        .map(|r| json!({"roleName": r, "accountId": account.id}))
        .collect();
    match page(&all, &q, m.knobs.max_page) {
        Ok((items, next)) => Json(json!({"roleList": items, "nextToken": next})).into_response(),
        Err(r) => r,
    }
}

pub async fn get_role_credentials(
    State(e): State<Arc<Emulator>>,
    headers: HeaderMap,
    Query(q): Query<Page>,
) -> Response {
    let mut m = e.memory();
    m.stats.get_role_credentials += 1;
    if bearer(&m, &headers).is_none() {
        return unauthorized();
    }
    let (Some(account_id), Some(role)) = (q.account_id.as_deref(), q.role_name.as_deref()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "account_id and role_name are required",
        );
    };
    let allowed = ACCOUNTS
        .iter()
        .any(|a| a.id == account_id && a.roles.contains(&role));
    if !allowed {
        return error(StatusCode::FORBIDDEN, "ForbiddenException", "No access");
    }
    let issued = IssuedCredentials {
        access_key_id: format!(
            "ASIA{}",
            random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        secret_access_key: random(40),
        session_token: format!("IQoJb3JpZ2luX2VjE{}", random(300)),
        account_id: account_id.to_string(),
        role_name: role.to_string(),
        user: e.settings.user.clone(),
        expiration_ms: (now() + m.knobs.role_credentials_ttl_secs) * 1000,
    };
    m.credentials.push(issued.clone());
    Json(json!({"roleCredentials": {
        "accessKeyId": issued.access_key_id,
        "secretAccessKey": issued.secret_access_key,
        "sessionToken": issued.session_token,
        "expiration": issued.expiration_ms,
    }}))
    .into_response()
}

pub async fn logout(State(e): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    let mut m = e.memory();
    m.stats.logout += 1;
    let Some(token) = bearer(&m, &headers) else {
        return unauthorized();
    };
    if let Some(t) = m.access_tokens.remove(&token)
        && let Some(r) = t.refresh_token
    {
        m.refresh_tokens.remove(&r);
    }
    StatusCode::OK.into_response()
}
