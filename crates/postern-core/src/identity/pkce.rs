//! The browser half of the PKCE sign-in: an HTTP listener on 127.0.0.1 (never on other
//! interfaces) that waits for Identity Center's redirect with `code` and our `state`.

use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use tokio::net::TcpListener;
use url::Url;

use super::error::IdentityError;
use crate::loopback::{LoopbackRequest, Verdict, serve};

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

    /// Waits for the redirect carrying our `state`. Anything else (a favicon, a probe, a
    /// redirect with another state, a client that never finishes its request) is answered or
    /// dropped on its own, and the wait goes on until the real redirect or `timeout`.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<String, IdentityError> {
        let wait = serve(&self.listener, 0, |request| judge(request, expected_state));
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(IdentityError::BrowserTimedOut {
                minutes: timeout.as_secs().div_ceil(60).max(1),
            }))
    }
}

/// What one request to the listener means for the sign-in.
fn judge(
    request: &LoopbackRequest,
    expected_state: &str,
) -> Verdict<Result<String, IdentityError>> {
    let ignore = |status, page: &str| Verdict::Ignore {
        status,
        page: page.to_string(),
    };
    let Ok(url) = Url::parse(&format!("http://127.0.0.1{}", request.target)) else {
        return ignore(400, "Bad request.");
    };
    if request.method != "GET" || url.path() != CALLBACK_PATH {
        return ignore(404, "Not found.");
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    // Another tab's (or another program's) redirect: not ours to act on, so it ends nothing.
    if param("state").as_deref() != Some(expected_state) {
        return ignore(
            400,
            "This sign-in answer is not for the sign-in Postern is waiting for; it was ignored.",
        );
    }
    let outcome = if let Some(error) = param("error") {
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
    let (status, page) = match &outcome {
        Ok(_) => (
            200,
            "Signed in to Postern. You can close this tab.".to_string(),
        ),
        Err(e) => (400, format!("Postern sign-in failed: {e}")),
    };
    Verdict::Done {
        status,
        page,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

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
    async fn a_foreign_state_is_refused_and_the_wait_goes_on() {
        let l = CallbackListener::bind().await.unwrap();
        let port = l.port;
        let wait =
            tokio::spawn(async move { l.wait_for_code("mine", Duration::from_secs(30)).await });
        let page = get(port, "/oauth/callback?code=abc&state=theirs").await;
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
        assert!(
            page.contains("not for the sign-in Postern is waiting for"),
            "{page}"
        );
        // Nor can someone else's denial end this sign-in.
        let page = get(port, "/oauth/callback?error=access_denied&state=theirs").await;
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
        let page = get(port, "/oauth/callback?code=good&state=mine").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert_eq!(wait.await.unwrap().unwrap(), "good");
    }

    /// Open with nothing to read yet: the listener neither answered nor closed it.
    fn assert_open_and_unanswered(stream: &TcpStream, what: &str) {
        let mut buf = [0u8; 64];
        match stream.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("the {what} client was answered or closed: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_silent_or_trickling_client_does_not_hold_up_the_redirect() {
        let l = CallbackListener::bind().await.unwrap();
        let port = l.port;
        let wait =
            tokio::spawn(async move { l.wait_for_code("st8", Duration::from_secs(60)).await });
        // One connects and says nothing; one starts a request and never finishes it.
        let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut trickling = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        trickling
            .write_all(b"GET /oauth/callback?code=evil")
            .await
            .unwrap();
        // Served one after the other, these would wait for both slow clients' deadlines, which
        // close them: answered while both are still open, they were not held up.
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        trickling.write_all(b"&state=").await.unwrap();
        assert_open_and_unanswered(&silent, "silent");
        assert_open_and_unanswered(&trickling, "trickling");
        let page = get(port, "/oauth/callback?code=abc&state=st8").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert_eq!(wait.await.unwrap().unwrap(), "abc");
        // The wait is over: the slow ones are closed without ever getting a page.
        for (stream, what) in [(&mut silent, "silent"), (&mut trickling, "trickling")] {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
                .await
                .expect("closed once the wait ended");
            assert!(matches!(read, Ok(0) | Err(_)), "{what}: {read:?}");
        }
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
