//! The user side of the helper connection, shared by the CLI and the desktop app.

use std::path::{Path, PathBuf};

use crate::trust::{self, LocalStream, Server, Unreachable, UntrustedSocket};
use crate::{
    DEFAULT_SOCKET, FrameError, HelperError, PROTOCOL_VERSION, Reply, Request, SOCKET_ENV,
    read_frame, write_frame,
};
use postern_types::tunnel::{TunnelState, TunnelStateRecord};
use postern_types::{ExitCode, Problem};

#[derive(Debug, thiserror::Error)]
pub enum HelperClientError {
    #[error("The Postern VPN helper is not running (nothing listens at {path}).")]
    NotRunning { path: String },
    #[error("You may not use the Postern VPN helper at {path} (permission denied).")]
    NoPermission { path: String },
    #[error(transparent)]
    Refused(#[from] HelperError),
    /// What answers at the socket path is not the root helper (a path from the environment).
    #[error(transparent)]
    Untrusted(#[from] UntrustedSocket),
    #[error("The connection to the VPN helper failed: {0}.")]
    Broken(String),
}

impl From<FrameError> for HelperClientError {
    fn from(e: FrameError) -> Self {
        HelperClientError::Broken(e.to_string())
    }
}

impl Problem for HelperClientError {
    fn exit_code(&self) -> ExitCode {
        match self {
            HelperClientError::Refused(
                HelperError::ProfileRefused { .. } | HelperError::ProfileInvalid { .. },
            ) => ExitCode::BadInput,
            HelperClientError::Refused(HelperError::Tunnel { .. } | HelperError::Busy { .. }) => {
                ExitCode::VpnFailed
            }
            _ => ExitCode::HelperUnavailable,
        }
    }

    fn next_step(&self) -> String {
        match self {
            HelperClientError::NotRunning { .. } => {
                "Start it (`systemctl start postern-helper`) or reinstall Postern.".into()
            }
            HelperClientError::NoPermission { .. }
            | HelperClientError::Refused(HelperError::NotAllowed { .. }) => {
                "Ask your IT department to add your account to the 'postern' group, then log in again.".into()
            }
            HelperClientError::Refused(HelperError::ProtocolMismatch { .. }) => {
                "Update Postern so the app and its helper are the same version.".into()
            }
            HelperClientError::Refused(HelperError::Busy { .. }) => {
                "Run `postern vpn disconnect` first.".into()
            }
            HelperClientError::Refused(HelperError::NotOwner { .. }) => {
                "Ask the user who started it to disconnect, or wait until it is down.".into()
            }
            HelperClientError::Untrusted(_) => format!(
                "Unset {SOCKET_ENV} (the helper listens at {DEFAULT_SOCKET}) or point it at the helper's own socket; if the default is refused, reinstall Postern."
            ),
            HelperClientError::Refused(HelperError::Tunnel { failure }) => failure.next_step(),
            HelperClientError::Refused(
                HelperError::ProfileRefused { .. } | HelperError::ProfileInvalid { .. },
            ) => "Import the profile again from the file your IT department sent.".into(),
            _ => "Try again; if it persists, restart the helper and export diagnostics.".into(),
        }
    }
}

pub struct HelperClient {
    stream: LocalStream,
    pub helper_version: String,
}

/// Connects, then makes sure the helper (root, or SYSTEM on Windows) listens there before
/// anything is written.
async fn open(path: &Path) -> Result<LocalStream, HelperClientError> {
    let shown = || path.display().to_string();
    trust::open(path, Server::Helper)
        .await
        .map_err(|e| match e {
            Unreachable::NotRunning => HelperClientError::NotRunning { path: shown() },
            Unreachable::NoPermission => HelperClientError::NoPermission { path: shown() },
            Unreachable::Untrusted(u) => HelperClientError::Untrusted(u),
            Unreachable::Other(e) => HelperClientError::Broken(e.to_string()),
        })
}

fn unexpected(reply: Reply) -> HelperClientError {
    HelperClientError::Broken(format!("unexpected answer {reply:?}"))
}

/// The socket path: `$POSTERN_HELPER_SOCKET`, else the system default.
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

impl HelperClient {
    /// Connects and says Hello; any refusal comes back typed.
    pub async fn connect(path: &Path, client: &str) -> Result<Self, HelperClientError> {
        let mut stream = open(path).await?;
        let hello = Request::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: client.into(),
        };
        // A helper that refuses this peer answers before reading anything and hangs up, so a
        // failed write is not the end: its refusal may already be waiting.
        let sent = write_frame(&mut stream, &hello).await;
        let reply = read_frame::<_, Reply>(&mut stream).await;
        let reply = match (sent, reply) {
            (_, Ok(reply)) => reply,
            (Err(e), Err(_)) => return Err(e.into()),
            (Ok(()), Err(e)) => return Err(e.into()),
        };
        match reply {
            Reply::Welcome { helper_version, .. } => Ok(Self {
                stream,
                helper_version,
            }),
            Reply::Refused(e) => Err(e.into()),
            other => Err(unexpected(other)),
        }
    }

    async fn ask(&mut self, request: &Request) -> Result<Reply, HelperClientError> {
        write_frame(&mut self.stream, request).await?;
        match read_frame::<_, Reply>(&mut self.stream).await? {
            Reply::Refused(e) => Err(e.into()),
            reply => Ok(reply),
        }
    }

    /// Asks, and takes the one kind of answer `pick` accepts (it hands any other back).
    async fn ask_for<T>(
        &mut self,
        request: &Request,
        pick: impl FnOnce(Reply) -> Result<T, Box<Reply>>,
    ) -> Result<T, HelperClientError> {
        pick(self.ask(request).await?).map_err(|other| unexpected(*other))
    }

    async fn ask_state(&mut self, request: &Request) -> Result<TunnelState, HelperClientError> {
        self.ask_for(request, |reply| match reply {
            Reply::State(s) => Ok(s),
            other => Err(Box::new(other)),
        })
        .await
    }

    pub async fn connect_tunnel(
        &mut self,
        name: &str,
        profile: &str,
    ) -> Result<TunnelState, HelperClientError> {
        self.ask_state(&Request::Connect {
            profile_name: name.into(),
            profile: profile.into(),
        })
        .await
    }

    pub async fn saml_response(
        &mut self,
        assertion: &str,
    ) -> Result<TunnelState, HelperClientError> {
        self.ask_state(&Request::SamlResponse {
            assertion: assertion.into(),
        })
        .await
    }

    pub async fn disconnect(&mut self) -> Result<TunnelState, HelperClientError> {
        self.ask_state(&Request::Disconnect).await
    }

    pub async fn status(&mut self) -> Result<TunnelState, HelperClientError> {
        self.ask_state(&Request::Status).await
    }

    pub async fn state_history(&mut self) -> Result<Vec<TunnelStateRecord>, HelperClientError> {
        self.ask_for(&Request::StateHistory, |reply| match reply {
            Reply::History { states } => Ok(states),
            other => Err(Box::new(other)),
        })
        .await
    }

    pub async fn openvpn_log(&mut self) -> Result<Vec<String>, HelperClientError> {
        self.ask_for(&Request::OpenVpnLog, |reply| match reply {
            Reply::Log { lines } => Ok(lines),
            other => Err(Box::new(other)),
        })
        .await
    }

    /// (received, sent) bytes of the current tunnel.
    pub async fn traffic(&mut self) -> Result<(u64, u64), HelperClientError> {
        self.ask_for(&Request::Traffic, |reply| match reply {
            Reply::Traffic { received, sent } => Ok((received, sent)),
            other => Err(Box::new(other)),
        })
        .await
    }

    /// Turns this connection into a stream of states.
    pub async fn watch(mut self) -> Result<StateStream, HelperClientError> {
        write_frame(&mut self.stream, &Request::Watch).await?;
        Ok(StateStream {
            stream: self.stream,
        })
    }
}

pub struct StateStream {
    stream: LocalStream,
}

impl StateStream {
    /// The next state; `None` when the helper went away.
    pub async fn next(&mut self) -> Option<TunnelState> {
        match read_frame::<_, Reply>(&mut self.stream).await {
            Ok(Reply::State(s)) => Some(s),
            _ => None,
        }
    }
}
