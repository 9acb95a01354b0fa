//! The agent's socket: in a directory only the user can enter, and every peer must be the same
//! user (SO_PEERCRED). On Windows a named pipe that only the user (and SYSTEM) may open, owned
//! by the user, each client's token checked the same way. A second agent refuses to start while
//! one answers there.
//! Served by the shared server (`postern_ipc::server`), bounded like the helper's: Hello within
//! its deadline, every frame within its deadline, at most [`MAX_CONNECTIONS`] at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postern_core::session::{SessionState, Transition};
use postern_ipc::agent::{AGENT_PROTOCOL_VERSION, AgentError, AgentReply, AgentRequest};
use postern_ipc::server::{self, Connections, Duplex, Peer, Refusal, Service, UserId};
use tokio::sync::watch;

use crate::endpoint::Endpoint;
use crate::orchestrator::{self, AgentConfig, Handle};

/// Connections served at once. The agent serves one user: this only stops a runaway script
/// (a burst of credential_process calls is far below it) from exhausting descriptors.
pub const MAX_CONNECTIONS: usize = 64;

/// The agent's side of the protocol: only its own user, and the session's answers.
struct Session {
    owner: UserId,
    handle: Handle,
    /// Started by the first `postern exec --endpoint`, then shared by every later one.
    endpoint: tokio::sync::OnceCell<Endpoint>,
}

impl Service for Session {
    type Request = AgentRequest;
    type Reply = AgentReply;

