//! The words every part of Postern shares, with no I/O: the session's states and the causes of
//! its transitions, the tunnel's states and failures, the VPN's DNS and sign-in outcomes, the
//! problems every door renders and their exit codes. The root helper, the agent, the CLI and the
//! app all link this; nothing here reaches a network, a file or the keychain.

pub mod catalogue;
pub mod dns;
pub mod problem;
pub mod profile;
pub mod saml;
pub mod session;
pub mod text;
pub mod tunnel;

pub use problem::{ExitCode, Problem};
