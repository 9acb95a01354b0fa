//! The socket side: bind (a unix socket, mode 0660 and group `postern`; on Windows a named pipe
//! owned by Administrators whose DACL admits SYSTEM, Administrators and the group), then the
//! shared server (`postern_ipc::server`) with the helper's admission (administrators, the
//! group, `--allow-uid`) and its answers.
//!
//! Bounded: at most [`CONNECTIONS_PER_UID`] connections per uid at once, Hello within
//! `HELLO_DEADLINE`, every later frame within its deadline once begun (`postern_ipc`).

use std::future::Future;
use std::sync::Arc;

use postern_ipc::server::{self, Connections, Duplex, Peer, Refusal, Service};
use postern_ipc::{HelperError, PROTOCOL_VERSION, Reply, Request};
use postern_ovpn::profile::{Profile, ProfileError};

use crate::Args;
use crate::owner::{Caller, shown_to};
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
        let (supervisor, caller) = (&self.supervisor, &Caller::of(peer));
        let answer = |r: Result<_, HelperError>| r.map_or_else(Reply::Refused, Reply::State);
        Some(match request {
            Request::Hello { .. } => return None,
            Request::Connect {
                profile_name,
                profile,
            } => match validate(&profile) {
                Err(e) => Reply::Refused(e),
                Ok(profile) => answer(supervisor.connect(&profile_name, &profile, caller).await),
            },
            Request::SamlResponse { assertion } => {
                answer(supervisor.saml_response(assertion, caller).await)
            }
            Request::Disconnect => answer(supervisor.disconnect(caller).await),
            Request::Status => Reply::State(supervisor.status(caller)),
            Request::Traffic => {
                let (received, sent) = supervisor.traffic();
                Reply::Traffic { received, sent }
            }
            Request::OpenVpnLog => supervisor
                .log(caller)
                .map_or_else(Reply::Refused, |lines| Reply::Log { lines }),
            Request::StateHistory => supervisor
                .history(caller)
                .map_or_else(Reply::Refused, |states| Reply::History { states }),
            Request::Watch => {
                // Every state as this peer may see it, until the client goes away.
                server::stream_changes(stream, supervisor.subscribe(), |state| {
                    Reply::State(shown_to(state, caller))
                })
                .await;
                return None;
            }
        })
    }
}

/// Serves until `stop` resolves (SIGTERM, Ctrl-C, or the service manager's Stop), then ends the
/// tunnel and removes the socket.
pub async fn run(args: Args, stop: impl Future<Output = ()>) -> Result<(), String> {
    let policy = PeerPolicy::new(&args.group, args.allow_uids.clone());
    let supervisor = Supervisor::start(&args).await?;
    let listener = bind(&args, &policy)?;
    tracing::info!(
        socket = %args.socket.display(),
        group = %args.group,
        "postern-helper {} listening{}",
        env!("CARGO_PKG_VERSION"),
        if policy.group.is_none() {
            " (the group does not exist: administrators only)"
        } else {
            ""
        }
    );
    let helper = Arc::new(Helper { policy, supervisor });
    let connections = Connections::new(CONNECTIONS_PER_UID);
    #[cfg(unix)]
    let accepting = server::accept_unix(listener, helper.clone(), connections);
    #[cfg(windows)]
    let accepting = server::accept_pipe(listener, helper.clone(), connections);
    let stopped = tokio::select! {
        () = accepting => Err("the helper's socket stopped accepting connections".to_string()),
        () = stop => Ok(()),
    };
    let _ = helper.supervisor.disconnect(&Caller::helper()).await;
    // The key-bearing profile goes even if OpenVPN outlived the wait (the pid file stays, so
    // the next start ends that OpenVPN).
    let _ = std::fs::remove_file(crate::openvpn::profile_file(&args.state_dir));
    #[cfg(unix)]
    let _ = std::fs::remove_file(&args.socket);
    stopped
}

