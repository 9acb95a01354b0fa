//! AWS Client VPN profiles (`.ovpn`). A profile is code to OpenVPN: a `plugin` line is loaded and
//! an `up` script runs as root before any prompt. Postern parses the file, keeps only directives
//! on an allow-list, refuses everything else with the line and the reason, and re-emits a clean
//! profile. The privileged helper runs the same check again on what it receives.

use std::fmt;

/// Larger than any real export (a few KB); a bigger file is not a profile.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;
/// OpenVPN's own option-line limit is 256 characters per parameter.
const MAX_LINE: usize = 4096;

/// How the tunnel authenticates the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Mutual TLS with the certificate and key in the profile.
    Certificate,
    /// `auth-user-pass` (Active Directory).
    UserPassword,
    /// `auth-federate`: SAML through the browser (AWS's extension).
    Federated,
}

/// A validated profile: only allowed directives, inline material split out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub directives: Vec<Directive>,
    pub ca: String,
    pub cert: Option<String>,
    /// The private key: handled as a secret (keychain, never logged).
    pub key: Option<String>,
    pub tls_auth: Option<String>,
    pub tls_crypt: Option<String>,
    pub auth: AuthMode,
    pub remotes: Vec<Remote>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Remote {
    pub host: String,
    pub port: Option<u16>,
}

/// One refused line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileIssue {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ProfileIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ProfileError {
    #[error("The profile is larger than {max} bytes; it is not a VPN profile.", max = MAX_PROFILE_BYTES)]
    TooLarge,
    #[error("The profile is not a text file (it contains binary data).")]
    Binary,
    #[error("The profile was refused:\n{}", render(.0))]
    Refused(Vec<ProfileIssue>),
}

fn render(issues: &[ProfileIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a directive is refused, by what it would do.
fn danger(name: &str) -> Option<&'static str> {
    Some(match name {
        "plugin" => "loads a code library into OpenVPN",
        "up"
        | "down"
        | "route-up"
        | "route-pre-down"
        | "ipchange"
        | "tls-verify"
        | "learn-address"
        | "client-connect"
        | "client-disconnect"
        | "auth-user-pass-verify"
        | "iproute"
        | "client-crresponse" => "runs a program",
        "script-security" => "allows running programs",
        "setenv" | "setenv-safe" | "push-peer-info" | "ignore-unknown-option" => {
            "changes what OpenVPN runs or reports (the helper sets these itself)"
        }
        "management"
        | "management-client"
        | "management-hold"
        | "management-query-passwords"
        | "management-client-auth"
        | "management-client-user"
        | "management-client-group"
        | "management-external-key"
        | "management-external-cert"
        | "management-forget-disconnect"
        | "management-signal"
        | "management-up-down"
        | "management-log-cache"
        | "management-query-proxy"
        | "management-query-remote" => {
            "opens a control channel to the tunnel (the helper owns that)"
        }
        "log" | "log-append" | "status" | "status-version" | "writepid" | "syslog" | "daemon"
        | "tmp-dir" | "replay-persist" => "writes files or detaches the process",
        "cd" | "chroot" | "config" => "changes or reads the file system",
        "providers" | "engine" | "pkcs11-providers" | "pkcs11-id" | "pkcs11-id-management" => {
            "loads a cryptographic module"
        }
        "user" | "group" | "dev-node" | "lladdr" | "iproute2" => "changes system settings",
        "askpass"
        | "secret"
        | "dh"
        | "crl-verify"
        | "capath"
        | "extra-certs"
        | "pkcs12"
        | "http-proxy-user-pass"
        | "auth-gen-token-secret" => "reads a file from disk",
        "connection" => "nests a connection block (not supported)",
        "cryptoapicert" | "block-outside-dns" | "register-dns" | "ip-win32" | "route-method" => {
            "is Windows-only and not supported by Postern"
        }
        _ => return None,
    })
}

/// Directives that are safe to pass through, and how many arguments they take.
fn allowed(name: &str) -> Option<(usize, usize)> {
    Some(match name {
        "client"
        | "nobind"
        | "remote-random-hostname"
        | "persist-key"
        | "persist-tun"
        | "auth-nocache"
        | "pull"
        | "tls-client"
        | "float"
        | "mute-replay-warnings"
        | "auth-federate" => (0, 0),
        "dev"
        | "proto"
        | "cipher"
        | "data-ciphers"
        | "data-ciphers-fallback"
        | "verb"
        | "mute"
        | "reneg-sec"
        | "remote-cert-tls"
        | "resolv-retry"
        | "tun-mtu"
        | "tun-mtu-extra"
        | "mssfix"
        | "auth"
        | "tls-version-min"
        | "tls-version-max"
        | "key-direction"
        | "connect-retry-max"
        | "connect-timeout"
        | "server-poll-timeout"
        | "sndbuf"
        | "rcvbuf"
        | "ping"
        | "ping-restart"
        | "auth-retry"
        | "hand-window"
        | "tls-cipher"
        | "tls-ciphersuites"
        | "ncp-ciphers"
        | "explicit-exit-notify" => (0, 2),
        "remote" => (1, 3),
        "verify-x509-name" | "connect-retry" | "keepalive" | "static-challenge" | "dhcp-option" => {
            (1, 3)
        }
        "route" => (1, 4),
        "redirect-gateway" | "auth-user-pass" => (0, 4),
        _ => return None,
    })
}

const INLINE: &[&str] = &["ca", "cert", "key", "tls-auth", "tls-crypt"];

/// Splits an OpenVPN config line into words: whitespace separates, quotes group, a backslash
/// escapes inside double quotes (as OpenVPN's `parse_line` does).
fn words(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if out.is_empty() && (first == '#' || first == ';') {
            break;
        }
        let mut word = String::new();
        match first {
            '"' | '\'' => {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == first {
                        closed = true;
                        break;
                    }
                    if c == '\\' && first == '"' {
                        word.push(chars.next().ok_or("ends inside an escape")?);
                    } else {
                        word.push(c);
                    }
                }
                if !closed {
                    return Err("has an unclosed quote");
                }
            }
            _ => {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
            }
        }
        out.push(word);
    }
    Ok(out)
}

fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || "\"'\\#;".contains(c))
    {
        arg.to_string()
    } else {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl Profile {
    /// Parses raw bytes: size, encoding, then every line. Returns all problems at once.
    pub fn parse(bytes: &[u8]) -> Result<Profile, ProfileError> {
        if bytes.len() > MAX_PROFILE_BYTES {
            return Err(ProfileError::TooLarge);
        }
        if bytes.contains(&0) {
            return Err(ProfileError::Binary);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ProfileError::Binary)?;
        Self::parse_text(text, true)
    }

    fn parse_text(text: &str, key_required: bool) -> Result<Profile, ProfileError> {
        let mut issues = Vec::new();
        let mut refuse = |line: usize, message: String| issues.push(ProfileIssue { line, message });
        let mut directives = Vec::new();
        let mut blocks: Vec<(String, String)> = Vec::new();
        let mut open: Option<(String, usize, String)> = None;

        for (index, raw) in text.lines().enumerate() {
            let n = index + 1;
            let line = raw.trim();
            if let Some((tag, start, body)) = &mut open {
                if line == format!("</{tag}>") {
                    blocks.push((tag.clone(), std::mem::take(body)));
                    open = None;
                } else if line.starts_with('<') && line.ends_with('>') && !line.starts_with("<<") {
                    refuse(
                        n,
                        format!("a tag inside the <{tag}> block opened on line {start}"),
                    );
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
                continue;
            }
            if line.len() > MAX_LINE {
                refuse(n, "the line is too long".into());
                continue;
            }
            if let Some(tag) = line.strip_prefix('<').and_then(|l| l.strip_suffix('>')) {
                if tag.starts_with('/') {
                    refuse(n, format!("closing tag <{tag}> without an opening tag"));
                } else if !INLINE.contains(&tag) {
                    refuse(n, format!("inline block <{tag}> is not allowed"));
                    open = Some((tag.to_string(), n, String::new()));
                } else if blocks.iter().any(|(t, _)| t == tag) {
                    refuse(n, format!("a second <{tag}> block"));
                    open = Some((tag.to_string(), n, String::new()));
                } else {
                    open = Some((tag.to_string(), n, String::new()));
                }
                continue;
            }
            let parts = match words(line) {
                Ok(p) => p,
                Err(e) => {
                    refuse(n, format!("the line {e}"));
                    continue;
                }
            };
            let Some((name, args)) = parts.split_first() else {
                continue;
            };
            let name = name.trim_start_matches("--");
            if let Some(why) = danger(name) {
                refuse(n, format!("`{name}` {why}"));
                continue;
            }
            if INLINE.contains(&name) {
                refuse(
                    n,
                    format!(
                        "`{name}` points to a file; the profile must carry it inline as <{name}>…</{name}>"
                    ),
                );
                continue;
            }
            let Some((min, max)) = allowed(name) else {
                refuse(
                    n,
                    format!("`{name}` is not on Postern's list of allowed directives"),
                );
                continue;
            };
            if args.len() < min || args.len() > max {
                refuse(
                    n,
                    format!(
                        "`{name}` takes {min} to {max} arguments, found {}",
                        args.len()
                    ),
                );
                continue;
            }
            if let Some(problem) = check_args(name, args) {
                refuse(n, problem);
                continue;
            }
            directives.push((
                n,
                Directive {
                    name: name.to_string(),
                    args: args.to_vec(),
                },
            ));
        }
        if let Some((tag, start, _)) = open {
            refuse(
                start,
                format!("the <{tag}> block is never closed (is the file truncated?)"),
            );
        }
        let block = |tag: &str| {
            blocks
                .iter()
                .find(|(t, _)| t == tag)
                .map(|(_, b)| b.clone())
        };
        let has = |name: &str| {
            directives
                .iter()
                .any(|(_, d): &(usize, Directive)| d.name == name)
        };
        let last_line = text.lines().count().max(1);
        let auth = if has("auth-federate") {
            AuthMode::Federated
        } else if has("auth-user-pass") {
            AuthMode::UserPassword
        } else {
            AuthMode::Certificate
        };
        if !has("client") {
            refuse(
                last_line,
                "the profile has no `client` line: it is not a client profile".into(),
            );
        }
        if !has("remote") {
            refuse(
                last_line,
                "the profile has no `remote` line: there is no endpoint to connect to".into(),
            );
        }
        let ca = block("ca");
        if ca.is_none() {
            refuse(
                last_line,
                "the profile has no <ca> block (the endpoint's certificate authority)".into(),
            );
        }
        let (cert, key) = (block("cert"), block("key"));
        match (auth, &cert, &key) {
            (AuthMode::Certificate, None, _) => refuse(
                last_line,
                "the profile has no <cert> block (mutual authentication needs your certificate)"
                    .into(),
            ),
            (AuthMode::Certificate, Some(_), None) if key_required => refuse(
                last_line,
                "the profile has no <key> block (mutual authentication needs your private key)"
                    .into(),
            ),
            (_, Some(_), None) if key_required => refuse(
                last_line,
                "the profile has a <cert> without its <key>".into(),
            ),
            (_, None, Some(_)) => refuse(
                last_line,
                "the profile has a <key> without its <cert>".into(),
            ),
            _ => {}
        }
        for (tag, body) in &blocks {
            if !body.contains("-----BEGIN ") && INLINE.contains(&tag.as_str()) {
                refuse(last_line, format!("the <{tag}> block holds no PEM data"));
            }
        }
        if !issues.is_empty() {
            return Err(ProfileError::Refused(issues));
        }
        let remotes = directives
            .iter()
            .filter(|(_, d)| d.name == "remote")
            .map(|(_, d)| Remote {
                host: d.args[0].clone(),
                port: d.args.get(1).and_then(|p| p.parse().ok()),
            })
            .collect();
        Ok(Profile {
            directives: directives.into_iter().map(|(_, d)| d).collect(),
            ca: ca.unwrap_or_default(),
            cert,
            key,
            tls_auth: block("tls-auth"),
            tls_crypt: block("tls-crypt"),
            auth,
            remotes,
        })
    }

    /// The clean profile: allowed directives and inline blocks, nothing else. With
    /// `include_key` false the private key is left out (for the on-disk copy).
    pub fn render(&self, include_key: bool) -> String {
        self.render_filtered(include_key, |_| true)
    }

    /// What OpenVPN itself is given: `auth-federate` is AWS's own word, which stock OpenVPN
    /// rejects; the helper runs that flow over the management interface instead.
    pub fn render_for_openvpn(&self) -> String {
        self.render_filtered(true, |d| d.name != "auth-federate")
    }

    fn render_filtered(&self, include_key: bool, keep: impl Fn(&Directive) -> bool) -> String {
        let mut out = String::from("# Sanitized by Postern: only allowed directives are kept.\n");
        for d in self.directives.iter().filter(|d| keep(d)) {
            out.push_str(&d.name);
            for a in &d.args {
                out.push(' ');
                out.push_str(&quote(a));
            }
            out.push('\n');
        }
        let mut block = |tag: &str, body: &Option<String>| {
            if let Some(b) = body {
                out.push_str(&format!("<{tag}>\n{b}</{tag}>\n"));
            }
        };
        block("ca", &Some(self.ca.clone()));
        block("cert", &self.cert);
        if include_key {
            block("key", &self.key);
        }
        block("tls-auth", &self.tls_auth);
        block("tls-crypt", &self.tls_crypt);
        out
    }

    /// Parses a profile Postern stored itself, which lacks its key by design.
    pub fn parse_stored(bytes: &[u8]) -> Result<Profile, ProfileError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ProfileError::Binary)?;
        Self::parse_text(text, false)
    }

    /// Puts a key (from the keychain) back into a profile stored without it.
    pub fn with_key(mut self, key: Option<String>) -> Self {
        self.key = key;
        self
    }
}

