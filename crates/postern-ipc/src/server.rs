//! One server for both of Postern's sockets, the root helper's and the per-user agent's:
//! admission by the kernel's word for the peer, a cap on each peer's connections, Hello within
//! [`HELLO_DEADLINE`], bounded frames, and one answer per request. A service says only what its
//! messages are, whom it admits and how it answers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::{FrameError, HELLO_DEADLINE, hung_up, read_frame, read_frame_within, write_frame};

pub use crate::peer::{GroupId, Peer, UserId};

/// Why the server ended a connection before the service saw a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The service does not admit this peer.
    NotAllowed,
    TooManyConnections {
        limit: usize,
    },
    ProtocolMismatch {
        server: u32,
        client: u32,
    },
    HelloFirst,
    HelloAgain,
    Malformed {
        detail: String,
    },
}

/// A protocol's requests: the version this side speaks, and which request is the Hello.
pub trait Requests: DeserializeOwned + Send {
    const PROTOCOL_VERSION: u32;
    /// The version a Hello carries; `None` when the request is not a Hello.
    fn hello_version(&self) -> Option<u32>;
}

/// A connection a service may stream answers on.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Duplex for S {}

/// What a socket serves: its messages, whom it admits, and how it answers.
pub trait Service: Send + Sync + 'static {
    type Request: Requests;
    type Reply: Serialize + Send + Sync;

    fn welcome(&self) -> Self::Reply;
    fn refusal(&self, refusal: Refusal) -> Self::Reply;
    /// Whether this peer may use the service at all.
    fn admits(&self, peer: &Peer) -> bool;
    /// The answer to one request, or `None` when the service has finished with the connection
    /// (it streamed its answers, or it can no longer answer).
    fn answer(
        &self,
        peer: Peer,
        request: Self::Request,
        stream: &mut impl Duplex,
    ) -> impl Future<Output = Option<Self::Reply>> + Send;
}

/// Open connections per uid, each capped at a limit.
#[derive(Debug)]
pub struct Connections {
    limit: usize,
    open: Mutex<HashMap<UserId, usize>>,
}

/// One admitted connection of a uid; its count drops when it ends.
pub struct Slot {
    connections: Arc<Connections>,
    user: UserId,
}