#[cfg(unix)]
fn bind(args: &Args, policy: &PeerPolicy) -> Result<tokio::net::UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = args
        .socket
        .parent()
        .ok_or("the socket path has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // A stale socket from a previous run would make bind fail.
    let _ = std::fs::remove_file(&args.socket);
    let listener = tokio::net::UnixListener::bind(&args.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", args.socket.display()))?;
    std::fs::set_permissions(&args.socket, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| e.to_string())?;
    if let Some(gid) = policy.group {
        std::os::unix::fs::chown(&args.socket, Some(0), Some(gid)).map_err(|e| e.to_string())?;
    }
    Ok(listener)
}

/// The pipe belongs to Administrators, which only an administrator (or SYSTEM) can give it, so
/// clients that check the owner never talk to a squatter's pipe; a pipe some other process made
/// first is refused.
#[cfg(windows)]
fn bind(args: &Args, policy: &PeerPolicy) -> Result<postern_ipc::pipe::PipeListener, String> {
    use postern_ipc::pipe::{ADMINISTRATORS, PipeListener};
    let sddl = pipe_sddl(policy);
    PipeListener::bind(args.socket.as_os_str(), &sddl).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied
            || e.kind() == std::io::ErrorKind::AddrInUse
        {
            format!(
                "another process already serves {} (is a second helper running?): {e}",
                args.socket.display()
            )
        } else {
            format!(
                "cannot listen on {} as {ADMINISTRATORS}: {e}",
                args.socket.display()
            )
        }
    })
}

/// Who may open the helper's pipe: SYSTEM and Administrators fully, the group and the allowed
/// users to read and write (the helper still checks each client's token).
#[cfg(windows)]
fn pipe_sddl(policy: &PeerPolicy) -> String {
    use postern_ipc::pipe::ADMINISTRATORS;
    let mut clients: Vec<&str> = policy.allow_users.iter().map(String::as_str).collect();
    if let Some(group) = &policy.group {
        clients.push(group);
    }
    postern_ipc::pipe::pipe_sddl(ADMINISTRATORS, &clients)
}

/// The helper's own check of the profile: the same allow-list as import, on what arrived.
fn validate(text: &str) -> Result<Profile, HelperError> {
    match Profile::parse(text.as_bytes()) {
        Ok(p) => Ok(p),
        Err(ProfileError::Refused(issues)) => Err(HelperError::ProfileRefused { issues }),
        Err(reason) => Err(HelperError::ProfileInvalid { reason }),
    }
}

#[cfg(all(test, windows))]
mod tests {
    use postern_ipc::pipe::{ADMINISTRATORS, PipeListener, pipe_security};

    use super::*;

    /// BUILTIN\Users stands in for the `postern` group: a local group every machine has.
    const USERS: &str = "S-1-5-32-545";

    #[tokio::test]
    async fn the_pipe_belongs_to_administrators_and_admits_system_them_and_the_group() {
        let policy = PeerPolicy {
            group_name: "Users".into(),
            group: Some(USERS.into()),
            allow_users: vec!["S-1-5-21-7-7-7-1001".into()],
        };
        let sddl = pipe_sddl(&policy);
        assert_eq!(
            sddl,
            format!(
                "O:{ADMINISTRATORS}D:P(A;;GA;;;S-1-5-18)(A;;GA;;;{ADMINISTRATORS})(A;;0x12019b;;;S-1-5-21-7-7-7-1001)(A;;0x12019b;;;{USERS})"
            )
        );
        let name = format!(r"\\.\pipe\postern-helper-test-{}", std::process::id());
        let mut listener = PipeListener::bind(name.as_ref(), &sddl).unwrap();
        let (server, _client) =
            tokio::join!(listener.accept(), postern_ipc::pipe::connect(name.as_ref()));
        // Read back from the pipe itself: Windows writes well-known SIDs by their aliases.
        let security = pipe_security(&server.unwrap()).unwrap();
        assert!(security.starts_with("O:BAD:P"), "{security}");
        for trustee in [";;;SY)", ";;;BA)", ";;;BU)", ";;;S-1-5-21-7-7-7-1001)"] {
            assert!(
                security.contains(trustee),
                "{trustee} missing from {security}"
            );
        }
        assert_eq!(security.matches("(A;").count(), 4, "{security}");
    }
}
