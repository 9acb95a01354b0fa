//! The VPN's pushed DNS: its state (`postern-types`), its parsing and the resolver commands
//! (`postern-ovpn`).

pub use postern_ovpn::dns::*;
