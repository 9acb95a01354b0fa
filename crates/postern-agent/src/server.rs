//! The agent's socket: in a directory only the user can enter, and every peer must be the same
//! user (SO_PEERCRED). A second agent refuses to start while one answers on the socket.
//! Bounded like the helper's: Hello within [`HELLO_DEADLINE`], every frame within its deadline,
//! at most [`MAX_CONNECTIONS`] connections at once.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use postern_core::session::{SessionState, Transition};
use postern_ipc::agent::{AGENT_PROTOCOL_VERSION, AgentError, AgentReply, AgentRequest};
use postern_ipc::{
    FrameError, HELLO_DEADLINE, hung_up, read_frame, read_frame_within, write_frame,
};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{oneshot, watch};

use crate::orchestrator::{self, AgentConfig, Command, Handle};

/// Connections served at once. The agent serves one user: this only stops a runaway script
/// (a burst of credential_process calls is far below it) from exhausting descriptors.
pub const MAX_CONNECTIONS: usize = 64;

/// One admitted connection; the count drops when it ends.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>) -> Option<Slot> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONNECTIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(count.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The agent running in this process: the orchestrator plus its socket for the user's other
/// processes. The desktop app holds one; `postern agent` holds one until a signal.
pub struct Agent {
    handle: Handle,
    socket: PathBuf,
    accept: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Binds the socket (refusing when another agent answers there) and starts the session.
    pub async fn start(config: AgentConfig, socket: &Path) -> Result<Self, String> {
        let listener = bind(socket).await?;
        let owner = std::fs::metadata(socket).map_err(|e| e.to_string())?.uid();
        let handle = orchestrator::start(config)?;
        tracing::info!(socket = %socket.display(), "agent {} started", env!("CARGO_PKG_VERSION"));
        let served = handle.clone();
        let open = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handle, open) = (served.clone(), open.clone());
                tokio::spawn(async move { session(stream, owner, handle, &open).await });
            }
        });
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
        let _ = self.handle.commands.send(Command::Disconnect).await;
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
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Runs the agent until SIGTERM or Ctrl-C; then disconnects cleanly.
pub async fn serve(config: AgentConfig, socket: &Path) -> Result<(), String> {
    let agent = Agent::start(config, socket).await?;
    eprintln!(
        "postern agent {}: listening on {}",
        env!("CARGO_PKG_VERSION"),
        socket.display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    agent.shutdown().await;
    Ok(())
}

async fn bind(socket: &Path) -> Result<UnixListener, String> {
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
    Ok(listener)
}

async fn session(mut stream: UnixStream, owner: u32, handle: Handle, open: &Arc<AtomicUsize>) {
    if stream.peer_cred().map(|c| c.uid()).ok() != Some(owner) {
        let _ = write_frame(&mut stream, &AgentReply::Refused(AgentError::NotAllowed)).await;
        return;
    }
    let Some(_slot) = Slot::take(open) else {
        let refusal = AgentError::TooManyConnections {
            limit: MAX_CONNECTIONS,
        };
        let _ = write_frame(&mut stream, &AgentReply::Refused(refusal)).await;
        return;
    };
    match read_frame_within::<_, AgentRequest>(&mut stream, HELLO_DEADLINE).await {
        Ok(AgentRequest::Hello { protocol_version })
            if protocol_version == AGENT_PROTOCOL_VERSION =>
        {
            let welcome = AgentReply::Welcome {
                protocol_version: AGENT_PROTOCOL_VERSION,
                agent_version: env!("CARGO_PKG_VERSION").into(),
            };
            if write_frame(&mut stream, &welcome).await.is_err() {
                return;
            }
        }
        Ok(AgentRequest::Hello { protocol_version }) => {
            let refusal = AgentError::ProtocolMismatch {
                agent: AGENT_PROTOCOL_VERSION,
                client: protocol_version,
            };
            let _ = write_frame(&mut stream, &AgentReply::Refused(refusal)).await;
            return;
        }
        Ok(_) | Err(_) => {
            let _ = write_frame(
                &mut stream,
                &AgentReply::Refused(AgentError::Malformed {
                    detail: "the first message must be Hello".into(),
                }),
            )
            .await;
            return;
        }
    }
    loop {
        let request = match read_frame::<_, AgentRequest>(&mut stream).await {
            Ok(r) => r,
            Err(FrameError::Closed | FrameError::Io(_)) => return,
            Err(e) => {
                let _ = write_frame(
                    &mut stream,
                    &AgentReply::Refused(AgentError::Malformed {
                        detail: e.to_string(),
                    }),
                )
                .await;
                return;
            }
        };
        let reply = match request {
            AgentRequest::Hello { .. } => AgentReply::Refused(AgentError::Malformed {
                detail: "Hello was already sent".into(),
            }),
            AgentRequest::Connect {
                profile,
                account,
                role,
            } => match handle.connect(profile, account, role).await {
                Ok(()) => AgentReply::Session {
                    transition: handle.transitions.borrow().clone(),
                },
                Err(e) => AgentReply::Refused(e),
            },
            AgentRequest::Disconnect => {
                let _ = handle.commands.send(Command::Disconnect).await;
                AgentReply::Session {
                    transition: handle.transitions.borrow().clone(),
                }
            }
            AgentRequest::Status => AgentReply::Session {
                transition: handle.transitions.borrow().clone(),
            },
            AgentRequest::History => AgentReply::History {
                transitions: handle.history(),
            },
            AgentRequest::Credentials { account, role } => {
                let (reply, answer) = oneshot::channel();
                let _ = handle
                    .commands
                    .send(Command::Credentials {
                        account,
                        role,
                        reply,
                    })
                    .await;
                match answer.await {
                    Ok(Ok(document)) => AgentReply::Credentials { document },
                    Ok(Err(e)) => AgentReply::Refused(e),
                    Err(_) => return,
                }
            }
            AgentRequest::Watch => {
                let mut transitions = handle.transitions.clone();
                loop {
                    let t = transitions.borrow_and_update().clone();
                    if write_frame(&mut stream, &AgentReply::Session { transition: t })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::select! {
                        changed = transitions.changed() => if changed.is_err() { return },
                        () = hung_up(&mut stream) => return,
                    }
                }
            }
        };
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}