impl Connections {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    #[allow(
        clippy::clone_on_copy,
        reason = "a uid on Unix, a SID string on Windows"
    )]
    pub fn take(self: &Arc<Self>, user: &UserId) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(user.clone()).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Slot {
            connections: self.clone(),
            user: user.clone(),
        })
    }

    pub fn open(&self, user: &UserId) -> usize {
        self.open
            .lock()
            .map(|o| o.get(user).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.connections.open.lock()
            && let Some(count) = open.get_mut(&self.user)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// Serves one connection from start to end: admission, the connection cap, Hello, then each
/// request in turn. Ends on the peer's hang-up, a malformed frame (said first) or the service.
pub async fn serve_connection<V: Service>(
    service: &V,
    mut stream: impl Duplex,
    peer: Option<Peer>,
    connections: &Arc<Connections>,
) {
    let Some(peer) = peer.filter(|p| service.admits(p)) else {
        let _ = write_frame(&mut stream, &service.refusal(Refusal::NotAllowed)).await;
        return;
    };
    let Some(_slot) = connections.take(&peer.user) else {
        let limit = connections.limit;
        let refusal = service.refusal(Refusal::TooManyConnections { limit });
        let _ = write_frame(&mut stream, &refusal).await;
        return;
    };
    let hello = read_frame_within::<_, V::Request>(&mut stream, HELLO_DEADLINE).await;
    let speaks = <V::Request as Requests>::PROTOCOL_VERSION;
    let refusal = match hello.map(|r| r.hello_version()) {
        Ok(Some(version)) if version == speaks => None,
        Ok(Some(client)) => Some(Refusal::ProtocolMismatch {
            server: speaks,
            client,
        }),
        Ok(None) => Some(Refusal::HelloFirst),
        Err(e) => refusal_of(e),
    };
    if let Some(refusal) = refusal {
        let _ = write_frame(&mut stream, &service.refusal(refusal)).await;
        return;
    }
    if write_frame(&mut stream, &service.welcome()).await.is_err() {
        return;
    }
    loop {
        let request = match read_frame::<_, V::Request>(&mut stream).await {
            Ok(request) => request,
            Err(e) => {
                if let Some(refusal) = refusal_of(e) {
                    let _ = write_frame(&mut stream, &service.refusal(refusal)).await;
                }
                return;
            }
        };
        let reply = if request.hello_version().is_some() {
            service.refusal(Refusal::HelloAgain)
        } else {
            match service.answer(peer.clone(), request, &mut stream).await {
                Some(reply) => reply,
                None => return,
            }
        };
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// A frame error worth telling the peer about; a peer that left hears nothing.
fn refusal_of(e: FrameError) -> Option<Refusal> {
    match e {
        FrameError::Closed | FrameError::Io(_) => None,
        e => Some(Refusal::Malformed {
            detail: e.to_string(),
        }),
    }
}

/// Streams `states` rendered by `render` (the current one first, then each change) until the
/// peer hangs up or the sender is gone. A watcher that left frees its slot at once, not at the
/// next change.
pub async fn stream_changes<S, T, R>(
    stream: &mut S,
    mut states: watch::Receiver<T>,
    render: impl Fn(&T) -> R,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Serialize,
{
    loop {
        let reply = render(&states.borrow_and_update());
        if write_frame(stream, &reply).await.is_err() {
            return;
        }
        tokio::select! {
            changed = states.changed() => if changed.is_err() { return },
            () = hung_up(stream) => return,
        }
    }
}

#[cfg(unix)]
mod unix {
    use super::*;
    use tokio::net::UnixListener;

    /// Accepts on `listener` for ever, one task per connection; the peer is what the kernel
    /// recorded for the socket (`peer::of_unix_stream`).
    pub async fn accept_unix<V: Service>(
        listener: UnixListener,
        service: Arc<V>,
        connections: Arc<Connections>,
    ) {
        while let Ok((stream, _)) = listener.accept().await {
            let (service, connections) = (service.clone(), connections.clone());
            tokio::spawn(async move {
                let peer = crate::peer::of_unix_stream(&stream).ok();
                serve_connection(&*service, stream, peer, &connections).await;
            });
        }
    }
}
#[cfg(unix)]
pub use unix::accept_unix;

/// Accepts on a named pipe for ever, one task per connection; the peer is the client's token
/// (`pipe::client_peer`). When the next instance cannot be made (the system's limit of
/// instances, reached by clients that stay connected), it tries again after a pause rather
/// than stop serving.
#[cfg(windows)]
pub async fn accept_pipe<V: Service>(
    mut listener: crate::pipe::PipeListener,
    service: Arc<V>,
    connections: Arc<Connections>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
        };
        let (service, connections) = (service.clone(), connections.clone());
        tokio::spawn(async move {
            let peer = crate::pipe::client_peer(&stream).ok();
            serve_connection(&*service, stream, peer, &connections).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use tokio::io::duplex;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(tag = "type")]
    enum Ask {
        Hello { v: u32 },
        Echo { text: String },
        Stop,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(tag = "type")]
    enum Say {
        Welcome,
        Echo { text: String },
        Refused { why: String },
    }

    struct EchoService;

    impl Requests for Ask {
        const PROTOCOL_VERSION: u32 = 3;
        fn hello_version(&self) -> Option<u32> {
            match self {
                Ask::Hello { v } => Some(*v),
                _ => None,
            }
        }
    }

    impl Service for EchoService {
        type Request = Ask;
        type Reply = Say;

        fn welcome(&self) -> Say {
            Say::Welcome
        }
        fn refusal(&self, refusal: Refusal) -> Say {
            Say::Refused {
                why: format!("{refusal:?}"),
            }
        }
        fn admits(&self, peer: &Peer) -> bool {
            peer.user == user(1000)
        }
        async fn answer(
            &self,
            _peer: Peer,
            request: Ask,
            _stream: &mut impl Duplex,
        ) -> Option<Say> {
            match request {
                Ask::Echo { text } => Some(Say::Echo { text }),
                _ => None,
            }
        }
    }

    /// The n-th test user, in the OS's own form.
    fn user(n: u32) -> UserId {
        #[cfg(unix)]
        return n;
        #[cfg(windows)]
        return format!("S-1-5-21-1-2-3-{n}");
    }

    fn peer(n: u32) -> Peer {
        Peer {
            user: user(n),
            groups: Vec::new(),
            pid: Some(42),
        }
    }

    /// Runs the server on one end of a pipe and sends `asks` from the other; returns every
    /// reply the server sent before it ended the connection.
    async fn exchange(
        peer: Option<Peer>,
        asks: &[Ask],
        connections: &Arc<Connections>,
    ) -> Vec<Say> {
        let (mut client, server) = duplex(64 * 1024);
        let serving = serve_connection(&EchoService, server, peer, connections);
        let talking = async {
            for ask in asks {
                // A server that has refused stops reading: later writes may fail.
                let _ = write_frame(&mut client, ask).await;
            }
            let mut said = Vec::new();
            while let Ok(say) = read_frame::<_, Say>(&mut client).await {
                said.push(say);
            }
            said
        };
        // Bounded: a server that never ends the connection fails the test, not hangs it.
        let both = async { tokio::join!(serving, talking).1 };
        tokio::time::timeout(std::time::Duration::from_secs(10), both)
            .await
            .expect("the server ended the connection")
    }

    fn hello() -> Ask {
        Ask::Hello { v: 3 }
    }

    #[tokio::test]
    async fn a_hello_then_requests_are_answered_in_order_until_the_service_ends() {
        let connections = Connections::new(4);
        let echo = |t: &str| Ask::Echo { text: t.into() };
        let said = exchange(
            Some(peer(1000)),
            &[hello(), echo("a"), echo("b"), Ask::Stop, echo("never")],
            &connections,
        )
        .await;
        let echoed = |t: &str| Say::Echo { text: t.into() };
        assert_eq!(said, vec![Say::Welcome, echoed("a"), echoed("b")]);
        assert_eq!(connections.open(&user(1000)), 0, "the slot came back");
    }

    #[tokio::test]
    async fn refusals_name_their_reason_and_end_the_connection() {
        let connections = Connections::new(4);
        let refused = |why: &str| vec![Say::Refused { why: why.into() }];
        let stranger = peer(1001);
        assert_eq!(
            exchange(Some(stranger), &[hello()], &connections).await,
            refused("NotAllowed")
        );
        assert_eq!(
            exchange(None, &[hello()], &connections).await,
            refused("NotAllowed"),
            "a peer the OS cannot name is not admitted"
        );
        assert_eq!(
            exchange(Some(peer(1000)), &[Ask::Hello { v: 2 }], &connections).await,
            refused("ProtocolMismatch { server: 3, client: 2 }")
        );
        assert_eq!(
            exchange(Some(peer(1000)), &[Ask::Stop], &connections).await,
            refused("HelloFirst")
        );
        // A second Hello is refused, and the connection goes on.
        let again = exchange(
            Some(peer(1000)),
            &[hello(), hello(), Ask::Echo { text: "on".into() }, Ask::Stop],
            &connections,
        )
        .await;
        assert_eq!(
            again,
            vec![
                Say::Welcome,
                Say::Refused {
                    why: "HelloAgain".into()
                },
                Say::Echo { text: "on".into() }
            ]
        );
    }

    #[tokio::test]
    async fn a_malformed_frame_is_refused_with_its_reason() {
        use tokio::io::AsyncWriteExt;
        let connections = Connections::new(4);
        let (mut client, server) = duplex(4096);
        let serving = serve_connection(&EchoService, server, Some(peer(1000)), &connections);
        let talking = async {
            let body = b"{\"type\":\"Nonsense\"}";
            client
                .write_all(&(body.len() as u32).to_be_bytes())
                .await
                .unwrap();
            client.write_all(body).await.unwrap();
            read_frame::<_, Say>(&mut client).await.unwrap()
        };
        let both = async { tokio::join!(serving, talking) };
        let ((), said) = tokio::time::timeout(std::time::Duration::from_secs(10), both)
            .await
            .expect("the server answered");
        let Say::Refused { why } = said else {
            panic!("not refused: {said:?}")
        };
        assert!(why.starts_with("Malformed"), "{why}");
    }

    #[test]
    fn each_uid_holds_at_most_its_share_of_connections() {
        let connections = Connections::new(16);
        let held: Vec<_> = (0..16)
            .map(|_| connections.take(&user(1000)).expect("within the limit"))
            .collect();
        assert!(
            connections.take(&user(1000)).is_none(),
            "one past the limit"
        );
        // Another user is not affected by the first one's connections.
        let other = connections.take(&user(1001)).expect("another uid");
        assert_eq!(connections.open(&user(1001)), 1);
        drop(other);
        assert_eq!(connections.open(&user(1001)), 0);
        drop(held);
        assert_eq!(connections.open(&user(1000)), 0);
        assert!(connections.take(&user(1000)).is_some(), "slots come back");
    }
}
