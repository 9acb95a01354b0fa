//! AWS Client VPN: profiles (parse, allow-list, sanitize), the per-user profile store, the
//! tunnel's states as the privileged helper reports them, and the DNS the endpoint pushes.

pub mod dns;
pub mod saml;
pub mod store;
pub mod tunnel;

pub use postern_ovpn::profile;
pub use profile::{AuthMode, Profile, ProfileError, ProfileIssue};
pub use store::{ProfileStore, ProfileStoreError, ProfileSummary};
