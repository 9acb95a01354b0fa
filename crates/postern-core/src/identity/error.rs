//! Everything that can go wrong while signing in or talking to Identity Center, each with its
//! sentence, next step and exit code.

use crate::problem::{ExitCode, Problem};

use super::store::KeychainError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityError {
    #[error("You are not signed in to IAM Identity Center ({start_url}).")]
    NotSignedIn { start_url: String },
    #[error("Your IAM Identity Center session has ended ({reason}).")]
    SessionEnded { reason: String },
    #[error("IAM Identity Center at {endpoint} could not be reached ({detail}).")]
    Unreachable { endpoint: String, detail: String },
    #[error("IAM Identity Center did not answer within the time limit ({endpoint}).")]
    TimedOut { endpoint: String },
    #[error("IAM Identity Center says the start URL belongs to another region than {region}.")]
    WrongRegion { region: String },
    #[error("IAM Identity Center rejected the request: {detail}.")]
    Rejected { detail: String },
    #[error("The sign-in code expired before it was approved.")]
    CodeExpired,
    #[error("The sign-in was denied in the browser.")]
    Denied,
    #[error("IAM Identity Center no longer accepts this app's registration ({detail}).")]
    ClientRejected { detail: String },
    #[error("No answer came back from the browser within {minutes} minutes.")]
    BrowserTimedOut { minutes: u64 },
    #[error("The browser answered with a sign-in that Postern did not start (state mismatch).")]
    StateMismatch,
    #[error("IAM Identity Center is asking Postern to slow down (too many requests).")]
    Throttled,
    #[error("IAM Identity Center had an internal error ({detail}).")]
    ServiceFault { detail: String },
    #[error("IAM Identity Center answered in an unexpected way ({detail}).")]
    Protocol { detail: String },
    #[error("Another Postern process has been signing in for too long.")]
    Busy,
    #[error("The local sign-in listener failed: {detail}.")]
    Listener { detail: String },
    #[error("An Identity Center endpoint is misconfigured: {detail}.")]
    BadEndpoint { detail: String },
    #[error("The AWS CLI cache file {path} could not be written ({detail}).")]
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
            CodeExpired
            | Denied
            | BrowserTimedOut { .. }
            | StateMismatch
            | Busy
            | Listener { .. } => ExitCode::SignInFailed,
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
            StateMismatch => "Close other sign-in tabs and run `postern login` again.".into(),
            Throttled | ServiceFault { .. } => "Wait a minute and try again.".into(),
            Busy => "Finish or cancel the other sign-in (another terminal or the Postern app), then try again.".into(),
            Listener { .. } => "Use `postern login --device-code` instead.".into(),
            BadEndpoint { .. } => "Fix the endpoint variable or the policy's endpoint override (these exist for labs only).".into(),
            Export { .. } => "Check that ~/.aws is writable, or sign in without --export-aws-cli-cache.".into(),
            Keychain(k) => k.next_step(),
        }
    }
}
