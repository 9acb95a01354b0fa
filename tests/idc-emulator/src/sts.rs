//! The lab's AWS endpoint: STS GetCallerIdentity for the role credentials the portal issued,
//! with real SigV4 verification and the organization's network perimeter enforced on the
//! caller's source address (what the rendered IAM deny policy's `aws:SourceIp` condition does
//! in AWS). moto cannot play this part: it does not evaluate `aws:SourceIp`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::state::{Emulator, random};

type HmacSha256 = Hmac<Sha256>;

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        message.replace('&', "&amp;").replace('<', "&lt;"),
        random(32)
    );
    (status, [("content-type", "text/xml")], body).into_response()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

struct Authorization {
    access_key: String,
    scope: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(header: &str) -> Option<Authorization> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v.to_string()),
            "SignedHeaders" => signed = Some(v.split(';').map(str::to_string).collect()),
            "Signature" => signature = Some(v.to_string()),
            _ => {}
        }
    }
    let credential = credential?;
    let (access_key, scope) = credential.split_once('/')?;
    Some(Authorization {
        access_key: access_key.to_string(),
        scope: scope.to_string(),
        signed_headers: signed?,
        signature: signature?,
    })
}

/// SigV4 as AWS computes it, for a POST to `/` with no query string.
fn expected_signature(
    secret: &str,
    auth: &Authorization,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    let date = headers.get("x-amz-date")?.to_str().ok()?;
    let canonical_headers: String = auth
        .signed_headers
        .iter()
        .map(|h| {
            let value = headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!(
                "{h}:{}\n",
                value.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
        .collect();
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{}\n{}",
        auth.signed_headers.join(";"),
        hex::encode(Sha256::digest(body))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}\n{}",
        auth.scope,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut parts = auth.scope.split('/');
    let (day, region, service) = (parts.next()?, parts.next()?, parts.next()?);
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), day);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    Some(hex::encode(hmac(&k_signing, &string_to_sign)))
}

pub async fn handle(
    State(e): State<Arc<Emulator>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if action != "GetCallerIdentity" {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("Could not find operation {action} for version NO_VERSION_SPECIFIED"),
        );
    }
    let Some(auth) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_authorization)
    else {
        return xml_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    };
    let issued = {
        let mut m = e.memory();
        m.stats.sts_calls += 1;
        m.credentials
            .iter()
            .find(|c| c.access_key_id == auth.access_key)
            .cloned()
    };
    let Some(issued) = issued else {
        return xml_error(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    };
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(issued.session_token.as_str()) {
        return xml_error(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    }
    if expected_signature(&issued.secret_access_key, &auth, &headers, &body).as_deref()
        != Some(auth.signature.as_str())
    {
        return xml_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if issued.expiration_ms / 1000 <= crate::state::now() {
        return xml_error(
            StatusCode::FORBIDDEN,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
    }
    let arn = issued.assumed_role_arn();
    let source = peer.ip();
    if !e.settings.is_through_nat(source) {
        e.memory().stats.sts_denied += 1;
        return xml_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            &format!(
                "User: {arn} is not authorized to perform: sts:GetCallerIdentity with an explicit deny in an identity-based policy (request from {source})"
            ),
        );
    }
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AROA3XFRBF23EXAMPLE:{}</UserId><Account>{}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
        issued.user,
        issued.account_id,
        random(32)
    );
    (StatusCode::OK, [("content-type", "text/xml")], body).into_response()
}
