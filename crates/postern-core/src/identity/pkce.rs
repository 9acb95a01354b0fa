//! The browser half of the PKCE sign-in: a one-shot HTTP listener on 127.0.0.1 (never on other
//! interfaces) that waits for Identity Center's redirect with `code` and `state`.

use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::error::IdentityError;
use crate::loopback::{read_request, respond};

pub const CALLBACK_PATH: &str = "/oauth/callback";

/// One PKCE attempt: the verifier stays here, the challenge and state go to the browser.
pub(crate) struct PkceAttempt {
    pub verifier: PkceCodeVerifier,
    pub challenge: PkceCodeChallenge,
    pub state: CsrfToken,
}

impl PkceAttempt {
    pub fn new() -> Self {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        Self {
            verifier,
            challenge,
            state: CsrfToken::new_random(),
        }
    }

    /// The authorize URL in the shape Identity Center expects (note `scopes`, not `scope`).
    pub fn authorize_url(&self, authorize: &Url, client_id: &str, redirect_uri: &str) -> Url {
        let mut url = authorize.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", self.state.secret())
            .append_pair("code_challenge_method", "S256")
            .append_pair("scopes", super::oidc::SCOPE)
            .append_pair("code_challenge", self.challenge.as_str());
        url
    }
}

pub(crate) struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

impl CallbackListener {
    pub async fn bind() -> Result<Self, IdentityError> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| IdentityError::Listener {
                    detail: e.to_string(),
                })?;
        let port = listener
            .local_addr()
            .map_err(|e| IdentityError::Listener {
                detail: e.to_string(),
            })?
            .port();
        Ok(Self { listener, port })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the redirect carrying our `state`; other requests (favicon, probes) get a 404
    /// and the wait goes on. A wrong `state` ends the attempt: it is someone else's redirect.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<String, IdentityError> {
        let wait = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    continue;
                };
                if let Some(outcome) = handle(stream, expected_state).await {
                    return outcome;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(IdentityError::BrowserTimedOut {
                minutes: timeout.as_secs().div_ceil(60).max(1),
            }))
    }
}

/// Reads one request; `None` means "not the callback, keep waiting".
async fn handle(
    mut stream: TcpStream,
    expected_state: &str,
) -> Option<Result<String, IdentityError>> {
    let request = read_request(&mut stream, 0).await?;
    let Ok(url) = Url::parse(&format!("http://127.0.0.1{}", request.target)) else {
        respond(&mut stream, 400, "Bad request.").await;
        return None;
    };
    if request.method != "GET" || url.path() != CALLBACK_PATH {
        respond(&mut stream, 404, "Not found.").await;
        return None;
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let outcome = if param("state").as_deref() != Some(expected_state) {
        Err(IdentityError::StateMismatch)
    } else if let Some(error) = param("error") {
        if error == "access_denied" {
            Err(IdentityError::Denied)
        } else {
            Err(IdentityError::Rejected {
                detail: param("error_description").unwrap_or(error),
            })
        }
    } else if let Some(code) = param("code") {
        Ok(code)
    } else {
        Err(IdentityError::Protocol {
            detail: "the browser came back without a code".into(),
        })
    };
    match &outcome {
        Ok(_) => {
            respond(
                &mut stream,
                200,
                "Signed in to Postern. You can close this tab.",
            )
            .await
        }
        Err(e) => respond(&mut stream, 400, &format!("Postern sign-in failed: {e}")).await,
    }
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_code_comes_back_after_unrelated_requests() {
        let l = CallbackListener::bind().await.unwrap();
        let port = l.port;
        assert!(l.redirect_uri().starts_with("http://127.0.0.1:"));
        let wait =
            tokio::spawn(async move { l.wait_for_code("st8", Duration::from_secs(5)).await });
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let page = get(port, "/oauth/callback?code=abc&state=st8").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert_eq!(wait.await.unwrap().unwrap(), "abc");
    }

    #[tokio::test]
    async fn a_foreign_state_ends_the_attempt() {
        let l = CallbackListener::bind().await.unwrap();
        let port = l.port;
        let wait =
            tokio::spawn(async move { l.wait_for_code("mine", Duration::from_secs(5)).await });
        get(port, "/oauth/callback?code=abc&state=theirs").await;
        assert!(matches!(
            wait.await.unwrap(),
            Err(IdentityError::StateMismatch)
        ));
    }

    #[tokio::test]
    async fn a_denial_is_reported_as_such() {
        let l = CallbackListener::bind().await.unwrap();
        let port = l.port;
        let wait = tokio::spawn(async move { l.wait_for_code("s", Duration::from_secs(5)).await });
        get(port, "/oauth/callback?error=access_denied&state=s").await;
        assert!(matches!(wait.await.unwrap(), Err(IdentityError::Denied)));
    }

    #[tokio::test]
    async fn a_browser_that_never_comes_back_times_out() {
        let l = CallbackListener::bind().await.unwrap();
        let r = l.wait_for_code("s", Duration::from_millis(200)).await;
        assert!(matches!(
            r,
            Err(IdentityError::BrowserTimedOut { minutes: 1 })
        ));
    }

    #[test]
    fn the_authorize_url_has_what_identity_center_expects() {
        let a = PkceAttempt::new();
        let url = a.authorize_url(
            &Url::parse("https://oidc.eu-west-1.amazonaws.com/authorize").unwrap(),
            "cid",
            "http://127.0.0.1:5000/oauth/callback",
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scopes"], "sso:account:access");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], a.state.secret().as_str());
        assert!(!q.contains_key("scope"));
        assert!(!q["code_challenge"].contains('='));
    }
}
