//! The protocol between Postern's user-side processes (CLI, app) and the privileged helper.
//!
//! Frames are a 4-byte big-endian length and a JSON document, at most [`MAX_FRAME`] bytes. The
//! first exchange is `Hello { protocol_version }` → `Welcome` (or `Refused(ProtocolMismatch)`).
//! Errors cross as typed causes, never as bare strings.

pub mod agent;
pub mod client;

use postern_core::vpn::tunnel::{TunnelFailure, TunnelState, TunnelStateRecord};
use postern_core::vpn::{ProfileError, ProfileIssue};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bumped on any incompatible change; both sides refuse a mismatch.
pub const PROTOCOL_VERSION: u32 = 1;
/// A profile is at most 256 KiB; a frame carrying one fits easily.
pub const MAX_FRAME: usize = 1024 * 1024;
/// Where the helper listens unless told otherwise.
#[cfg(not(windows))]
pub const DEFAULT_SOCKET: &str = "/run/postern/helper.sock";
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
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    message: &T,
) -> Result<(), FrameError> {
    let body = serde_json::to_vec(message).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    w.write_all(&(body.len() as u32).to_be_bytes()).await?;
    w.write_all(&body).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame. An oversized length is refused before anything is allocated.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Closed
        } else {
            e.into()
        }
    })?;
    serde_json::from_slice(&body).map_err(|e| FrameError::Malformed(e.to_string()))
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
