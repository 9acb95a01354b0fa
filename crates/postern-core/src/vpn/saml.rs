//! AWS Client VPN's SAML sign-in (`auth-federate`): the endpoint answers the first attempt with a
//! CRV1 challenge carrying the IdP's URL; the browser signs in and the IdP posts the assertion to
//! 127.0.0.1:35001 (the port AWS reserves and IdPs are configured with); the retry sends
//! `CRV1::<state>::<assertion>`. This module is the user side: the listener and the password.

use std::time::Duration;

use tokio::net::TcpListener;
use url::Url;

use crate::loopback::{LoopbackRequest, Verdict, serve};
use crate::policy::OrgPolicy;

pub use postern_ovpn::saml::crv1_password;
pub use postern_types::saml::{ACS_PORT, SamlError, UrlRefusal};

/// AWS accepts SAML responses up to 128 KB.
const MAX_ASSERTION: usize = 128 * 1024 + 1024;

/// Whether a sign-in page may be plain `http://`: only where the organization policy sets
/// `[egress] allow_plain_http = true`, the switch a lab uses for its unencrypted endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    Refused,
    Allowed,
}

impl PlainHttp {
    /// What the policy allows; no policy (or one without `[egress]`) allows https only.
    pub fn from_policy(policy: Option<&OrgPolicy>) -> Self {
        match policy.and_then(|p| p.egress.as_ref()) {
            Some(egress) if egress.allow_plain_http => PlainHttp::Allowed,
            _ => PlainHttp::Refused,
        }
    }
}

/// The address the VPN server's CRV1 challenge names, checked before anything opens it: an
/// absolute `https://` URL with a host (plain `http://` only where `plain_http` allows it), no
/// user name or password, no spaces or control characters. Anything else (`file:`,
/// `javascript:`, a bare path) is refused with the reason.
pub fn openable_sign_in_url(server_url: &str, plain_http: PlainHttp) -> Result<Url, SamlError> {
    let refuse = |why| SamlError::RefusedUrl {
        url: server_url.to_string(),
        why,
    };
    // The URL parser would quietly drop tabs and line breaks; a server that sends them is refused.
    if server_url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(refuse(UrlRefusal::Unprintable));
    }
    let url = Url::parse(server_url).map_err(|_| refuse(UrlRefusal::NotAUrl))?;
    match (url.scheme(), plain_http) {
        ("https", _) | ("http", PlainHttp::Allowed) => {}
        ("http", PlainHttp::Refused) => return Err(refuse(UrlRefusal::PlainHttp)),
        _ => return Err(refuse(UrlRefusal::Scheme)),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse(UrlRefusal::NoHost));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(UrlRefusal::Credentials));
    }
    Ok(url)
}

/// Opens a checked sign-in page in the person's browser; false when none could be started.
pub fn open_in_browser(url: &Url) -> bool {
    webbrowser::open(url.as_str()).is_ok()
}

pub struct AcsListener {
    listener: TcpListener,
}

impl AcsListener {
    pub async fn bind() -> Result<Self, SamlError> {
        Self::bind_port(ACS_PORT).await
    }

    pub async fn bind_port(port: u16) -> Result<Self, SamlError> {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => Ok(Self { listener }),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(SamlError::PortBusy),
            Err(e) => Err(SamlError::Listener {
                detail: e.to_string(),
            }),
        }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits for the IdP's form POST and returns the `SAMLResponse` value. Other requests (a
    /// GET, a form without an assertion) are answered and ignored; slow clients are read
    /// alongside, each within its own deadline, so none holds up the browser's POST.
    pub async fn wait_for_assertion(&self, timeout: Duration) -> Result<String, SamlError> {
        let wait = serve(&self.listener, MAX_ASSERTION, judge);
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| SamlError::TimedOut {
                minutes: timeout.as_secs().div_ceil(60).max(1),
            })
    }
}

