//! OpenVPN's management interface, line by line (pure, tested on recorded transcripts), and its
//! version banner.

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
    use postern_types::tunnel::TunnelFailure;

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