/// Arguments that would read a file or start something, even under an allowed name.
fn check_args(name: &str, args: &[String]) -> Option<String> {
    match name {
        "auth-user-pass" if !args.is_empty() => {
            Some("`auth-user-pass` with a file name reads credentials from disk; Postern asks for them instead".into())
        }
        "dev" if !args.first().is_some_and(|d| d.starts_with("tun")) => {
            Some("`dev` must be a tun device".into())
        }
        "remote-cert-tls" if args.first().map(String::as_str) != Some("server") => {
            Some("`remote-cert-tls` must be `server`".into())
        }
        _ if args.iter().any(|a| a.contains("[[INLINE]]") || a.contains('\0')) => {
            Some(format!("`{name}` has an argument Postern does not accept"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----";

    fn export(extra: &str) -> String {
        format!(
            "client\ndev tun\nproto udp\nremote asdf.cvpn-endpoint-0011abc.prod.clientvpn.eu-west-2.amazonaws.com 443\nremote-random-hostname\nresolv-retry infinite\nnobind\nremote-cert-tls server\ncipher AES-256-GCM\nverb 3\n<ca>\n{PEM}\n</ca>\n<cert>\n{PEM}\n</cert>\n<key>\n{KEY}\n</key>\nreneg-sec 0\n{extra}"
        )
    }

    fn refused(text: &str) -> Vec<ProfileIssue> {
        match Profile::parse(text.as_bytes()) {
            Err(ProfileError::Refused(i)) => i,
            other => panic!("expected refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_aws_export_parses_and_renders_cleanly() {
        let p = Profile::parse(export("").as_bytes()).unwrap();
        assert_eq!(p.auth, AuthMode::Certificate);
        assert_eq!(p.remotes[0].port, Some(443));
        assert!(p.key.as_deref().unwrap().contains("PRIVATE KEY"));
        let clean = p.render(false);
        assert!(
            !clean.contains("PRIVATE KEY"),
            "the on-disk copy has no key"
        );
        let again = Profile::parse(p.render(true).as_bytes()).unwrap();
        assert_eq!(again, p, "render(true) round-trips");
    }

    #[test]
    fn every_dangerous_directive_is_refused_with_its_line() {
        for (line, why) in [
            ("plugin /tmp/evil.so", "loads a code library"),
            ("up \"/bin/sh -c 'id > /tmp/x'\"", "runs a program"),
            ("down /x", "runs a program"),
            ("route-up /x", "runs a program"),
            ("ipchange /x", "runs a program"),
            ("tls-verify /x", "runs a program"),
            ("script-security 2", "allows running programs"),
            ("setenv IV_GUI_VER evil", "changes what OpenVPN"),
            ("management 127.0.0.1 7505", "control channel"),
            ("management-hold", "control channel"),
            ("log /etc/passwd", "writes files"),
            ("status /tmp/s", "writes files"),
            ("writepid /tmp/p", "writes files"),
            ("cd /", "file system"),
            ("config /etc/other.conf", "file system"),
            ("providers legacy", "cryptographic module"),
            ("engine dynamic", "cryptographic module"),
            ("pkcs11-providers /x.so", "cryptographic module"),
            ("ca /etc/ssl/ca.pem", "points to a file"),
            (
                "auth-user-pass /home/u/creds.txt",
                "reads credentials from disk",
            ),
            ("--up /x", "runs a program"),
        ] {
            let issues = refused(&export(line));
            assert_eq!(issues.len(), 1, "{line}: {issues:?}");
            assert_eq!(issues[0].line, export("").lines().count() + 1, "{line}");
            assert!(
                issues[0].message.contains(why),
                "{line}: {}",
                issues[0].message
            );
        }
    }

    #[test]
    fn inline_looking_tricks_are_caught() {
        // A directive smuggled after a fake end of the CA block.
        let sneaky = export("").replace("</ca>", "</ca>\nplugin /tmp/evil.so");
        assert!(refused(&sneaky)[0].message.contains("loads a code library"));
        // An unknown inline block, a tag inside a block, an unclosed block.
        assert!(
            refused(&export("<connection>\nremote x\n</connection>"))[0]
                .message
                .contains("<connection>")
        );
        let nested = export("").replace("<ca>\n", "<ca>\n<key>\n");
        assert!(
            refused(&nested)
                .iter()
                .any(|i| i.message.contains("a tag inside the <ca> block"))
        );
        let truncated = export("").replace("</key>\nreneg-sec 0\n", "");
        assert!(
            refused(&truncated)
                .iter()
                .any(|i| i.message.contains("never closed"))
        );
        // Duplicate blocks (the second could replace the first).
        assert!(
            refused(&export("<ca>\nx\n</ca>"))
                .iter()
                .any(|i| i.message.contains("a second <ca>"))
        );
    }

    #[test]
    fn missing_material_is_named() {
        let no_key = export("").replace(&format!("<key>\n{KEY}\n</key>\n"), "");
        assert!(
            refused(&no_key)
                .iter()
                .any(|i| i.message.contains("no <key> block"))
        );
        let no_ca = export("").replace(&format!("<ca>\n{PEM}\n</ca>\n"), "");
        assert!(
            refused(&no_ca)
                .iter()
                .any(|i| i.message.contains("no <ca> block"))
        );
        assert!(
            refused("verb 3\n")
                .iter()
                .any(|i| i.message.contains("no `remote` line"))
        );
    }

    #[test]
    fn saml_and_password_profiles_are_recognized() {
        let saml = export("auth-user-pass\nauth-federate\nauth-retry interact\n").replace(
            &format!("<cert>\n{PEM}\n</cert>\n<key>\n{KEY}\n</key>\n"),
            "",
        );
        assert_eq!(
            Profile::parse(saml.as_bytes()).unwrap().auth,
            AuthMode::Federated
        );
        let ad = export("auth-user-pass\n");
        assert_eq!(
            Profile::parse(ad.as_bytes()).unwrap().auth,
            AuthMode::UserPassword
        );
    }

    #[test]
    fn binary_and_huge_files_are_not_profiles() {
        assert_eq!(
            Profile::parse(b"\x7fELF\x02\x01\x01\0\0"),
            Err(ProfileError::Binary)
        );
        assert_eq!(
            Profile::parse(&[0xff, 0xfe, b'a']),
            Err(ProfileError::Binary)
        );
        assert_eq!(
            Profile::parse(&vec![b'#'; MAX_PROFILE_BYTES + 1]),
            Err(ProfileError::TooLarge)
        );
    }

    #[test]
    fn quoting_survives_the_round_trip() {
        assert_eq!(
            words(r#"static-challenge "Enter \"OTP\"" 1"#).unwrap(),
            vec!["static-challenge", "Enter \"OTP\"", "1"]
        );
        assert_eq!(quote("Enter \"OTP\""), r#""Enter \"OTP\"""#);
        assert!(words("remote \"unclosed").is_err());
        assert_eq!(words("# comment").unwrap(), Vec::<String>::new());
    }
}
