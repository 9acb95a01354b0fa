//! The socket side: bind, peer-check, Hello, then requests. One task per client.
//!
//! Bounded: at most [`CONNECTIONS_PER_UID`] connections per uid at once, Hello within
//! [`HELLO_DEADLINE`], every later frame within its deadline once begun (`postern_ipc`).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use postern_ipc::{
    FrameError, HELLO_DEADLINE, HelperError, PROTOCOL_VERSION, Reply, Request, hung_up, read_frame,
    read_frame_within, write_frame,
};
use postern_ovpn::profile::{Profile, ProfileError};
use tokio::net::{UnixListener, UnixStream};

use crate::Args;
use crate::owner::{ROOT, shown_to};
use crate::peer::PeerPolicy;
use crate::tunnel::Supervisor;

/// Connections one uid may hold at once. A user's agent holds two (control and watch), the
/// CLI, the app and diagnostics one each for a moment; 16 leaves room for all of them at once,
/// and caps what one group member can make the helper hold.
pub const CONNECTIONS_PER_UID: usize = 16;

/// Open connections per uid.
#[derive(Default)]
pub struct Connections(Mutex<HashMap<u32, usize>>);

/// One admitted connection of a uid; its count drops when it ends.
pub struct Slot<'a> {
    connections: &'a Connections,
    uid: u32,
}

impl Connections {
    pub fn take(&self, uid: u32) -> Option<Slot<'_>> {
        let mut open = self.0.lock().ok()?;
        let count = open.entry(uid).or_default();
        if *count >= CONNECTIONS_PER_UID {
            return None;
        }
        *count += 1;
        Some(Slot {
            connections: self,
            uid,
        })
    }

    #[cfg(test)]
    fn open(&self, uid: u32) -> usize {
        self.0
            .lock()
            .map(|o| o.get(&uid).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut open) = self.connections.0.lock()
            && let Some(count) = open.get_mut(&self.uid)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.uid);
            }
        }
    }
}

pub async fn run(args: Args) -> Result<(), String> {
    let policy = Arc::new(PeerPolicy::new(&args.group, args.allow_uids.clone()));
    let supervisor = Arc::new(Supervisor::start(&args).await?);
    let connections = Arc::new(Connections::default());
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
                    let (policy, supervisor, connections) =
                        (policy.clone(), supervisor.clone(), connections.clone());
                    tokio::spawn(async move {
                        serve(stream, &policy, &supervisor, &connections).await
                    });
                }
            }
            r = &mut shutdown => {
                let _ = supervisor.disconnect(ROOT).await;
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

async fn serve(
    mut stream: UnixStream,
    policy: &PeerPolicy,
    supervisor: &Supervisor,
    connections: &Connections,
) {
    // The kernel's word for who this is: the only identity the helper acts on.
    let peer = stream
        .peer_cred()
        .ok()
        .filter(|c| policy.allows(c.uid(), c.gid(), c.pid()))
        .map(|c| c.uid());
    let Some(peer) = peer else {
        let _ = write_frame(
            &mut stream,
            &Reply::Refused(HelperError::NotAllowed {
                group: policy.group_name.clone(),
            }),
        )
        .await;
        return;
    };
    let Some(_slot) = connections.take(peer) else {
        let refusal = HelperError::TooManyConnections {
            limit: CONNECTIONS_PER_UID,
        };
        let _ = write_frame(&mut stream, &Reply::Refused(refusal)).await;
        return;
    };
    match read_frame_within::<_, Request>(&mut stream, HELLO_DEADLINE).await {
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
                Ok(profile) => match supervisor.connect(&profile_name, &profile, peer).await {
                    Ok(state) => Reply::State(state),
                    Err(e) => Reply::Refused(e),
                },
            },
            Request::SamlResponse { assertion } => {
                match supervisor.saml_response(assertion, peer).await {
                    Ok(state) => Reply::State(state),
                    Err(e) => Reply::Refused(e),
                }
            }
            Request::Disconnect => match supervisor.disconnect(peer).await {
                Ok(state) => Reply::State(state),
                Err(e) => Reply::Refused(e),
            },
            Request::Status => Reply::State(supervisor.status(peer)),
            Request::Traffic => {
                let (received, sent) = supervisor.traffic();
                Reply::Traffic { received, sent }
            }
            Request::OpenVpnLog => match supervisor.log(peer) {
                Ok(lines) => Reply::Log { lines },
                Err(e) => Reply::Refused(e),
            },
            Request::StateHistory => match supervisor.history(peer) {
                Ok(states) => Reply::History { states },
                Err(e) => Reply::Refused(e),
            },
            Request::Watch => {
                watch(&mut stream, supervisor, peer).await;
                return;
            }
        };
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// Streams every state (as `peer` may see it) until the client goes away.
async fn watch(stream: &mut UnixStream, supervisor: &Supervisor, peer: u32) {
    let mut states = supervisor.subscribe();
    loop {
        let state = shown_to(&states.borrow_and_update(), peer);
        if write_frame(stream, &Reply::State(state)).await.is_err() {
            return;
        }
        // A watcher that left frees its slot now, not at the next state change.
        tokio::select! {
            changed = states.changed() => if changed.is_err() { return },
            () = hung_up(stream) => return,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_uid_holds_at_most_its_share_of_connections() {
        let connections = Connections::default();
        let held: Vec<_> = (0..CONNECTIONS_PER_UID)
            .map(|_| connections.take(1000).expect("within the limit"))
            .collect();
        assert!(connections.take(1000).is_none(), "one past the limit");
        // Another user is not affected by the first one's connections.
        let other = connections.take(1001).expect("another uid");
        assert_eq!(connections.open(1001), 1);
        drop(other);
        assert_eq!(connections.open(1001), 0);
        drop(held);
        assert_eq!(connections.open(1000), 0);
        assert!(connections.take(1000).is_some(), "slots come back");
    }
}