fn judge(request: &LoopbackRequest) -> Verdict<String> {
    if request.method != "POST" {
        return Verdict::Ignore {
            status: 404,
            page: "Not found.".into(),
        };
    }
    let assertion = url::form_urlencoded::parse(&request.body)
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty());
    match assertion {
        Some(outcome) => Verdict::Done {
            status: 200,
            page: "Signed in to the VPN. You can close this tab.".into(),
            outcome,
        },
        None => Verdict::Ignore {
            status: 400,
            page: "This form carries no sign-in answer; it was ignored.".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_posted_assertion_is_received() {
        let acs = AcsListener::bind_port(0).await.unwrap();
        let port = acs.port();
        let post = tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let body = "RelayState=x&SAMLResponse=PHNhbWw%2BYWxpY2U8L3NhbWw%2B";
            s.write_all(format!("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        });
        let got = acs
            .wait_for_assertion(Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(got, "PHNhbWw+YWxpY2U8L3NhbWw+");
        assert!(post.await.unwrap().contains("Signed in to the VPN"));
    }

    #[tokio::test]
    async fn a_browser_that_never_posts_times_out() {
        let acs = AcsListener::bind_port(0).await.unwrap();
        let r = acs.wait_for_assertion(Duration::from_millis(100)).await;
        assert!(matches!(r, Err(SamlError::TimedOut { minutes: 1 })));
    }

    async fn post(port: u16, body: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(format!("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn a_stalled_post_and_a_form_without_an_assertion_do_not_end_or_delay_the_wait() {
        let acs = std::sync::Arc::new(AcsListener::bind_port(0).await.unwrap());
        let port = acs.port();
        let waiting = acs.clone();
        let wait =
            tokio::spawn(async move { waiting.wait_for_assertion(Duration::from_secs(60)).await });
        // A POST that announces a body and never sends it.
        let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stalled
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\nSAMLResponse=PHN")
            .await
            .unwrap();
        let page = post(port, "RelayState=x").await;
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
        // Answered while the stalled one is still open and unanswered: it held nothing up.
        let mut buf = [0u8; 64];
        assert!(
            matches!(stalled.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the stalled client was answered or closed"
        );
        let page = post(port, "SAMLResponse=PHNhbWw%2B").await;
        assert!(page.contains("Signed in to the VPN"), "{page}");
        assert_eq!(wait.await.unwrap().unwrap(), "PHNhbWw+");
    }

    #[tokio::test]
    async fn a_busy_port_is_named() {
        let first = AcsListener::bind_port(0).await.unwrap();
        let second = AcsListener::bind_port(first.port()).await;
        assert!(matches!(second, Err(SamlError::PortBusy)));
    }

    #[test]
    fn only_https_sign_in_pages_are_opened_and_plain_http_only_where_the_policy_allows() {
        use PlainHttp::{Allowed, Refused};
        let url = openable_sign_in_url(
            "https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/x?SAMLRequest=abc",
            Refused,
        )
        .unwrap();
        assert_eq!(url.host_str(), Some("portal.sso.eu-west-1.amazonaws.com"));
        let lab = "http://192.0.2.80/idp?state=x";
        assert_eq!(openable_sign_in_url(lab, Allowed).unwrap().as_str(), lab);
        let refusal = |text: &str, plain| match openable_sign_in_url(text, plain) {
            Err(SamlError::RefusedUrl { url, why }) => {
                assert_eq!(url, text);
                why
            }
            other => panic!("{text:?} was not refused: {other:?}"),
        };
        assert_eq!(refusal(lab, Refused), UrlRefusal::PlainHttp);
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,<script>x</script>",
            "ftp://192.0.2.80/x",
            "smb://fileserver/share",
        ] {
            assert_eq!(refusal(bad, Allowed), UrlRefusal::Scheme, "{bad}");
        }
        for bad in ["/fake-idp/login?state=x", "idp.example.com/login", ""] {
            assert_eq!(refusal(bad, Allowed), UrlRefusal::NotAUrl, "{bad}");
        }
        assert_eq!(
            refusal("https://idp.example.com@evil.example/", Refused),
            UrlRefusal::Credentials
        );
        for bad in [
            "https://idp.example.com/\u{1b}[2J",
            "https://idp.example.com/a b",
            "https://idp.example.com/\tx",
        ] {
            assert_eq!(refusal(bad, Allowed), UrlRefusal::Unprintable, "{bad:?}");
        }
    }

    #[test]
    fn plain_http_follows_the_policys_egress_switch() {
        let policy = |egress: &str| {
            crate::policy::parse(&format!(
                "[identity_center]\nstart_url = \"https://x.awsapps.com/start\"\nregion = \"eu-west-1\"\n{egress}"
            ))
            .unwrap()
        };
        let nat = "nat_addresses = [\"203.0.113.10\"]";
        let lab = policy(&format!(
            "[egress]\necho_urls = [\"http://192.0.2.80/\"]\nallow_plain_http = true\n{nat}\n"
        ));
        assert_eq!(PlainHttp::from_policy(Some(&lab)), PlainHttp::Allowed);
        let production = policy(&format!("[egress]\n{nat}\n"));
        assert_eq!(
            PlainHttp::from_policy(Some(&production)),
            PlainHttp::Refused
        );
        assert_eq!(
            PlainHttp::from_policy(Some(&policy(""))),
            PlainHttp::Refused
        );
        assert_eq!(PlainHttp::from_policy(None), PlainHttp::Refused);
    }

    #[test]
    fn a_refused_address_is_shown_with_its_control_characters_escaped() {
        let err = openable_sign_in_url("https://x.example/\u{1b}]8;;evil\u{7}", PlainHttp::Allowed)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("\\u{1b}]8;;evil\\u{7}"), "{text}");
        assert!(text.contains("spaces or control characters"), "{text}");
    }
}
