//! The user side of the agent connection (the CLI, the app's window, credential_process), and
//! where the agent listens. Here rather than beside the agent so that the credential_process
//! program links the wire and nothing of the session.

use std::path::{Path, PathBuf};

use postern_types::session::Transition;
use postern_types::{ExitCode, Problem};

use crate::agent::{AGENT_PROTOCOL_VERSION, AgentError, AgentReply, AgentRequest};
use crate::trust::{self, LocalStream, Server, Unreachable, UntrustedSocket};
use crate::{FRAME_DEADLINE, read_frame, read_frame_within, write_frame};

/// Non-secret per-user state: lock files, caches that are safe in plain text.
pub fn user_state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("postern")
}

/// The per-user agent's socket: `$POSTERN_AGENT_SOCKET`, else `$XDG_RUNTIME_DIR/postern/agent.sock`,
/// else the state directory. Its directory is the user's only (0700). On Windows a named pipe
/// per user, `\\.\pipe\postern-agent-USERNAME`; the agent makes it owned by and open to that
/// user only, and clients check its owner.
pub fn agent_socket() -> PathBuf {
    if let Some(p) = std::env::var_os("POSTERN_AGENT_SOCKET").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    #[cfg(windows)]
    {
        let user = std::env::var("USERNAME").unwrap_or_default();
        let user: String = user
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        PathBuf::from(format!(r"\\.\pipe\postern-agent-{user}"))
    }
    #[cfg(not(windows))]
    dirs::runtime_dir()
        .map(|d| d.join("postern"))
        .unwrap_or_else(user_state_dir)
        .join("agent.sock")
}

