//! The tunnel as the privileged helper runs it: its states, the typed reasons it fails, and the
//! parser of OpenVPN's management-interface lines (pure, tested on recorded transcripts).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::text::escape_control;

/// A state the tunnel was in, and since when (the helper keeps the recent ones for diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelStateRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub state: TunnelState,
}

/// What the tunnel is doing now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum TunnelState {
    Disconnected,
    /// OpenVPN is working on it; `phase` is OpenVPN's own word (RESOLVE, WAIT, AUTH, ASSIGN_IP…).
    Connecting {
        profile: String,
        phase: String,
    },
    Connected {
        profile: String,
        tunnel_ip: String,
        endpoint_ip: String,
        /// The endpoint's pushed DNS, and whether this machine's resolver took it.
        #[serde(default)]
        dns: crate::vpn::dns::DnsState,
    },
    /// The tunnel dropped and OpenVPN is trying again (`attempt` of `max`).
    Reconnecting {
        profile: String,
        attempt: u32,
        max: u32,
        reason: String,
    },
    /// AWS SAML sign-in: the endpoint sent the IdP's address; the browser must sign in.
    AwaitingBrowser {
        profile: String,
        url: String,
    },
    Disconnecting {
        profile: String,
    },
    Failed {
        profile: String,
        cause: TunnelFailure,
    },
}

impl TunnelState {
    pub fn is_connected(&self) -> bool {
        matches!(self, TunnelState::Connected { .. })
    }

    /// A state nothing will move out of without a new request.
    pub fn is_final(&self) -> bool {
        matches!(self, TunnelState::Disconnected | TunnelState::Failed { .. })
    }

    /// The profile this state is about (none when disconnected).
    pub fn profile(&self) -> Option<&str> {
        match self {
            TunnelState::Disconnected => None,
            TunnelState::Connecting { profile, .. }
            | TunnelState::Connected { profile, .. }
            | TunnelState::Reconnecting { profile, .. }
            | TunnelState::AwaitingBrowser { profile, .. }
            | TunnelState::Disconnecting { profile }
            | TunnelState::Failed { profile, .. } => Some(profile),
        }
    }
}

/// Why a tunnel failed, in words a person can act on. The server's and OpenVPN's own text is
/// shown with its control characters escaped, so it cannot drive a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum TunnelFailure {
    #[error(
        "The VPN server refused the connection: {}",
        escape_control(.reason.as_deref().unwrap_or("no reason given"))
    )]
    Denied { reason: Option<String> },
    #[error(
        "The VPN connection was lost and could not be restored ({attempts} reconnect attempts)."
    )]
    ConnectionLost { attempts: u32 },
    #[error("OpenVPN stopped: {}", escape_control(.message))]
    Fatal { message: String },
    #[error("OpenVPN exited unexpectedly (status {status}).")]
    Exited { status: i32 },
    #[error("OpenVPN is not installed at {}.", escape_control(.path))]
    OpenVpnMissing { path: String },
    #[error("OpenVPN {} is too old; Postern needs 2.5 or newer.", escape_control(.found))]
    OpenVpnTooOld { found: String },
    #[error(
        "The VPN endpoint asked for SAML sign-in, but this profile does not use it (no auth-federate)."
    )]
    SamlUnsupported,
    #[error(
        "The VPN sign-in answer is {length} characters; the installed OpenVPN can pass at most {limit} (AWS's own OpenVPN build can pass up to 128 KB)."
    )]
    SamlAssertionTooLarge { length: usize, limit: usize },
    #[error("This profile asks for a user name and password, which Postern does not support yet.")]
    PasswordUnsupported,
}

impl crate::Problem for TunnelFailure {
    fn exit_code(&self) -> crate::ExitCode {
        crate::ExitCode::VpnFailed
    }

