//! The protocol between Postern's user-side processes (CLI, app) and the privileged helper.
//!
//! Frames are a 4-byte big-endian length and a JSON document, at most [`MAX_FRAME`] bytes. The
//! first exchange is `Hello { protocol_version }` → `Welcome` (or `Refused(ProtocolMismatch)`).
//! Errors cross as typed causes, never as bare strings.
//!
//! Reading is bounded: a frame is read as its bytes arrive (never allocated at its declared
//! length), and once its first byte is in, the rest must follow within [`FRAME_DEADLINE`].

pub mod agent;
#[cfg(feature = "agent-client")]
pub mod agent_client;
pub mod client;
pub mod peer;
pub mod pipe;
pub mod server;
pub mod trust;

use std::time::Duration;

use postern_types::profile::{ProfileError, ProfileIssue};
use postern_types::tunnel::{TunnelFailure, TunnelState, TunnelStateRecord};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bumped on any incompatible change; both sides refuse a mismatch.
pub const PROTOCOL_VERSION: u32 = 1;
/// A profile is at most 256 KiB; a frame carrying one fits easily.
pub const MAX_FRAME: usize = 1024 * 1024;
/// Once a frame's first byte is in, the rest must follow within this: a profile over a local
/// socket takes milliseconds, and a stalled peer must not hold a buffer.
pub const FRAME_DEADLINE: Duration = Duration::from_secs(10);
/// A new connection must have said Hello within this, or it is closed.
pub const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// Where the helper listens unless told otherwise (macOS has no `/run`).
#[cfg(all(unix, not(target_os = "macos")))]
pub const DEFAULT_SOCKET: &str = "/run/postern/helper.sock";
#[cfg(target_os = "macos")]
pub const DEFAULT_SOCKET: &str = "/var/run/postern/helper.sock";
#[cfg(windows)]
pub const DEFAULT_SOCKET: &str = r"\\.\pipe\postern-helper";
/// Overrides [`DEFAULT_SOCKET`] for the CLI (labs and tests).
pub const SOCKET_ENV: &str = "POSTERN_HELPER_SOCKET";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Request {
    Hello {
        protocol_version: u32,
        client: String,
    },
    /// Start the tunnel from this profile (full text, key included). The helper validates it again.
    Connect {
        profile_name: String,
        profile: String,
    },
    /// The SAML assertion the browser posted, for the tunnel that is awaiting it.
    SamlResponse {
        assertion: String,
    },
    Disconnect,
    Status,
    /// Stream every state change until the connection closes.
    Watch,
    /// The last lines OpenVPN printed (for diagnostics).
    OpenVpnLog,
    /// The tunnel's recent states, oldest first (for diagnostics).
    StateHistory,
    /// Bytes through the tunnel, as OpenVPN's `>BYTECOUNT` last reported them.
    Traffic,
}

impl server::Requests for Request {
    const PROTOCOL_VERSION: u32 = PROTOCOL_VERSION;
    fn hello_version(&self) -> Option<u32> {
        match self {
            Request::Hello {
                protocol_version, ..
            } => Some(*protocol_version),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    Welcome {
        protocol_version: u32,
        helper_version: String,
    },
    State(TunnelState),
    Log {
        lines: Vec<String>,
    },
    History {
        states: Vec<TunnelStateRecord>,
    },
    Traffic {
        received: u64,
        sent: u64,
    },
    Refused(HelperError),
}

/// Why the helper would not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "kebab-case")]
pub enum HelperError {
    #[error("The VPN helper speaks protocol {helper}, this program speaks {client}.")]
    ProtocolMismatch { helper: u32, client: u32 },
    #[error("The VPN helper only serves members of the '{group}' group.")]
    NotAllowed { group: String },
    #[error("The first message must be Hello.")]
    HelloFirst,
    #[error("The VPN helper refused the profile:\n{}", .issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
    ProfileRefused { issues: Vec<ProfileIssue> },
    #[error("The VPN helper refused the profile: {reason}")]
    ProfileInvalid { reason: ProfileError },
    #[error("A VPN tunnel ('{profile}') is already up.")]
    Busy { profile: String },
    #[error("{failure}")]
    Tunnel { failure: TunnelFailure },
    #[error("No VPN sign-in is waiting for a browser answer.")]
    NotAwaitingBrowser,
    #[error(
        "The VPN tunnel '{profile}' was started by another user: only they (or root) may disconnect it, answer its sign-in or read its log and history."
    )]
    NotOwner { profile: String },
    #[error("Too many connections to the VPN helper from this user (at most {limit} at once).")]
    TooManyConnections { limit: usize },
    #[error("The request was malformed: {detail}.")]
    Malformed { detail: String },
    #[error("The VPN helper failed: {detail}.")]
    Internal { detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the peer closed the connection")]
    Closed,
    #[error("a frame of {0} bytes is larger than allowed")]
    TooLarge(usize),
    #[error("a frame is not valid JSON for this protocol: {0}")]
    Malformed(String),
    #[error("a frame did not arrive within {} seconds", .0.as_secs())]
    TimedOut(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes one frame; a peer that stops reading makes it fail after [`FRAME_DEADLINE`].
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    message: &T,
) -> Result<(), FrameError> {
    write_frame_within(w, message, FRAME_DEADLINE).await
}

async fn write_frame_within<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    message: &T,
    within: Duration,
) -> Result<(), FrameError> {
    let body = serde_json::to_vec(message).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let written = tokio::time::timeout(within, async {
        w.write_all(&(body.len() as u32).to_be_bytes()).await?;
        w.write_all(&body).await?;
        w.flush().await
    })
    .await;
    match written {
        Ok(result) => Ok(result?),
        Err(_) => Err(FrameError::TimedOut(within)),
    }
}

/// Reads one frame. The peer may take as long as it likes to start one (a held control
/// connection, a watcher), then has [`FRAME_DEADLINE`] to finish it. An oversized length is
/// refused before anything is allocated, and the body grows only with the bytes that arrive.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, FrameError> {
    read_frame_paced(r, FRAME_DEADLINE).await
}

