//! The socket side: bind, peer-check, Hello, then requests. One task per client.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use postern_core::vpn::{Profile, ProfileError};
use postern_ipc::{
    FrameError, HelperError, PROTOCOL_VERSION, Reply, Request, read_frame, write_frame,
};
use tokio::net::{UnixListener, UnixStream};

use crate::Args;
use crate::peer::PeerPolicy;
use crate::tunnel::Supervisor;

pub async fn run(args: Args) -> Result<(), String> {
    let policy = Arc::new(PeerPolicy::new(&args.group, args.allow_uids.clone()));
    let supervisor = Arc::new(Supervisor::start(&args).await?);
    let listener = bind(&args, &policy)?;
    eprintln!(
        "postern-helper {}: listening on {} (group {}{})",
        env!("CARGO_PKG_VERSION"),
        args.socket.display(),
        args.group,
        if policy.group_id.is_none() {
            ", which does not exist: root only"
        } else {
            ""
        }
    );
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        Ok::<(), String>(())
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let (policy, supervisor) = (policy.clone(), supervisor.clone());
                    tokio::spawn(async move { serve(stream, &policy, &supervisor).await });
                }
            }
            r = &mut shutdown => {
                supervisor.disconnect().await;
                let _ = std::fs::remove_file(&args.socket);
                return r;
            }
        }
    }
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
    if let Some(gid) = policy.group_id {
        std::os::unix::fs::chown(&args.socket, Some(0), Some(gid)).map_err(|e| e.to_string())?;
    }
    Ok(listener)
}

async fn serve(mut stream: UnixStream, policy: &PeerPolicy, supervisor: &Supervisor) {
    let allowed = stream
        .peer_cred()
        .map(|c| policy.allows(c.uid(), c.gid(), c.pid()))
        .unwrap_or(false);
    if !allowed {
        let _ = write_frame(
            &mut stream,
            &Reply::Refused(HelperError::NotAllowed {
                group: policy.group_name.clone(),
            }),
        )
        .await;
        return;
    }
    match read_frame::<_, Request>(&mut stream).await {
        Ok(Request::Hello {
            protocol_version, ..
        }) if protocol_version == PROTOCOL_VERSION => {
            let welcome = Reply::Welcome {
                protocol_version: PROTOCOL_VERSION,
                helper_version: env!("CARGO_PKG_VERSION").into(),
            };
            if write_frame(&mut stream, &welcome).await.is_err() {
                return;
            }
        }
        Ok(Request::Hello {
            protocol_version, ..
        }) => {
            let refusal = HelperError::ProtocolMismatch {
                helper: PROTOCOL_VERSION,
                client: protocol_version,
            };
            let _ = write_frame(&mut stream, &Reply::Refused(refusal)).await;
            return;
        }
        Ok(_) => {
            let _ = write_frame(&mut stream, &Reply::Refused(HelperError::HelloFirst)).await;
            return;
        }
        Err(e) => {
            refuse_frame(&mut stream, e).await;
            return;
        }
    }
    loop {
        let request = match read_frame::<_, Request>(&mut stream).await {
            Ok(r) => r,
            Err(e) => {
                refuse_frame(&mut stream, e).await;
                return;
            }
        };
        let reply = match request {
            Request::Hello { .. } => Reply::Refused(HelperError::Malformed {
                detail: "Hello was already sent".into(),
            }),
            Request::Connect {
                profile_name,
                profile,
            } => match validate(&profile) {
                Err(e) => Reply::Refused(e),
                Ok(profile) => match supervisor.connect(&profile_name, &profile).await {
                    Ok(state) => Reply::State(state),
                    Err(e) => Reply::Refused(e),
                },
            },
            Request::SamlResponse { assertion } => {
                match supervisor.saml_response(assertion).await {
                    Ok(state) => Reply::State(state),
                    Err(e) => Reply::Refused(e),
                }
            }
            Request::Disconnect => Reply::State(supervisor.disconnect().await),
            Request::Status => Reply::State(supervisor.state()),
            Request::Traffic => {
                let (received, sent) = supervisor.traffic();
                Reply::Traffic { received, sent }
            }
            Request::OpenVpnLog => Reply::Log {
                lines: supervisor.log(),
            },
            Request::StateHistory => Reply::History {
                states: supervisor.history(),
            },
            Request::Watch => {
                watch(&mut stream, supervisor).await;
                return;
            }
        };
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// Streams every state until the client goes away.
async fn watch(stream: &mut UnixStream, supervisor: &Supervisor) {
    let mut states = supervisor.subscribe();
    loop {
        let state = states.borrow_and_update().clone();
        if write_frame(stream, &Reply::State(state)).await.is_err() {
            return;
        }
        if states.changed().await.is_err() {
            return;
        }
    }
}

/// Says why a frame was refused (when the peer is still there) and ends the connection.
async fn refuse_frame(stream: &mut UnixStream, e: FrameError) {
    if matches!(e, FrameError::Closed | FrameError::Io(_)) {
        return;
    }
    let _ = write_frame(
        stream,
        &Reply::Refused(HelperError::Malformed {
            detail: e.to_string(),
        }),
    )
    .await;
}

/// The helper's own check of the profile: the same allow-list as import, on what arrived.
fn validate(text: &str) -> Result<Profile, HelperError> {
    match Profile::parse(text.as_bytes()) {
        Ok(p) => Ok(p),
        Err(ProfileError::Refused(issues)) => Err(HelperError::ProfileRefused { issues }),
        Err(reason) => Err(HelperError::ProfileInvalid { reason }),
    }
}