    fn welcome(&self) -> AgentReply {
        AgentReply::Welcome {
            protocol_version: AGENT_PROTOCOL_VERSION,
            agent_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn refusal(&self, refusal: Refusal) -> AgentReply {
        let malformed = |detail: &str| AgentError::Malformed {
            detail: detail.into(),
        };
        AgentReply::Refused(match refusal {
            Refusal::NotAllowed => AgentError::NotAllowed,
            Refusal::TooManyConnections { limit } => AgentError::TooManyConnections { limit },
            Refusal::ProtocolMismatch { server, client } => AgentError::ProtocolMismatch {
                agent: server,
                client,
            },
            Refusal::HelloFirst => malformed("the first message must be Hello"),
            Refusal::HelloAgain => malformed("Hello was already sent"),
            Refusal::Malformed { detail } => malformed(&detail),
        })
    }

    fn admits(&self, peer: &Peer) -> bool {
        peer.user == self.owner
    }

    async fn answer(
        &self,
        _peer: Peer,
        request: AgentRequest,
        stream: &mut impl Duplex,
    ) -> Option<AgentReply> {
        let handle = &self.handle;
        let current = || AgentReply::Session {
            transition: handle.transitions.borrow().clone(),
        };
        Some(match request {
            AgentRequest::Hello { .. } => return None,
            AgentRequest::Connect {
                profile,
                account,
                role,
            } => match handle.connect(profile, account, role).await {
                Ok(()) => current(),
                Err(e) => AgentReply::Refused(e),
            },
            AgentRequest::Disconnect => {
                handle.disconnect().await;
                current()
            }
            AgentRequest::Status => current(),
            AgentRequest::History => AgentReply::History {
                transitions: handle.history(),
            },
            AgentRequest::Credentials { account, role } => {
                // No answer: the session has ended, and so does the connection.
                match handle.credentials(account, role).await? {
                    Ok(c) => AgentReply::Credentials {
                        document: c.credential_process_json(),
                    },
                    Err(e) => AgentReply::Refused(e),
                }
            }
            AgentRequest::OpenEndpoint { account, role } => {
                // Only while the gate serves this role now, and then only as long as this
                // connection stays open: the token dies with the process that holds it.
                if let Err(e) = handle.credentials(account.clone(), role.clone()).await? {
                    return Some(AgentReply::Refused(e));
                }
                let endpoint = match self
                    .endpoint
                    .get_or_try_init(|| Endpoint::start(handle.clone()))
                    .await
                {
                    Ok(endpoint) => endpoint,
                    Err(e) => {
                        return Some(AgentReply::Refused(AgentError::BadRequest {
                            detail: format!("The local credentials endpoint could not start: {e}."),
                        }));
                    }
                };
                let lease = endpoint.grant(account, role);
                let reply = AgentReply::Endpoint {
                    url: endpoint.url(),
                    token: lease.token().to_string(),
                };
                if postern_ipc::write_frame(stream, &reply).await.is_ok() {
                    postern_ipc::hung_up(stream).await;
                }
                drop(lease);
                return None;
            }
            AgentRequest::Watch => {
                let transitions = handle.transitions.clone();
                server::stream_changes(stream, transitions, |t| AgentReply::Session {
                    transition: t.clone(),
                })
                .await;
                return None;
            }
        })
    }
}

/// The agent running in this process: the orchestrator plus its socket for the user's other
/// processes. The desktop app holds one; `postern agent` holds one until a signal.
pub struct Agent {
    handle: Handle,
    // Removed at shutdown; a pipe goes with its last handle.
    #[cfg_attr(windows, allow(dead_code))]
    socket: PathBuf,
    accept: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Binds the socket (refusing when another agent answers there) and starts the session.
    pub async fn start(config: AgentConfig, socket: &Path) -> Result<Self, String> {
        let (listener, owner) = bind(socket).await?;
        let handle = orchestrator::start(config)?;
        tracing::info!(socket = %socket.display(), "agent {} started", env!("CARGO_PKG_VERSION"));
        let session = Arc::new(Session {
            owner,
            handle: handle.clone(),
            endpoint: tokio::sync::OnceCell::new(),
        });
        let connections = Connections::new(MAX_CONNECTIONS);
        #[cfg(unix)]
        let accept = tokio::spawn(server::accept_unix(listener, session, connections));
        #[cfg(windows)]
        let accept = tokio::spawn(server::accept_pipe(listener, session, connections));
        Ok(Self {
            handle,
            socket: socket.to_path_buf(),
            accept,
        })
    }

    /// Starts Connect towards this account and role (profile: the VPN profile, default the only
    /// one); progress arrives as transitions.
    pub async fn connect(
        &self,
        profile: Option<String>,
        account: String,
        role: String,
    ) -> Result<(), AgentError> {
        self.handle.connect(profile, account, role).await
    }

    pub async fn disconnect(&self) {
        self.handle.disconnect().await;
    }

    /// The current transition, and every later one.
    pub fn transitions(&self) -> watch::Receiver<Transition> {
        self.handle.transitions.clone()
    }

    pub fn history(&self) -> Vec<Transition> {
        self.handle.history()
    }

    /// Withdraws credentials, takes the tunnel down (waiting up to 10 s for Idle), closes the
    /// socket.
    pub async fn shutdown(&self) {
        self.disconnect().await;
        let mut transitions = self.transitions();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !matches!(transitions.borrow_and_update().state, SessionState::Idle) {
                if transitions.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        self.accept.abort();
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Runs the agent until SIGTERM or Ctrl-C (on Windows: Ctrl-C, Ctrl-Break, the console closing
/// or the user logging off); then disconnects cleanly.
pub async fn serve(config: AgentConfig, socket: &Path) -> Result<(), String> {
    let agent = Agent::start(config, socket).await?;
    eprintln!(
        "postern agent {}: listening on {}",
        env!("CARGO_PKG_VERSION"),
        socket.display()
    );
    ended().await.map_err(|e| e.to_string())?;
    agent.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn ended() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

#[cfg(windows)]
async fn ended() -> std::io::Result<()> {
    use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_logoff, ctrl_shutdown};
    let (mut brk, mut close) = (ctrl_break()?, ctrl_close()?);
    let (mut logoff, mut shutdown) = (ctrl_logoff()?, ctrl_shutdown()?);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = brk.recv() => {}
        _ = close.recv() => {}
        _ = logoff.recv() => {}
        _ = shutdown.recv() => {}
    }
    Ok(())
}

/// The user's own pipe: owned by the user, open to the user and SYSTEM only, and the first
/// instance of its name (a pipe someone else made first is refused, not joined).
#[cfg(windows)]
async fn bind(pipe: &Path) -> Result<(postern_ipc::pipe::PipeListener, UserId), String> {
    use postern_ipc::pipe;
    let me = pipe::current_user().map_err(|e| format!("cannot tell who this user is: {e}"))?;
    let listener = pipe::PipeListener::bind(pipe.as_os_str(), &pipe::pipe_sddl(&me, &[]))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => format!(
                "another Postern agent is already running (pipe {}), or another program holds its name",
                pipe.display()
            ),
            _ => format!("cannot listen on {}: {e}", pipe.display()),
        })?;
    Ok((listener, me))
}

#[cfg(unix)]
async fn bind(socket: &Path) -> Result<(tokio::net::UnixListener, UserId), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use tokio::net::{UnixListener, UnixStream};
    let dir = socket.parent().ok_or("the socket path has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    if socket.exists() {
        if UnixStream::connect(socket).await.is_ok() {
            return Err(format!(
                "another Postern agent is already running (socket {})",
                socket.display()
            ));
        }
        // A stale socket from an agent that died.
        let _ = std::fs::remove_file(socket);
    }
    let listener = UnixListener::bind(socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    let owner = std::fs::metadata(socket).map_err(|e| e.to_string())?.uid();
    Ok((listener, owner))
}
