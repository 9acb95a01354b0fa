//! The one path that drives the privileged helper's tunnel, for the agent's Connect and for
//! `postern vpn connect` alike: take down this profile's tunnel left by an earlier attempt, ask
//! for the new one, follow its states and carry out the VPN's SAML sign-in when the endpoint
//! asks for it (listen on 127.0.0.1:35001, check and open the IdP's page, send the answer back).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use postern_core::session::Cause;
use postern_core::vpn::saml::{
    AcsListener, PlainHttp, SamlError, open_in_browser, openable_sign_in_url,
};
use postern_core::vpn::tunnel::{TunnelFailure, TunnelState};
use postern_ipc::HelperError;
use postern_ipc::client::{HelperClient, HelperClientError};
use tokio::sync::mpsc;

use crate::parts::{Helper, PreparedProfile, Task, helper_cause};

/// How long the person has to sign in to the VPN in the browser: the helper's own limit.
pub const VPN_SIGN_IN_LIMIT: Duration = Duration::from_secs(300);

/// How the VPN's SAML sign-in page reaches the person.
#[derive(Debug, Clone, Copy)]
pub struct VpnSignIn {
    /// Open the page in the browser; otherwise only show it (the state carries the address).
    pub open_browser: bool,
    /// Whether a plain `http://` page may open (the policy's lab switch).
    pub plain_http: PlainHttp,
}

/// The real helper, over its socket.
#[derive(Clone)]
pub struct TunnelDriver {
    socket: PathBuf,
    sign_in: VpnSignIn,
    /// What the name in log lines and the helper's records says the client is.
    client: &'static str,
}

impl TunnelDriver {
    pub fn new(socket: PathBuf, sign_in: VpnSignIn, client: &'static str) -> Self {
        Self {
            socket,
            sign_in,
            client,
        }
    }

    async fn control(&self) -> Result<HelperClient, Cause> {
        HelperClient::connect(&self.socket, self.client)
            .await
            .map_err(|e| helper_cause(&e))
    }
}

/// A refusal of the helper that is about the tunnel (shown as its `Failed` state), or the cause
/// of a helper that cannot be used at all.
fn refusal(e: HelperClientError) -> Result<TunnelFailure, Cause> {
    match e {
        HelperClientError::Refused(HelperError::Tunnel { failure }) => Ok(failure),
        HelperClientError::Refused(
            HelperError::ProtocolMismatch { .. } | HelperError::NotAllowed { .. },
        )
        | HelperClientError::NotRunning { .. }
        | HelperClientError::NoPermission { .. }
        | HelperClientError::Broken(_) => Err(helper_cause(&e)),
        other => Ok(TunnelFailure::Fatal {
            message: other.to_string(),
        }),
    }
}

type AssertionWait<'a> = Pin<Box<dyn Future<Output = Result<String, SamlError>> + Send + 'a>>;

impl TunnelDriver {
    async fn drive(
        &self,
        profile: PreparedProfile,
        states: mpsc::Sender<TunnelState>,
    ) -> Result<(), Cause> {
        let failed = |cause| TunnelState::Failed {
            profile: profile.name.clone(),
            cause,
        };
        // The IdP posts to 127.0.0.1:35001: listen before the endpoint can ask, so a busy port
        // is said at once and not after the person signed in.
        let acs = match profile.federated {
            true => Some(
                AcsListener::bind()
                    .await
                    .map_err(|failure| Cause::VpnSignInFailed { failure })?,
            ),
            false => None,
        };
        let mut control = self.control().await?;
        // A fresh Connect starts over: a tunnel of this profile still up or reconnecting from
        // the previous attempt is ours, and is taken down first.
        if let Ok(current) = control.status().await
            && !current.is_final()
            && current.profile() == Some(profile.name.as_str())
        {
            tracing::info!(
                profile = profile.name,
                "taking down the previous attempt's tunnel"
            );
            let _ = control.disconnect().await;
        }
        if let Err(e) = control.connect_tunnel(&profile.name, &profile.text).await {
            let _ = states.send(failed(refusal(e)?)).await;
            return Ok(());
        }
        let mut stream = self
            .control()
            .await?
            .watch()
            .await
            .map_err(|e| helper_cause(&e))?;
        // The browser's answer to the challenge being shown, while the tunnel's states go on.
        let mut answer: Option<AssertionWait<'_>> = None;
        loop {
            tokio::select! {
                state = stream.next() => {
                    let Some(state) = state else {
                        // The helper went away while the tunnel was ours: it cannot be trusted.
                        return Err(Cause::HelperUnavailable {
                            trouble: Default::default(),
                            detail: "the VPN helper stopped".into(),
                        });
                    };
                    let state = match state {
                        TunnelState::AwaitingBrowser { profile: name, url } => {
                            if answer.is_some() {
                                continue; // the same challenge, said again
                            }
                            let Some(acs) = &acs else {
                                let _ = control.disconnect().await;
                                let _ = states.send(failed(TunnelFailure::SamlUnsupported)).await;
                                return Ok(());
                            };
                            // The server's address is checked before it is opened or shown.
                            let url = match openable_sign_in_url(&url, self.sign_in.plain_http) {
                                Ok(url) => url,
                                Err(failure) => {
                                    // Nobody will sign in: take the waiting tunnel down now.
                                    let _ = control.disconnect().await;
                                    return Err(Cause::VpnSignInFailed { failure });
                                }
                            };
                            if self.sign_in.open_browser && !open_in_browser(&url) {
                                tracing::info!("no browser could be opened; the address is shown");
                            }
                            answer = Some(Box::pin(acs.wait_for_assertion(VPN_SIGN_IN_LIMIT)));
                            TunnelState::AwaitingBrowser { profile: name, url: url.into() }
                        }
                        other => {
                            // The challenge is over (connected, failed, taken down).
                            answer = None;
                            other
                        }
                    };
                    if states.send(state).await.is_err() {
                        return Ok(());
                    }
                }
                assertion = async {
                    match answer.as_mut() {
                        Some(wait) => wait.await,
                        None => std::future::pending().await,
                    }
                }, if answer.is_some() => {
                    answer = None;
                    let refused = match assertion {
                        Ok(assertion) => match control.saml_response(&assertion).await {
                            Ok(_) => continue,
                            Err(e) => refusal(e)?,
                        },
                        Err(failure) => {
                            let _ = control.disconnect().await;
                            return Err(Cause::VpnSignInFailed { failure });
                        }
                    };
                    let _ = control.disconnect().await;
                    let _ = states.send(failed(refused)).await;
                    return Ok(());
                }
            }
        }
    }
}

impl Helper for TunnelDriver {
    fn tunnel(
        &self,
        profile: PreparedProfile,
        states: mpsc::Sender<TunnelState>,
    ) -> Task<Result<(), Cause>> {
        let driver = self.clone();
        Box::pin(async move { driver.drive(profile, states).await })
    }

    fn disconnect(&self) -> Task<()> {
        let driver = self.clone();
        Box::pin(async move {
            if let Ok(mut helper) = driver.control().await {
                let _ = helper.disconnect().await;
            }
        })
    }
}