    fn next_step(&self) -> String {
        match self {
            TunnelFailure::Denied { .. } => {
                "Follow the server's message above; if it is unclear, contact your IT department.".into()
            }
            TunnelFailure::ConnectionLost { .. } => {
                "Check your internet connection, then connect again.".into()
            }
            TunnelFailure::Fatal { .. } | TunnelFailure::Exited { .. } => {
                "Connect again; if it keeps failing, export diagnostics for your helpdesk.".into()
            }
            TunnelFailure::OpenVpnMissing { .. } | TunnelFailure::OpenVpnTooOld { .. } => {
                "Install OpenVPN 2.6 (your IT department's package, or the distribution's `openvpn`).".into()
            }
            TunnelFailure::SamlUnsupported => {
                "Ask your IT department for the current profile of this VPN endpoint.".into()
            }
            TunnelFailure::SamlAssertionTooLarge { .. } => {
                "Install the AWS VPN Client (Postern uses its OpenVPN build for SAML sign-in), or ask IT for a certificate profile.".into()
            }
            TunnelFailure::PasswordUnsupported => {
                "Ask your IT department for a certificate (mutual authentication) profile.".into()
            }
        }
    }
}

/// One line from OpenVPN's management interface, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagementLine {
    /// `>STATE:time,NAME,detail,tunnel ip,remote ip,…`
    State {
        name: String,
        detail: String,
        tunnel_ip: String,
        remote_ip: String,
    },
    /// `>HOLD:…`: OpenVPN waits for `hold release` (at start and after every restart).
    Hold,
    /// `>PASSWORD:Verification Failed: 'Auth' ['reason']`: the server's AUTH_FAILED text.
    AuthFailed {
        reason: Option<String>,
    },
    /// The server's CRV1 challenge (AWS SAML: the IdP URL to open).
    Challenge {
        state_id: String,
        url: String,
    },
    /// `>PASSWORD:Need 'Auth' username/password`
    NeedPassword,
    Fatal(String),
    /// `>LOG:time,flags,message` (with `log on`): OpenVPN's log, in order with its states.
    Log(String),
    ByteCount {
        received: u64,
        sent: u64,
    },
    /// Anything else, including command replies (`SUCCESS:`, `ERROR:`) and `>INFO:`.
    Other,
}

pub fn parse_management_line(line: &str) -> ManagementLine {
    let line = line.trim_end_matches(['\r', '\n']);
    if let Some(rest) = line.strip_prefix(">STATE:") {
        let f: Vec<&str> = rest.split(',').collect();
        let field = |i: usize| f.get(i).copied().unwrap_or("").to_string();
        return ManagementLine::State {
            name: field(1),
            detail: field(2),
            tunnel_ip: field(3),
            remote_ip: field(4),
        };
    }
    if line.starts_with(">HOLD:") {
        return ManagementLine::Hold;
    }
    if let Some(rest) = line.strip_prefix(">PASSWORD:") {
        if let Some(failed) = rest.strip_prefix("Verification Failed: 'Auth'") {
            let reason = failed
                .trim()
                .strip_prefix("['")
                .and_then(|r| r.strip_suffix("']"))
                .map(str::to_string);
            if let Some(crv1) = reason.as_deref().and_then(|r| r.strip_prefix("CRV1:")) {
                // CRV1:<flags>:<state id>:<b64 user>:<url>; the URL itself contains ':'.
                let parts: Vec<&str> = crv1.splitn(4, ':').collect();
                if parts.len() == 4 {
                    return ManagementLine::Challenge {
                        state_id: parts[1].to_string(),
                        url: parts[3].to_string(),
                    };
                }
            }
            return ManagementLine::AuthFailed { reason };
        }
        if rest.starts_with("Need 'Auth'") {
            return ManagementLine::NeedPassword;
        }
    }
    if let Some(rest) = line.strip_prefix(">FATAL:") {
        return ManagementLine::Fatal(rest.to_string());
    }
    if let Some(rest) = line.strip_prefix(">LOG:") {
        let message = rest.splitn(3, ',').nth(2).unwrap_or("");
        return ManagementLine::Log(message.to_string());
    }
    if let Some(rest) = line.strip_prefix(">BYTECOUNT:") {
        let mut it = rest.split(',').map(|n| n.parse::<u64>().unwrap_or(0));
        return ManagementLine::ByteCount {
            received: it.next().unwrap_or(0),
            sent: it.next().unwrap_or(0),
        };
    }
    ManagementLine::Other
}

