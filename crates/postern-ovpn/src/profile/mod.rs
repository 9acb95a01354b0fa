//! AWS Client VPN profiles (`.ovpn`). A profile is code to OpenVPN: a `plugin` line is loaded and
//! an `up` script runs as root before any prompt. Postern parses the file, keeps only directives
//! on an allow-list, refuses everything else with the line and the reason, and re-emits a clean
//! profile. The privileged helper runs the same check again on what it receives.

mod material;
pub mod syntax;
#[cfg(test)]
mod tests;

use material::Material;

pub use postern_types::profile::{MAX_PROFILE_BYTES, ProfileError, ProfileIssue};

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

impl Directive {
    /// The directive as one config line, each word quoted so that OpenVPN reads it back as is.
    pub fn render(&self) -> String {
        std::iter::once(self.name.clone())
            .chain(self.args.iter().map(|a| syntax::quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An inline block being read: its tag, where it opened, its body lines, and the material it
/// must hold (`None` for a refused block, read only to find its end).
struct OpenBlock<'a> {
    tag: String,
    start: usize,
    body: Vec<&'a str>,
    material: Option<Material>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Remote {
    pub host: String,
    pub port: Option<u16>,
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

    /// Reads the profile line by line as OpenVPN would (see [`syntax`]), keeping only what
    /// Postern understands: allowed directives as words, inline blocks as parsed material.
    fn parse_text(text: &str, key_required: bool) -> Result<Profile, ProfileError> {
        let mut issues = Vec::new();
        let mut refuse = |line: usize, message: String| {
            issues.push(ProfileIssue {
                line,
                message: postern_types::text::escape_control(&message).into_owned(),
            })
        };
        let mut directives: Vec<(usize, Directive)> = Vec::new();
        let mut blocks: Vec<(String, String)> = Vec::new();
        let mut open: Option<OpenBlock> = None;
        let mut last_line = 1;

        for (n, line) in syntax::lines(text) {
            last_line = n;
            if let Err(e) = syntax::check_line(line) {
                refuse(n, e.describe());
                continue;
            }
            if let Some(block) = &mut open {
                let tag = &block.tag;
                if let Some(tail) = syntax::closing(line, tag) {
                    if !tail.trim().is_empty() {
                        refuse(
                            n,
                            format!(
                                "text after </{tag}> on the same line (OpenVPN would ignore it silently)"
                            ),
                        );
                    } else if let Some(material) = block.material {
                        match material::canonical(material, &block.body) {
                            Ok(canonical) => blocks.push((tag.clone(), canonical)),
                            Err(why) => refuse(block.start, format!("the <{tag}> block: {why}")),
                        }
                    }
                    open = None;
                } else if line.trim_start().starts_with('<') {
                    refuse(
                        n,
                        format!(
                            "a tag inside the <{tag}> block opened on line {}",
                            block.start
                        ),
                    );
                } else {
                    block.body.push(line);
                }
                continue;
            }
            let words = match syntax::tokens(line) {
                Ok(w) => w,
                Err(e) => {
                    refuse(n, e.describe());
                    continue;
                }
            };
            if let Some(tag) = syntax::opening_tag(&words) {
                if tag.starts_with('/') {
                    refuse(n, format!("closing tag <{tag}> without an opening tag"));
                    continue;
                }
                let material = if !INLINE.contains(&tag) {
                    refuse(n, format!("inline block <{tag}> is not allowed"));
                    None
                } else if blocks.iter().any(|(t, _)| t == tag) {
                    refuse(n, format!("a second <{tag}> block"));
                    None
                } else {
                    Material::of(tag)
                };
                // Even a refused block is read to its end, as OpenVPN reads it, so that its
                // body is never taken for directives.
                open = Some(OpenBlock {
                    tag: tag.to_string(),
                    start: n,
                    body: Vec::new(),
                    material,
                });
                continue;
            }
            let Some((first, args)) = words.split_first() else {
                continue;
            };
            let name = syntax::option_name(first);
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
            let directive = Directive {
                name: name.to_string(),
                args: args.to_vec(),
            };
            // What the helper writes must be one line to OpenVPN too.
            if syntax::check_line(&directive.render()).is_err() {
                refuse(n, syntax::SyntaxError::TooLong.describe());
                continue;
            }
            directives.push((n, directive));
        }
        if let Some(block) = open {
            refuse(
                block.start,
                format!(
                    "the <{}> block is never closed (is the file truncated?)",
                    block.tag
                ),
            );
        }
        let block = |tag: &str| {
            blocks
                .iter()
                .find(|(t, _)| t == tag)
                .map(|(_, b)| b.clone())
        };
        let has = |name: &str| directives.iter().any(|(_, d)| d.name == name);
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
        self.render_parts(self.directives.iter(), include_key)
    }

    /// What OpenVPN itself is given, written from the parsed structure: no line of the
    /// original file reaches OpenVPN as it was.
    pub fn render_for_openvpn(&self) -> String {
        self.render_parts(self.openvpn_directives(), true)
    }

    /// The directives OpenVPN is given: `auth-federate` is AWS's own word, which stock OpenVPN
    /// rejects; the helper runs that flow over the management interface instead.
    pub fn openvpn_directives(&self) -> impl Iterator<Item = &Directive> {
        self.directives.iter().filter(|d| d.name != "auth-federate")
    }

    /// The inline blocks present, by tag, in the order they are written, key included.
    pub fn blocks(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("ca", Some(&self.ca)),
            ("cert", self.cert.as_ref()),
            ("key", self.key.as_ref()),
            ("tls-auth", self.tls_auth.as_ref()),
            ("tls-crypt", self.tls_crypt.as_ref()),
        ]
        .into_iter()
        .filter_map(|(tag, body)| Some((tag, body?.as_str())))
    }

    fn render_parts<'a>(
        &'a self,
        directives: impl Iterator<Item = &'a Directive>,
        include_key: bool,
    ) -> String {
        let mut out = String::from("# Sanitized by Postern: only allowed directives are kept.\n");
        for d in directives {
            out.push_str(&d.render());
            out.push('\n');
        }
        for (tag, body) in self.blocks().filter(|(t, _)| include_key || *t != "key") {
            out.push_str(&format!("<{tag}>\n{body}</{tag}>\n"));
        }
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
