//! AWS Client VPN's SAML sign-in (`auth-federate`): why it could not be carried out.

use serde::{Deserialize, Serialize};

use crate::problem::{ExitCode, Problem};
use crate::text::escape_control;

/// The assertion consumer port of the AWS flow.
pub const ACS_PORT: u16 = 35001;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum SamlError {
    #[error(
        "Port {ACS_PORT} on 127.0.0.1 is in use, so the VPN sign-in cannot receive its answer."
    )]
    PortBusy,
    #[error("No sign-in answer came back from the browser within {minutes} minutes.")]
    TimedOut { minutes: u64 },
    #[error("The sign-in listener failed: {detail}.")]
    Listener { detail: String },
    #[error(
        "The VPN server asked Postern to open \"{}\" for the sign-in, which Postern does not open: {why}.",
        escape_control(.url)
    )]
    RefusedUrl { url: String, why: UrlRefusal },
}

/// Why a sign-in address from the VPN server is not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
pub enum UrlRefusal {
    #[error("it is not a complete web address")]
    NotAUrl,
    #[error("it contains spaces or control characters")]
    Unprintable,
    #[error("only https:// pages are opened")]
    Scheme,
    #[error(
        "it is plain http://, which the organization policy allows only for a lab ([egress] allow_plain_http)"
    )]
    PlainHttp,
    #[error("it names no host")]
    NoHost,
    #[error("it carries a user name or password, which a sign-in page never needs")]
    Credentials,
}

impl Problem for SamlError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::VpnFailed
    }

    fn next_step(&self) -> String {
        match self {
            SamlError::PortBusy => {
                "Quit the AWS VPN Client (it uses the same port) and connect again.".into()
            }
            SamlError::TimedOut { .. } => {
                "Connect again and finish signing in in the browser.".into()
            }
            SamlError::Listener { .. } => {
                "Connect again; if it keeps failing, export diagnostics.".into()
            }
            SamlError::RefusedUrl { .. } => {
                "Do not open that address yourself; tell your IT department, with this message: the VPN endpoint's sign-in page must be an https:// address.".into()
            }
        }
    }
}
