//! The per-user agent: one process (the desktop app, or `postern agent`) that owns the
//! [`Session`](postern_core::session::Session), carries out its actions (sign in, check posture,
//! bring the VPN up through the helper, verify egress, vend credentials, withdraw them) and
//! answers the user's other processes on a socket only that user can reach.

mod endpoint;
mod orchestrator;
pub mod parts;
mod server;
pub mod tunnel;

pub mod diagnostics;

pub use orchestrator::AgentConfig;
pub use server::{Agent, serve};
