//! The tunnel as the privileged helper runs it: its states and failures (`postern-types`) and
//! the management-interface parser (`postern-ovpn`).

pub use postern_ovpn::management::*;
pub use postern_types::tunnel::*;
