//! The AWS sign-in federation endpoint (`/federation`) and the console page it leads to, as
//! AWS documents them for custom identity brokers: `Action=getSigninToken` takes a `Session`
//! JSON (`sessionId`, `sessionKey`, `sessionToken`) of valid temporary credentials and answers
//! `{"SigninToken": …}`; `Action=login` with `Issuer`, `Destination` and `SigninToken` signs the
//! browser in to the console. The console enforces the organization's `aws:SourceIp` policy on
//! what the browser does, so a page opened from outside the NAT is refused, as AWS would refuse
//! the calls it makes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::state::{Emulator, now, random};

/// How long a sign-in token may be used, as AWS documents (15 minutes).
const TOKEN_LIFETIME: u64 = 15 * 60;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    session_id: String,
    session_key: String,
    session_token: String,
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><title>{}</title></head><body><main><h1>{}</h1><p id=\"detail\">{}</p></main></body></html>",
            escape(title),
            escape(title),
            escape(body)
        )),
    )
        .into_response()
}

pub async fn handle(
    State(e): State<Arc<Emulator>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match query.get("Action").map(String::as_str) {
        Some("getSigninToken") => signin_token(&e, &query),
        Some("login") => login(&e, &query, peer),
        _ => page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "Unknown or missing Action.",
        ),
    }
}

fn signin_token(e: &Emulator, query: &HashMap<String, String>) -> Response {
    let Some(session) = query
        .get("Session")
        .and_then(|s| serde_json::from_str::<Session>(s).ok())
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "Session is missing or malformed.",
        );
    };
    let mut m = e.memory();
    m.stats.signin_tokens += 1;
    let valid = m.credentials.iter().find(|c| {
        c.access_key_id == session.session_id
            && c.secret_access_key == session.session_key
            && c.session_token == session.session_token
            && c.expiration_ms / 1000 > now()
    });
    let Some(issued) = valid.cloned() else {
        return page(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The session credentials are invalid or expired.",
        );
    };
    let token = random(64);
    m.signin_tokens
        .insert(token.clone(), (issued, now() + TOKEN_LIFETIME));
    axum::Json(serde_json::json!({ "SigninToken": token })).into_response()
}

fn login(e: &Emulator, query: &HashMap<String, String>, peer: SocketAddr) -> Response {
    let destination = query
        .get("Destination")
        .and_then(|d| url::Url::parse(d).ok());
    let (Some(token), Some(_), Some(_)) =
        (query.get("SigninToken"), destination, query.get("Issuer"))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "SigninToken, Issuer and Destination are required.",
        );
    };
    let issued = {
        let m = e.memory();
        m.signin_tokens
            .get(token)
            .filter(|(_, until)| *until > now())
            .map(|(c, _)| c.clone())
    };
    let Some(issued) = issued else {
        return page(
            StatusCode::FORBIDDEN,
            "Session expired",
            "The sign-in token is invalid or expired.",
        );
    };
    let arn = issued.assumed_role_arn();
    let source = peer.ip();
    if !e.settings.is_through_nat(source) {
        e.memory().stats.console_denied += 1;
        return page(
            StatusCode::FORBIDDEN,
            "Access denied",
            &format!(
                "User: {arn} is not authorized to use the console from {source}: explicit deny in an identity-based policy (aws:SourceIp)."
            ),
        );
    }
    e.memory().stats.console_sign_ins += 1;
    page(
        StatusCode::OK,
        "AWS Management Console",
        &format!(
            "Signed in as {arn} (account {}), from {source}.",
            issued.account_id
        ),
    )
}
