//! Every failure a user can meet is a typed cause that knows three things: one sentence of what
//! happened, the next step, and the documented exit code the CLI ends with. Errors stay typed
//! until the edge (CLI, tray, window) renders them.

use std::fmt;

/// The exit codes of the `postern` command. Scripts and helpdesk docs rely on these numbers
/// (`docs/cli.md`); never renumber, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitCode {
    Ok = 0,
    /// A bug or an unexpected condition in Postern itself.
    Internal = 1,
    /// The command line itself was wrong (clap uses 2 as well).
    Usage = 2,
    /// A file the user or admin gave (policy, profile, config) is invalid or unreadable.
    BadInput = 3,
    /// Not signed in, or the sign-in session ended: run `postern login`.
    NotSignedIn = 4,
    /// Sign-in was attempted and did not complete (denied, code expired, browser never came back).
    SignInFailed = 5,
    /// IAM Identity Center could not be reached or answered with an error.
    IdentityProvider = 6,
    /// The OS keychain is unavailable, locked, or holds an unreadable item.
    Keychain = 7,
    /// No organization policy was found.
    NotConfigured = 8,
    /// The VPN tunnel could not be brought up or was lost (the server's reason is shown).
    VpnFailed = 9,
    /// The privileged VPN helper is not running, refuses this user, or is another version.
    HelperUnavailable = 10,
    /// The device does not meet the posture the policy requires (the failing checks are named).
    NonCompliant = 11,
    /// A posture check that the policy says must be known could not be read.
    PostureUnknown = 12,
    /// Traffic does not leave through the company NAT (or from an allowed country).
    EgressMismatch = 13,
    /// The public address could not be determined (echoes silent, lying or disagreeing).
    EgressUndetermined = 14,
    /// Not connected: no session serves credentials now (run `postern connect`).
    NotConnected = 15,
    /// The per-user agent is not running or is another version.
    AgentUnavailable = 16,
    /// The policy does not allow this account and role.
    AccessNotAllowed = 17,
    /// The diagnostics bundle could not be written (destination unwritable, disk full).
    ExportFailed = 18,
    /// The AWS console sign-in could not be made (the federation endpoint refused or was
    /// unreachable).
    ConsoleSignInFailed = 19,
    /// The organization sets this (Group Policy, a configuration profile or its policy file):
    /// it cannot be changed here.
    SettingLocked = 20,
    /// The login item (start at login) could not be read, written or removed, or the desktop
    /// app it would start is not installed.
    LoginItemFailed = 21,
    /// `postern exec`: the command exists but could not be started (as `env` and shells say).
    CommandNotRunnable = 126,
    /// `postern exec`: no such command.
    CommandNotFound = 127,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A user-facing failure: what happened, what to do next, and how the CLI exits.
pub trait Problem: std::error::Error {
    /// The exit code the CLI ends with.
    fn exit_code(&self) -> ExitCode;
    /// One sentence telling the user what to do next.
    fn next_step(&self) -> String;
}

/// Renders a problem the way every door shows it: the sentence, then the next step.
pub struct Explained<'a, P: Problem + ?Sized>(pub &'a P);

impl<P: Problem + ?Sized> fmt::Display for Explained<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.0, self.0.next_step())
    }
}
