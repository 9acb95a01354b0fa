//! The socket side: bind, then the shared server (`postern_ipc::server`) with the helper's
//! admission (root, the `postern` group, `--allow-uid`) and its answers.
//!
//! Bounded: at most [`CONNECTIONS_PER_UID`] connections per uid at once, Hello within
//! `HELLO_DEADLINE`, every later frame within its deadline once begun (`postern_ipc`).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use postern_ipc::server::{self, Connections, Duplex, Peer, Refusal, Service};
use postern_ipc::{HelperError, PROTOCOL_VERSION, Reply, Request};
use postern_ovpn::profile::{Profile, ProfileError};
use tokio::net::UnixListener;

use crate::Args;
use crate::owner::{ROOT, shown_to};
use crate::peer::PeerPolicy;
use crate::tunnel::Supervisor;

/// Connections one uid may hold at once. A user's agent holds two (control and watch), the
/// CLI, the app and diagnostics one each for a moment; 16 leaves room for all of them at once,
/// and caps what one group member can make the helper hold.
pub const CONNECTIONS_PER_UID: usize = 16;

/// The helper's side of the protocol: who may drive it and what each request does.
struct Helper {
    policy: PeerPolicy,
    supervisor: Supervisor,
}

impl Service for Helper {
    type Request = Request;
    type Reply = Reply;

    fn welcome(&self) -> Reply {
        Reply::Welcome {
            protocol_version: PROTOCOL_VERSION,
            helper_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn refusal(&self, refusal: Refusal) -> Reply {
        Reply::Refused(match refusal {
            Refusal::NotAllowed => HelperError::NotAllowed {
                group: self.policy.group_name.clone(),
            },
            Refusal::TooManyConnections { limit } => HelperError::TooManyConnections { limit },
            Refusal::ProtocolMismatch { server, client } => HelperError::ProtocolMismatch {
                helper: server,
                client,
            },
            Refusal::HelloFirst => HelperError::HelloFirst,
            Refusal::HelloAgain => HelperError::Malformed {
                detail: "Hello was already sent".into(),
            },
            Refusal::Malformed { detail } => HelperError::Malformed { detail },
        })
    }

    // The kernel's word for who this is: the only identity the helper acts on.
    fn admits(&self, peer: &Peer) -> bool {
        self.policy.allows(peer)
    }

    async fn answer(
        &self,
        peer: Peer,
        request: Request,
        stream: &mut impl Duplex,
    ) -> Option<Reply> {
        let (supervisor, peer) = (&self.supervisor, peer.user);
        let answer = |r: Result<_, HelperError>| r.map_or_else(Reply::Refused, Reply::State);
        Some(match request {
            Request::Hello { .. } => return None,
            Request::Connect {
                profile_name,
                profile,
            } => match validate(&profile) {
                Err(e) => Reply::Refused(e),
                Ok(profile) => answer(supervisor.connect(&profile_name, &profile, peer).await),
            },
            Request::SamlResponse { assertion } => {
                answer(supervisor.saml_response(assertion, peer).await)
            }
            Request::Disconnect => answer(supervisor.disconnect(peer).await),
            Request::Status => Reply::State(supervisor.status(peer)),
            Request::Traffic => {
                let (received, sent) = supervisor.traffic();
                Reply::Traffic { received, sent }
            }
            Request::OpenVpnLog => supervisor
                .log(peer)
                .map_or_else(Reply::Refused, |lines| Reply::Log { lines }),
            Request::StateHistory => supervisor
                .history(peer)
                .map_or_else(Reply::Refused, |states| Reply::History { states }),
            Request::Watch => {
                // Every state as this peer may see it, until the client goes away.
                server::stream_changes(stream, supervisor.subscribe(), |state| {
                    Reply::State(shown_to(state, peer))
                })
                .await;
                return None;
            }
        })
    }
}

pub async fn run(args: Args) -> Result<(), String> {
    let policy = PeerPolicy::new(&args.group, args.allow_uids.clone());
    let supervisor = Supervisor::start(&args).await?;
    let listener = bind(&args, &policy)?;
    tracing::info!(
        socket = %args.socket.display(),
        group = %args.group,
        "postern-helper {} listening{}",
        env!("CARGO_PKG_VERSION"),
        if policy.group.is_none() {
            " (the group does not exist: root only)"
        } else {
            ""
        }
    );
    let helper = Arc::new(Helper { policy, supervisor });
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        Ok::<(), String>(())
    };
    let accepting = server::accept_unix(
        listener,
        helper.clone(),
        Connections::new(CONNECTIONS_PER_UID),
    );
    let stopped = tokio::select! {
        () = accepting => Err("the helper's socket stopped accepting connections".to_string()),
        r = shutdown => r,
    };
    let _ = helper.supervisor.disconnect(ROOT).await;
    let _ = std::fs::remove_file(&args.socket);
    stopped
}

fn bind(args: &Args, policy: &PeerPolicy) -> Result<UnixListener, String> {
    let dir = args
        .socket
        .parent()
        .ok_or("the socket path has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // A stale socket from a previous run would make bind fail.
    let _ = std::fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", args.socket.display()))?;
    std::fs::set_permissions(&args.socket, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| e.to_string())?;
    if let Some(gid) = policy.group {
        std::os::unix::fs::chown(&args.socket, Some(0), Some(gid)).map_err(|e| e.to_string())?;
    }
    Ok(listener)
}

/// The helper's own check of the profile: the same allow-list as import, on what arrived.
fn validate(text: &str) -> Result<Profile, HelperError> {
    match Profile::parse(text.as_bytes()) {
        Ok(p) => Ok(p),
        Err(ProfileError::Refused(issues)) => Err(HelperError::ProfileRefused { issues }),
        Err(reason) => Err(HelperError::ProfileInvalid { reason }),
    }
}
