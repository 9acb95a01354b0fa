//! `postern console`: the AWS Management Console for the session's role, by AWS's federation
//! endpoint as its documentation describes it ("Enable custom identity broker access to the AWS
//! console"): `getSigninToken` with the role's credentials, then the `login` URL that carries the
//! token to the console. The token request goes from this machine, through the gate, like any
//! other call with those credentials; the console then enforces the same `aws:SourceIp` policy on
//! what the browser does.

use std::time::Duration;

use url::Url;

use super::VendedCredentials;
use crate::problem::{ExitCode, Problem};

/// AWS's sign-in endpoint and the console page to land on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federation {
    /// The `/federation` endpoint.
    pub endpoint: Url,
    /// Where the browser lands once signed in.
    pub destination: Url,
}

/// What the federation endpoint answers with; nothing else of it is read.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(rename = "SigninToken")]
    signin_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("The AWS sign-in endpoint {endpoint} could not be reached ({detail}).")]
    Unreachable { endpoint: String, detail: String },
    #[error("The AWS sign-in endpoint refused the console sign-in (HTTP {status}).")]
    Refused { status: u16 },
    #[error("The AWS sign-in endpoint answered with something that is not a sign-in token.")]
    Unreadable,
    #[error("AWS_ENDPOINT_URL_SIGNIN is not an http(s) URL: {value}.")]
    BadEndpoint { value: String },
}

impl Problem for ConsoleError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ConsoleError::BadEndpoint { .. } => ExitCode::BadInput,
            _ => ExitCode::ConsoleSignInFailed,
        }
    }

    fn next_step(&self) -> String {
        match self {
            ConsoleError::Unreachable { .. } => "Check that the VPN is up (`postern status`), then run `postern console` again.".into(),
            ConsoleError::Refused { .. } | ConsoleError::Unreadable => "Run `postern console` again; if it keeps failing, send `postern diagnostics export` to your helpdesk.".into(),
            ConsoleError::BadEndpoint { .. } => "Unset AWS_ENDPOINT_URL_SIGNIN (AWS's own endpoint is used by default).".into(),
        }
    }
}