#[derive(Debug, thiserror::Error)]
pub enum AgentClientError {
    #[error("The Postern agent is not running (nothing listens at {path}).")]
    NotRunning { path: String },
    #[error(transparent)]
    Refused(#[from] AgentError),
    /// What answers at the socket path is not this user's agent (a path from the environment).
    #[error(transparent)]
    Untrusted(#[from] UntrustedSocket),
    #[error("The connection to the Postern agent failed: {0}.")]
    Broken(String),
}

impl Problem for AgentClientError {
    fn exit_code(&self) -> ExitCode {
        match self {
            AgentClientError::Refused(AgentError::NotReady { cause: Some(c), .. }) => c.exit_code(),
            AgentClientError::Refused(AgentError::NotReady { .. }) => ExitCode::NotConnected,
            AgentClientError::Refused(AgentError::AccessNotAllowed { .. }) => {
                ExitCode::AccessNotAllowed
            }
            AgentClientError::Refused(AgentError::BadRequest { .. }) => ExitCode::BadInput,
            _ => ExitCode::AgentUnavailable,
        }
    }

    fn next_step(&self) -> String {
        match self {
            AgentClientError::NotRunning { .. } => "Start the Postern app (or `postern agent`), then connect.".into(),
            AgentClientError::Refused(AgentError::NotReady { cause: Some(c), .. }) if !c.next_step().is_empty() => c.next_step(),
            AgentClientError::Refused(AgentError::NotReady { .. }) => "Run `postern connect` (or click Connect in the Postern app).".into(),
            AgentClientError::Refused(AgentError::AccessNotAllowed { .. }) => "Pick an account and role your company allows (`postern accounts`), or ask your IT department.".into(),
            AgentClientError::Refused(AgentError::ProtocolMismatch { .. }) => "Restart the Postern app so the agent and this command are the same version.".into(),
            AgentClientError::Untrusted(_) => "Unset POSTERN_AGENT_SOCKET and check XDG_RUNTIME_DIR (the agent's socket must be in a directory only you own and can write), then restart the Postern app.".into(),
            _ => "Restart the Postern app (or `postern agent`) and try again.".into(),
        }
    }
}

/// An answer of the wrong kind, named by its kind only: answers can hold credentials.
fn unexpected(reply: &AgentReply) -> AgentClientError {
    let kind = serde_json::to_value(reply)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    AgentClientError::Broken(format!("unexpected answer of kind {kind}"))
}

/// The local endpoint as granted to one process: valid while this value lives.
pub struct EndpointLease {
    pub url: String,
    pub token: String,
    _held: LocalStream,
}

pub struct AgentClient {
    stream: LocalStream,
}

impl AgentClient {
    /// Connects, makes sure this user's agent listens there, then says Hello.
    pub async fn connect(path: &Path) -> Result<Self, AgentClientError> {
        // Credentials come back on this connection: a stand-in must get nothing, not even Hello.
        let mut stream = trust::open(path, Server::Agent)
            .await
            .map_err(|e| match e {
                Unreachable::Untrusted(u) => AgentClientError::Untrusted(u),
                Unreachable::Other(e) => AgentClientError::Broken(e.to_string()),
                Unreachable::NotRunning | Unreachable::NoPermission => {
                    AgentClientError::NotRunning {
                        path: path.display().to_string(),
                    }
                }
            })?;
        let sent = write_frame(
            &mut stream,
            &AgentRequest::Hello {
                protocol_version: AGENT_PROTOCOL_VERSION,
            },
        )
        .await;
        // The agent answers Hello at once: a stopped or wedged agent is a failure, not a wait.
        match read_frame_within::<_, AgentReply>(&mut stream, FRAME_DEADLINE).await {
            Ok(AgentReply::Welcome { .. }) => Ok(Self { stream }),
            Ok(AgentReply::Refused(e)) => Err(e.into()),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(AgentClientError::Broken(
                sent.err()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.to_string()),
            )),
        }
    }

    async fn ask(&mut self, request: &AgentRequest) -> Result<AgentReply, AgentClientError> {
        self.ask_within(request, None).await
    }

    /// Asks; with `within`, the whole answer must come in that time.
    async fn ask_within(
        &mut self,
        request: &AgentRequest,
        within: Option<std::time::Duration>,
    ) -> Result<AgentReply, AgentClientError> {
        write_frame(&mut self.stream, request)
            .await
            .map_err(|e| AgentClientError::Broken(e.to_string()))?;
        let reply = match within {
            Some(within) => read_frame_within::<_, AgentReply>(&mut self.stream, within).await,
            None => read_frame::<_, AgentReply>(&mut self.stream).await,
        };
        match reply {
            Ok(AgentReply::Refused(e)) => Err(e.into()),
            Ok(reply) => Ok(reply),
            Err(e) => Err(AgentClientError::Broken(e.to_string())),
        }
    }

    async fn ask_session(
        &mut self,
        request: &AgentRequest,
    ) -> Result<Transition, AgentClientError> {
        match self.ask(request).await? {
            AgentReply::Session { transition } => Ok(transition),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn connect_session(
        &mut self,
        profile: Option<String>,
        account: &str,
        role: &str,
    ) -> Result<Transition, AgentClientError> {
        self.ask_session(&AgentRequest::Connect {
            profile,
            account: account.into(),
            role: role.into(),
        })
        .await
    }

    pub async fn disconnect(&mut self) -> Result<Transition, AgentClientError> {
        self.ask_session(&AgentRequest::Disconnect).await
    }

    pub async fn status(&mut self) -> Result<Transition, AgentClientError> {
        self.ask_session(&AgentRequest::Status).await
    }

    pub async fn credentials(
        &mut self,
        account: &str,
        role: &str,
    ) -> Result<String, AgentClientError> {
        // Served from the agent's memory, or refused: credential_process never waits long.
        let request = AgentRequest::Credentials {
            account: account.into(),
            role: role.into(),
        };
        match self.ask_within(&request, Some(FRAME_DEADLINE)).await? {
            AgentReply::Credentials { document } => Ok(document),
            other => Err(unexpected(&other)),
        }
    }

    /// The recent transitions, oldest first.
    pub async fn history(&mut self) -> Result<Vec<Transition>, AgentClientError> {
        match self.ask(&AgentRequest::History).await? {
            AgentReply::History { transitions } => Ok(transitions),
            other => Err(unexpected(&other)),
        }
    }

    /// A token for the local credentials endpoint, serving this account and role while the
    /// lease lives (the agent revokes it when this connection closes).
    pub async fn open_endpoint(
        mut self,
        account: &str,
        role: &str,
    ) -> Result<EndpointLease, AgentClientError> {
        match self
            .ask(&AgentRequest::OpenEndpoint {
                account: account.into(),
                role: role.into(),
            })
            .await?
        {
            AgentReply::Endpoint { url, token } => Ok(EndpointLease {
                url,
                token,
                _held: self.stream,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Every transition from now on.
    pub async fn watch(mut self) -> Result<Transitions, AgentClientError> {
        write_frame(&mut self.stream, &AgentRequest::Watch)
            .await
            .map_err(|e| AgentClientError::Broken(e.to_string()))?;
        Ok(Transitions {
            stream: self.stream,
        })
    }
}

pub struct Transitions {
    stream: LocalStream,
}

impl Transitions {
    pub async fn next(&mut self) -> Option<Transition> {
        match read_frame::<_, AgentReply>(&mut self.stream).await {
            Ok(AgentReply::Session { transition }) => Some(transition),
            _ => None,
        }
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Far longer than the bound the client sets ([`FRAME_DEADLINE`]).
    const WAITED_FOR_EVER: Duration = Duration::from_secs(60);

    /// An agent on a trusted socket that says Welcome (or not), then never answers again.
    fn wedged_agent(says_welcome: bool) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let socket = crate::trust::private_socket(dir.path());
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            if says_welcome {
                let _hello: AgentRequest = read_frame(&mut stream).await.unwrap();
                let welcome = AgentReply::Welcome {
                    protocol_version: AGENT_PROTOCOL_VERSION,
                    agent_version: "test".into(),
                };
                write_frame(&mut stream, &welcome).await.unwrap();
            }
            std::future::pending::<()>().await;
            drop(stream);
        });
        (dir, socket)
    }

    #[tokio::test]
    async fn an_agent_that_never_says_welcome_is_a_failure_not_a_wait() {
        let (_dir, socket) = wedged_agent(false);
        let e = tokio::time::timeout(WAITED_FOR_EVER, AgentClient::connect(&socket))
            .await
            .expect("the client gave up on its own")
            .err()
            .expect("no agent answered");
        assert!(matches!(e, AgentClientError::Broken(_)), "{e}");
        assert_eq!(e.exit_code(), ExitCode::AgentUnavailable);
    }

    #[tokio::test]
    async fn credentials_that_never_come_are_a_failure_not_a_wait() {
        let (_dir, socket) = wedged_agent(true);
        let mut agent = AgentClient::connect(&socket).await.unwrap();
        let e = tokio::time::timeout(
            WAITED_FOR_EVER,
            agent.credentials("111122223333", "Developer"),
        )
        .await
        .expect("the client gave up on its own")
        .unwrap_err();
        assert!(matches!(e, AgentClientError::Broken(_)), "{e}");
        assert_eq!(e.exit_code(), ExitCode::AgentUnavailable);
    }
}
