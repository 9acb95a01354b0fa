//! Everything that can go wrong while signing in or talking to Identity Center, each with its
//! sentence, next step and exit code. Text that came from outside (Identity Center's error
//! descriptions, a transport's message) is shown with its control characters escaped.

use crate::problem::{ExitCode, Problem};
use crate::text::escape_control;

use postern_keychain::KeychainError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityError {
    #[error("You are not signed in to IAM Identity Center ({}).", escape_control(.start_url))]
    NotSignedIn { start_url: String },
    #[error("Your IAM Identity Center session has ended ({}).", escape_control(.reason))]
    SessionEnded { reason: String },
    #[error(
        "IAM Identity Center at {} could not be reached ({}).",
        escape_control(.endpoint),
        escape_control(.detail)
    )]
    Unreachable { endpoint: String, detail: String },
    #[error(
        "IAM Identity Center did not answer within the time limit ({}).",
        escape_control(.endpoint)
    )]
    TimedOut { endpoint: String },
    #[error(
        "IAM Identity Center says the start URL belongs to another region than {}.",
        escape_control(.region)
    )]
    WrongRegion { region: String },
    #[error("IAM Identity Center rejected the request: {}.", escape_control(.detail))]
    Rejected { detail: String },
    #[error("The sign-in code expired before it was approved.")]
    CodeExpired,
    #[error("The sign-in was denied in the browser.")]
    Denied,
    #[error(
        "IAM Identity Center no longer accepts this app's registration ({}).",
        escape_control(.detail)
    )]
    ClientRejected { detail: String },
    #[error("No answer came back from the browser within {minutes} minutes.")]
    BrowserTimedOut { minutes: u64 },
    #[error("IAM Identity Center is asking Postern to slow down (too many requests).")]
    Throttled,
    #[error("IAM Identity Center had an internal error ({}).", escape_control(.detail))]
    ServiceFault { detail: String },
    #[error(
        "IAM Identity Center answered in an unexpected way ({}).",
        escape_control(.detail)
    )]
    Protocol { detail: String },
    #[error("Another Postern process has been signing in for too long.")]
    Busy,
    #[error("The local sign-in listener failed: {}.", escape_control(.detail))]
    Listener { detail: String },
    #[error("An Identity Center endpoint is misconfigured: {}.", escape_control(.detail))]
    BadEndpoint { detail: String },
    #[error(
        "The AWS CLI cache file {} could not be written ({}).",
        escape_control(.path),
        escape_control(.detail)
    )]
    Export { path: String, detail: String },
    #[error(transparent)]
    Keychain(#[from] KeychainError),
}

impl Problem for IdentityError {
    fn exit_code(&self) -> ExitCode {
        use IdentityError::*;
        match self {
            NotSignedIn { .. } | SessionEnded { .. } | ClientRejected { .. } => {
                ExitCode::NotSignedIn
            }
            CodeExpired | Denied | BrowserTimedOut { .. } | Busy | Listener { .. } => {
                ExitCode::SignInFailed
            }
            Unreachable { .. }
            | TimedOut { .. }
            | WrongRegion { .. }
            | Rejected { .. }
            | Throttled
            | ServiceFault { .. }
            | Protocol { .. } => ExitCode::IdentityProvider,
            BadEndpoint { .. } | Export { .. } => ExitCode::BadInput,
            Keychain(k) => k.exit_code(),
        }
    }

    fn next_step(&self) -> String {
        use IdentityError::*;
        match self {
            NotSignedIn { .. } | SessionEnded { .. } | ClientRejected { .. } => {
                "Run `postern login` (or click Connect in the Postern app) to sign in.".into()
            }
            Unreachable { .. } | TimedOut { .. } => {
                "Check your internet connection and try again; if it keeps failing, tell your IT department the address above.".into()
            }
            WrongRegion { .. } => {
                "Tell your IT department: `identity_center.region` in Postern's policy must be the Identity Center instance's home region.".into()
            }
            Rejected { .. } | Protocol { .. } => {
                "Tell your IT department, with this message.".into()
            }
            CodeExpired => "Run `postern login` again and approve the code within its time limit.".into(),
            Denied => "If that was a mistake, run `postern login` again and choose Allow.".into(),
            BrowserTimedOut { .. } => {
                "Run `postern login` again; on a remote shell use `postern login --device-code`.".into()
            }
            Throttled | ServiceFault { .. } => "Wait a minute and try again.".into(),
            Busy => "Finish or cancel the other sign-in (another terminal or the Postern app), then try again.".into(),
            Listener { .. } => "Use `postern login --device-code` instead.".into(),
            BadEndpoint { .. } => "Fix the endpoint variable or the policy's endpoint override (these exist for labs only).".into(),
            Export { .. } => "Check that ~/.aws is writable, or sign in without --export-aws-cli-cache.".into(),
            Keychain(k) => k.next_step(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_centers_text_cannot_drive_the_terminal() {
        // An error description that would clear the screen and retitle the window.
        let err = IdentityError::Rejected {
            detail: "invalid_grant\u{1b}[2J\u{1b}]0;owned\u{7}\r\nfake prompt".into(),
        };
        let text = err.to_string();
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        assert_eq!(
            text,
            "IAM Identity Center rejected the request: invalid_grant\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{d}\\u{a}fake prompt."
        );
        for err in [
            IdentityError::SessionEnded {
                reason: "\u{1b}[31m".into(),
            },
            IdentityError::ServiceFault {
                detail: "\u{9b}2J".into(),
            },
            IdentityError::Protocol {
                detail: "\u{1b}c".into(),
            },
            IdentityError::ClientRejected {
                detail: "\u{1b}c".into(),
            },
        ] {
            let text = err.to_string();
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        }
    }
}
