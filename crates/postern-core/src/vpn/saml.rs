//! AWS Client VPN's SAML sign-in (`auth-federate`): the endpoint answers the first attempt with a
//! CRV1 challenge carrying the IdP's URL; the browser signs in and the IdP posts the assertion to
//! 127.0.0.1:35001 (the port AWS reserves and IdPs are configured with); the retry sends
//! `CRV1::<state>::<assertion>`. This module is the user side: the listener and the password.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::loopback::{read_request, respond};
use crate::problem::{ExitCode, Problem};

/// The assertion consumer port of the AWS flow.
pub const ACS_PORT: u16 = 35001;
/// AWS accepts SAML responses up to 128 KB.
const MAX_ASSERTION: usize = 128 * 1024 + 1024;

#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error(
        "Port {ACS_PORT} on 127.0.0.1 is in use, so the VPN sign-in cannot receive its answer."
    )]
    PortBusy,
    #[error("No sign-in answer came back from the browser within {minutes} minutes.")]
    TimedOut { minutes: u64 },
    #[error("The sign-in listener failed: {0}.")]
    Listener(String),
}

impl Problem for SamlError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::VpnFailed
    }

    fn next_step(&self) -> String {
        match self {
            SamlError::PortBusy => {
                "Quit the AWS VPN Client (it uses the same port) and connect again.".into()
            }
            SamlError::TimedOut { .. } => {
                "Connect again and finish signing in in the browser.".into()
            }
            SamlError::Listener(_) => {
                "Connect again; if it keeps failing, export diagnostics.".into()
            }
        }
    }
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
            Err(e) => Err(SamlError::Listener(e.to_string())),
        }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits for the IdP's form POST and returns the `SAMLResponse` value.
    pub async fn wait_for_assertion(&self, timeout: Duration) -> Result<String, SamlError> {
        let wait = async {
            loop {
                let Ok((mut stream, _)) = self.listener.accept().await else {
                    continue;
                };
                let Some(request) = read_request(&mut stream, MAX_ASSERTION).await else {
                    continue;
                };
                let response = (request.method == "POST")
                    .then(|| {
                        url::form_urlencoded::parse(&request.body)
                            .find(|(k, _)| k == "SAMLResponse")
                            .map(|(_, v)| v.into_owned())
                    })
                    .flatten();
                match response {
                    Some(r) if !r.is_empty() => {
                        respond(
                            &mut stream,
                            200,
                            "Signed in to the VPN. You can close this tab.",
                        )
                        .await;
                        return Ok(r);
                    }
                    _ => respond(&mut stream, 404, "Not found.").await,
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(SamlError::TimedOut {
                minutes: timeout.as_secs().div_ceil(60).max(1),
            }))
    }
}

/// The password of the retry, as the AWS client sends it: the assertion URL-quoted.
pub fn crv1_password(state_id: &str, assertion: &str) -> String {
    let quoted: String = url::form_urlencoded::byte_serialize(assertion.as_bytes()).collect();
    format!("CRV1::{state_id}::{quoted}")
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

    #[tokio::test]
    async fn a_busy_port_is_named() {
        let first = AcsListener::bind_port(0).await.unwrap();
        let second = AcsListener::bind_port(first.port()).await;
        assert!(matches!(second, Err(SamlError::PortBusy)));
    }

    #[test]
    fn the_crv1_password_quotes_the_assertion() {
        assert_eq!(crv1_password("st:1", "a+b/c="), "CRV1::st:1::a%2Bb%2Fc%3D");
    }
}
