//! OpenVPN as Postern reads it, with no I/O: a profile checked against OpenVPN 2.6's own parsing
//! rules and Postern's allow-list, the management interface's lines, the DNS the endpoint pushes
//! and the commands that hand it to the OS's resolver, the SAML retry's password. The root
//! helper links this and `postern-types`, not the desktop core.

pub mod dns;
pub mod machine;
pub mod management;
pub mod profile;
pub mod redact;
pub mod saml;
