//! Postern's domain, with no UI dependency. The desktop app, the CLI, the privileged helper and
//! the Client VPN handler are thin doors onto this crate.
//!
//! Modules follow the words of the domain:
//! - [`policy`]: the organization's policy file (admin-managed TOML), validated with locations;
//! - [`identity`]: IAM Identity Center sign-in (device code, PKCE), refresh, keychain storage,
//!   the portal (accounts, roles, role credentials);
//! - [`diagnostics`]: the helpdesk bundle, redaction, the app's logs;
//! - [`problem`]: the one vocabulary of user-facing failures and documented exit codes.

pub mod credentials;
pub mod diagnostics;
pub mod egress;
pub mod identity;
pub mod l10n;
mod loopback;
pub mod paths;
pub mod policy;
pub use postern_posture as posture;
pub mod problem;
pub mod session;
pub use postern_settings as settings;
pub mod text;
pub mod vpn;

pub use problem::{ExitCode, Problem};
