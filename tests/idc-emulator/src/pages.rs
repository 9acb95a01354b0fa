//! The pages a person sees: enter or confirm the device code, and approve a PKCE sign-in.
//! Tests click these buttons in a real browser.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::oidc::{authenticate, redirect_registered};
use crate::state::{AuthCode, BrowserRequest, Decision, Emulator, now, random};

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "Sign-in failed",
            &format!("<p id=\"error\">{}</p>", escape(message)),
        ),
    )
        .into_response()
}

pub async fn device_page(
    State(e): State<Arc<Emulator>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = q.get("user_code").cloned().unwrap_or_default();
    let user = escape(&e.settings.user);
    page(
        "Authorize request",
        &format!(
            "<p>Signed in as <span id=\"user\">{user}</span>. Confirm the code shown by the app.</p>\
             <form method=\"post\" action=\"/device\">\
             <input id=\"user_code\" name=\"user_code\" value=\"{}\">\
             <button id=\"approve\" name=\"decision\" value=\"approve\">Allow</button>\
             <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form>",
            escape(&code)
        ),
    )
    .into_response()
}

pub async fn device_decision(
    State(e): State<Arc<Emulator>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let code = form
        .get("user_code")
        .map(|c| c.trim().to_uppercase())
        .unwrap_or_default();
    let approve = form.get("decision").map(String::as_str) == Some("approve");
    let mut m = e.memory();
    let t = now();
    let Some(auth) = m
        .device_auths
        .values_mut()
        .find(|a| a.user_code == code && a.expires_at > t && a.decision == Decision::Pending)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "That code is not valid or has expired.",
        );
    };
    auth.decision = if approve {
        Decision::Approved
    } else {
        Decision::Denied
    };
    let text = if approve {
        "Request approved. You can close this window."
    } else {
        "Request denied."
    };
    page("Done", &format!("<p id=\"result\">{text}</p>")).into_response()
}

pub async fn authorize_page(
    State(e): State<Arc<Emulator>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let mut m = e.memory();
    let client = match authenticate(&m, get("client_id"), None) {
        Ok(c) => c,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "Unknown or expired client."),
    };
    if get("response_type") != "code" {
        return refuse(StatusCode::BAD_REQUEST, "response_type must be code.");
    }
    if !redirect_registered(client, get("redirect_uri")) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "redirect_uri is not registered for this client.",
        );
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
        return refuse(StatusCode::BAD_REQUEST, "PKCE with S256 is required.");
    }
    if get("scopes").split(' ').any(|s| s != "sso:account:access") || get("state").is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "scopes and state are required.");
    }
    let id = random(24);
    m.browser_requests.insert(
        id.clone(),
        BrowserRequest {
            client_id: get("client_id").to_string(),
            redirect_uri: get("redirect_uri").to_string(),
            state: get("state").to_string(),
            code_challenge: get("code_challenge").to_string(),
        },
    );
    let user = escape(&e.settings.user);
    page(
        "Allow access",
        &format!(
            "<p>Signed in as <span id=\"user\">{user}</span>. Allow Postern to access your AWS accounts?</p>\
             <form method=\"post\" action=\"/authorize\"><input type=\"hidden\" name=\"request\" value=\"{id}\">\
             <button id=\"approve\" name=\"decision\" value=\"approve\">Allow access</button>\
             <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form>"
        ),
    )
    .into_response()
}

pub async fn authorize_decision(
    State(e): State<Arc<Emulator>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut m = e.memory();
    let Some(request) = form
        .get("request")
        .and_then(|id| m.browser_requests.remove(id))
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "This sign-in request is unknown or was already used.",
        );
    };
    let Ok(mut target) = url::Url::parse(&request.redirect_uri) else {
        return refuse(StatusCode::BAD_REQUEST, "Bad redirect URI.");
    };
    if form.get("decision").map(String::as_str) == Some("approve") {
        let code = random(40);
        m.auth_codes.insert(
            code.clone(),
            AuthCode {
                client_id: request.client_id,
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge,
                expires_at: now() + 300,
            },
        );
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &request.state);
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &request.state);
    }
    let mut r = Redirect::to(target.as_str()).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
    r
}