impl Federation {
    /// AWS's endpoint, landing on the console home of `region` when the role has one;
    /// `AWS_ENDPOINT_URL_SIGNIN` (as the SDKs name per-service endpoints) replaces the
    /// endpoint, and the destination follows it, for a test or a private partition.
    pub fn new(
        region: Option<&str>,
        endpoint_override: Option<&str>,
    ) -> Result<Self, ConsoleError> {
        if let Some(value) = endpoint_override {
            let base = Url::parse(value)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| ConsoleError::BadEndpoint {
                    value: value.into(),
                })?;
            let join = |path: &str| {
                base.join(path).map_err(|_| ConsoleError::BadEndpoint {
                    value: value.into(),
                })
            };
            return Ok(Self {
                endpoint: join("/federation")?,
                destination: join("/console")?,
            });
        }
        let destination = match region {
            Some(r) => format!("https://{r}.console.aws.amazon.com/console/home?region={r}"),
            None => "https://console.aws.amazon.com/".into(),
        };
        let parse = |text: &str| {
            Url::parse(text).map_err(|_| ConsoleError::BadEndpoint { value: text.into() })
        };
        Ok(Self {
            endpoint: parse("https://signin.aws.amazon.com/federation")?,
            destination: parse(&destination)?,
        })
    }

    /// `Action=getSigninToken` with the session (its key, secret and token as the JSON the
    /// endpoint reads). The URL holds secrets: it is sent, never shown or logged.
    pub fn token_request(&self, c: &VendedCredentials) -> Url {
        let session = serde_json::json!({
            "sessionId": c.access_key_id,
            "sessionKey": c.secret_access_key.expose(),
            "sessionToken": c.session_token.expose(),
        });
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("Action", "getSigninToken")
            .append_pair("Session", &session.to_string());
        url
    }

    /// The answer's token; anything else is unreadable, never a URL with an empty token.
    pub fn read_token(body: &[u8]) -> Result<String, ConsoleError> {
        serde_json::from_slice::<TokenAnswer>(body)
            .ok()
            .map(|a| a.signin_token)
            .filter(|t| !t.is_empty())
            .ok_or(ConsoleError::Unreadable)
    }

    /// `Action=login`: the URL that signs the browser in (valid for 15 minutes).
    pub fn login_url(&self, token: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("Action", "login")
            .append_pair("Issuer", "postern")
            .append_pair("Destination", self.destination.as_str())
            .append_pair("SigninToken", token);
        url
    }

    /// Asks for a sign-in token with the credentials and returns the console's login URL.
    pub async fn sign_in(&self, c: &VendedCredentials) -> Result<Url, ConsoleError> {
        let endpoint = self.endpoint.to_string();
        let unreachable = |e: reqwest::Error| ConsoleError::Unreachable {
            endpoint: endpoint.clone(),
            // Without the URL: it carries the secret.
            detail: e.without_url().to_string(),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(unreachable)?;
        let answer = client
            .get(self.token_request(c))
            .send()
            .await
            .map_err(unreachable)?;
        let status = answer.status();
        if !status.is_success() {
            return Err(ConsoleError::Refused {
                status: status.as_u16(),
            });
        }
        // A token is a few hundred bytes; a larger answer is not one.
        let body = answer.bytes().await.map_err(unreachable)?;
        if body.len() > 64 * 1024 {
            return Err(ConsoleError::Unreadable);
        }
        Ok(self.login_url(&Self::read_token(&body)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> VendedCredentials {
        crate::credentials::example(
            "s3cr/t+=",
            "t0k&n",
            time::macros::datetime!(2026-12-04 10:00:00 UTC),
        )
    }

    #[test]
    fn the_token_request_carries_the_session_as_the_endpoint_reads_it() {
        let f = Federation::new(None, None).unwrap();
        let url = f.token_request(&credentials());
        assert_eq!(url.host_str(), Some("signin.aws.amazon.com"));
        assert_eq!(url.path(), "/federation");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("Action".into(), "getSigninToken".into()));
        let session: serde_json::Value = serde_json::from_str(&pairs[1].1).unwrap();
        assert_eq!(session["sessionId"], "ASIAEXAMPLE");
        assert_eq!(session["sessionKey"], "s3cr/t+=");
        assert_eq!(session["sessionToken"], "t0k&n");
    }

    #[test]
    fn the_login_url_lands_on_the_roles_region_and_holds_no_secret() {
        let f = Federation::new(Some("eu-central-1"), None).unwrap();
        let url = f.login_url("TOKEN123");
        let pairs: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(pairs["Action"], "login");
        assert_eq!(pairs["SigninToken"], "TOKEN123");
        assert_eq!(
            pairs["Destination"],
            "https://eu-central-1.console.aws.amazon.com/console/home?region=eu-central-1"
        );
        assert!(!url.as_str().contains("s3cr"));
    }

    #[test]
    fn an_override_moves_endpoint_and_destination_and_a_bad_one_is_named() {
        let f = Federation::new(Some("eu-west-1"), Some("http://192.0.2.90")).unwrap();
        assert_eq!(f.endpoint.as_str(), "http://192.0.2.90/federation");
        assert_eq!(f.destination.as_str(), "http://192.0.2.90/console");
        let bad = Federation::new(None, Some("file:///etc/passwd")).unwrap_err();
        assert_eq!(bad.exit_code(), ExitCode::BadInput);
    }

    #[test]
    fn only_a_token_is_a_token() {
        assert_eq!(
            Federation::read_token(br#"{"SigninToken":"abc"}"#).unwrap(),
            "abc"
        );
        for bad in [&br#"{"SigninToken":""}"#[..], b"<html>", b"{}", b""] {
            assert!(matches!(
                Federation::read_token(bad),
                Err(ConsoleError::Unreadable)
            ));
        }
    }
}