/// `OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] …` → (2, 6).
pub fn parse_openvpn_version(banner: &str) -> Option<(u32, u32, String)> {
    let line = banner.lines().find(|l| l.starts_with("OpenVPN "))?;
    let version = line.split_whitespace().nth(1)?;
    let mut parts = version.split(['.', '_', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor, version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transcript recorded in the lab (OpenVPN 2.6.14).
    const TRANSCRIPT: &str =
        ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info
>HOLD:Waiting for hold release:0
SUCCESS: hold release succeeded
>STATE:1795313187,RESOLVE,,,,,,
>STATE:1795313187,WAIT,,,,,,
>STATE:1795313187,AUTH,,,,,,
>STATE:1795313187,ASSIGN_IP,,10.200.0.2,,,,
>STATE:1795313187,ADD_ROUTES,,,,,,
>STATE:1795313187,CONNECTED,SUCCESS,10.200.0.2,203.0.113.20,443,,
>BYTECOUNT:3225,3272";

    #[test]
    fn a_recorded_connect_decodes() {
        let lines: Vec<ManagementLine> = TRANSCRIPT.lines().map(parse_management_line).collect();
        assert_eq!(lines[0], ManagementLine::Other);
        assert_eq!(lines[1], ManagementLine::Hold);
        assert_eq!(
            lines[8],
            ManagementLine::State {
                name: "CONNECTED".into(),
                detail: "SUCCESS".into(),
                tunnel_ip: "10.200.0.2".into(),
                remote_ip: "203.0.113.20".into()
            }
        );
        assert_eq!(
            lines[9],
            ManagementLine::ByteCount {
                received: 3225,
                sent: 3272
            }
        );
    }

    #[test]
    fn the_servers_reason_is_extracted() {
        assert_eq!(
            parse_management_line(
                ">PASSWORD:Verification Failed: 'Auth' ['Your device failed the posture check (FileVault)']"
            ),
            ManagementLine::AuthFailed {
                reason: Some("Your device failed the posture check (FileVault)".into())
            }
        );
        assert_eq!(
            parse_management_line(">PASSWORD:Verification Failed: 'Auth'"),
            ManagementLine::AuthFailed { reason: None }
        );
        assert_eq!(
            parse_management_line(">PASSWORD:Need 'Auth' username/password"),
            ManagementLine::NeedPassword
        );
        assert_eq!(
            parse_management_line(">FATAL:Cannot open TUN/TAP dev /dev/net/tun"),
            ManagementLine::Fatal("Cannot open TUN/TAP dev /dev/net/tun".into())
        );
    }

    #[test]
    fn the_servers_text_is_shown_with_its_escapes_made_visible() {
        let line = ">PASSWORD:Verification Failed: 'Auth' ['Denied\u{1b}[2J\u{1b}]0;pwned\u{7}']";
        let ManagementLine::AuthFailed { reason } = parse_management_line(line) else {
            panic!("not an AUTH_FAILED");
        };
        let text = TunnelFailure::Denied { reason }.to_string();
        assert_eq!(
            text,
            "The VPN server refused the connection: Denied\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"
        );
        let text = TunnelFailure::Fatal {
            message: "x\u{1b}[1A\rOK".into(),
        }
        .to_string();
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        // Plain text is shown as it came.
        assert_eq!(
            TunnelFailure::Denied {
                reason: Some("Your device failed the posture check (FileVault)".into())
            }
            .to_string(),
            "The VPN server refused the connection: Your device failed the posture check (FileVault)"
        );
    }

    #[test]
    fn a_crv1_challenge_carries_the_idp_url() {
        assert_eq!(
            parse_management_line(
                ">PASSWORD:Verification Failed: 'Auth' ['CRV1:R:instance-1/abc:Ti9B:http://192.0.2.80/fake-idp/login?state=x']"
            ),
            ManagementLine::Challenge {
                state_id: "instance-1/abc".into(),
                url: "http://192.0.2.80/fake-idp/login?state=x".into()
            }
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_openvpn_version("OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO]\nlibrary versions: OpenSSL 3.0").map(|v| (v.0, v.1)),
            Some((2, 6))
        );
        assert_eq!(
            parse_openvpn_version("OpenVPN 2.4.9_aws x86_64").map(|v| (v.0, v.1)),
            Some((2, 4))
        );
        assert_eq!(parse_openvpn_version("bash: openvpn: not found"), None);
    }
}
