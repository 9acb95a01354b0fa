//! The protocol between the user's processes (CLI, credential_process callers) and the per-user
//! agent that runs the session. Same framing as the helper's; its own messages and version.

use postern_types::session::{Cause, SessionState, Transition};
use serde::{Deserialize, Serialize};

pub const AGENT_PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AgentRequest {
    Hello {
        protocol_version: u32,
    },
    /// Reach Ready for this account and role (profile: the VPN profile; default the only one).
    Connect {
        profile: Option<String>,
        account: String,
        role: String,
    },
    Disconnect,
    Status,
    /// Stream every transition until the connection closes.
    Watch,
    /// The recent transitions, oldest first (for diagnostics).
    History,
    /// The credential_process document, when the gate is open for this account and role.
    Credentials {
        account: String,
        role: String,
    },
    /// Serve this account and role at the local credentials endpoint, under a token of its own
    /// that lives as long as this connection stays open.
    OpenEndpoint {
        account: String,
        role: String,
    },
}

impl crate::server::Requests for AgentRequest {
    const PROTOCOL_VERSION: u32 = AGENT_PROTOCOL_VERSION;
    fn hello_version(&self) -> Option<u32> {
        match self {
            AgentRequest::Hello { protocol_version } => Some(*protocol_version),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AgentReply {
    Welcome {
        protocol_version: u32,
        agent_version: String,
    },
    Session {
        transition: Transition,
    },
    Credentials {
        document: String,
    },
    History {
        transitions: Vec<Transition>,
    },
    /// The local endpoint's URL and this connection's token (the token is a secret).
    Endpoint {
        url: String,
        token: String,
    },
    Refused(AgentError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(
    tag = "error",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum AgentError {
    #[error("The Postern agent speaks protocol {agent}, this program speaks {client}.")]
    ProtocolMismatch { agent: u32, client: u32 },
    #[error("The Postern agent only serves its own user.")]
    NotAllowed,
    #[error("{}", .cause.as_ref().map(Cause::sentence).unwrap_or_else(|| "Not connected: no AWS credentials are being served.".into()))]
    NotReady {
        state: SessionState,
        cause: Option<Cause>,
    },
    #[error("The company policy does not allow credentials for account {account} role {role}.")]
    AccessNotAllowed { account: String, role: String },
    #[error("{detail}")]
    BadRequest { detail: String },
    #[error("The request was malformed: {detail}.")]
    Malformed { detail: String },
    #[error("Too many connections to the Postern agent (at most {limit} at once).")]
    TooManyConnections { limit: usize },
}