/// Reads one frame that must be complete within `within`, its first byte included: a new
/// connection's Hello.
pub async fn read_frame_within<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    within: Duration,
) -> Result<T, FrameError> {
    match tokio::time::timeout(within, read_frame_paced(r, within)).await {
        Ok(result) => result,
        Err(_) => Err(FrameError::TimedOut(within)),
    }
}

async fn read_frame_paced<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    finish_within: Duration,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    if r.read(&mut len[..1]).await? == 0 {
        return Err(FrameError::Closed);
    }
    let body = tokio::time::timeout(finish_within, async {
        r.read_exact(&mut len[1..]).await.map_err(closed_on_eof)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        // read_to_end grows the buffer as bytes come in (doubling from 32 bytes), so a peer
        // that declares 1 MiB and sends nothing costs nothing.
        let mut body = Vec::new();
        let got = (&mut *r)
            .take(len as u64)
            .read_to_end(&mut body)
            .await
            .map_err(closed_on_eof)?;
        if got < len {
            return Err(FrameError::Closed);
        }
        Ok(body)
    })
    .await
    .map_err(|_| FrameError::TimedOut(finish_within))??;
    serde_json::from_slice(&body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Resolves when the peer hangs up (or sends anything, which a watcher never does): a stream
/// of states to a client that went away ends now, not at the next state change.
pub async fn hung_up<R: AsyncRead + Unpin>(r: &mut R) {
    let mut byte = [0u8; 1];
    let _ = r.read(&mut byte).await;
}

fn closed_on_eof(e: std::io::Error) -> FrameError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        FrameError::Closed
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let hello = Request::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: "test".into(),
        };
        write_frame(&mut a, &hello).await.unwrap();
        let got: Request = read_frame(&mut b).await.unwrap();
        assert_eq!(got, hello);
    }

    #[tokio::test]
    async fn oversized_and_malformed_frames_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&(u32::MAX).to_be_bytes()).await.unwrap();
        assert!(matches!(
            read_frame::<_, Request>(&mut b).await,
            Err(FrameError::TooLarge(_))
        ));
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&3u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{x}").await.unwrap();
        assert!(matches!(
            read_frame::<_, Request>(&mut b).await,
            Err(FrameError::Malformed(_))
        ));
        drop(a);
        assert!(matches!(
            read_frame::<_, Request>(&mut b).await,
            Err(FrameError::Closed)
        ));
    }

    /// Records the most buffer space the frame reader ever offered at once: the memory it
    /// committed before the bytes were there.
    struct Recording<R> {
        inner: R,
        largest_offer: usize,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for Recording<R> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.largest_offer = self.largest_offer.max(buf.remaining());
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    #[tokio::test]
    async fn a_frame_grows_with_the_bytes_that_arrive_not_with_its_declared_length() {
        let (mut a, b) = tokio::io::duplex(4096);
        let mut b = Recording {
            inner: b,
            largest_offer: 0,
        };
        a.write_all(&(MAX_FRAME as u32).to_be_bytes())
            .await
            .unwrap();
        a.write_all(&[b' '; 100]).await.unwrap();
        let started = std::time::Instant::now();
        let got = read_frame_paced::<_, Request>(&mut b, Duration::from_millis(300)).await;
        assert!(matches!(got, Err(FrameError::TimedOut(_))), "{got:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            b.largest_offer < 64 * 1024,
            "the reader committed {} bytes for 100 that arrived",
            b.largest_offer
        );

        // A real near-limit frame still arrives whole.
        let (mut a, mut b) = tokio::io::duplex(64 * 1024);
        let big = Request::Connect {
            profile_name: "corp".into(),
            profile: "x".repeat(MAX_FRAME - 200),
        };
        let sent = big.clone();
        let writer = tokio::spawn(async move { write_frame(&mut a, &sent).await });
        let got: Request = read_frame(&mut b).await.unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(got, big);
    }

    #[tokio::test]
    async fn a_stalled_frame_times_out_and_an_idle_peer_does_not() {
        let quick = Duration::from_millis(200);
        // Half a length, then nothing.
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0, 0]).await.unwrap();
        assert!(matches!(
            read_frame_paced::<_, Request>(&mut b, quick).await,
            Err(FrameError::TimedOut(_))
        ));
        // A length, part of the body, then nothing.
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&100u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{\"type\"").await.unwrap();
        assert!(matches!(
            read_frame_paced::<_, Request>(&mut b, quick).await,
            Err(FrameError::TimedOut(_))
        ));
        // Silence before a frame starts is not a stall: a held connection may wait.
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            write_frame(&mut a, &Request::Status).await
        });
        let got: Request = read_frame_paced(&mut b, quick).await.unwrap();
        assert_eq!(got, Request::Status);
        writer.await.unwrap().unwrap();
        // ...but a new connection's Hello has a deadline that includes its first byte.
        let (_a, mut b) = tokio::io::duplex(64);
        let started = std::time::Instant::now();
        assert!(matches!(
            read_frame_within::<_, Request>(&mut b, quick).await,
            Err(FrameError::TimedOut(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        // A peer that hangs up mid-body is a closed connection, not a frame.
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&100u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{\"type\"").await.unwrap();
        drop(a);
        assert!(matches!(
            read_frame::<_, Request>(&mut b).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_makes_a_write_time_out() {
        let (mut a, _b) = tokio::io::duplex(64);
        let reply = Reply::Log {
            lines: vec!["x".repeat(4096)],
        };
        let got = write_frame_within(&mut a, &reply, Duration::from_millis(200)).await;
        assert!(matches!(got, Err(FrameError::TimedOut(_))), "{got:?}");
    }

    #[test]
    fn every_refusal_survives_the_wire() {
        let all = vec![
            HelperError::ProtocolMismatch {
                helper: 2,
                client: 1,
            },
            HelperError::NotAllowed {
                group: "postern".into(),
            },
            HelperError::HelloFirst,
            HelperError::ProfileRefused {
                issues: vec![ProfileIssue {
                    line: 3,
                    message: "`up` runs a program".into(),
                }],
            },
            HelperError::ProfileInvalid {
                reason: ProfileError::Binary,
            },
            HelperError::Busy {
                profile: "corp".into(),
            },
            HelperError::Tunnel {
                failure: TunnelFailure::SamlUnsupported,
            },
            HelperError::Tunnel {
                failure: TunnelFailure::Denied {
                    reason: Some("no".into()),
                },
            },
            HelperError::NotOwner {
                profile: "corp".into(),
            },
            HelperError::TooManyConnections { limit: 16 },
            HelperError::Malformed { detail: "x".into() },
            HelperError::Internal { detail: "y".into() },
        ];
        for e in all {
            let json = serde_json::to_string(&Reply::Refused(e.clone())).unwrap();
            let back: Reply = serde_json::from_str(&json).unwrap();
            assert_eq!(back, Reply::Refused(e));
        }
    }

    #[test]
    fn the_wire_shape_is_stable() {
        let j = serde_json::to_value(Reply::Refused(HelperError::Busy {
            profile: "corp".into(),
        }))
        .unwrap();
        assert_eq!(
            j,
            serde_json::json!({"type": "refused", "error": "busy", "profile": "corp"})
        );
        let j = serde_json::to_value(Reply::State(TunnelState::Disconnected)).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"type": "state", "state": "disconnected"})
        );
    }
}
