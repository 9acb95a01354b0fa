//! Removes secrets and personal data from text before it is written to a log or put in a bundle.
//!
//! Secrets (keys, tokens, assertions) are replaced by `<redacted:KIND>`. Personal data (e-mail
//! addresses, user names, home directories) is replaced by a salted hash, `<KIND:1a2b3c4d>`, so
//! the helpdesk can still see that two lines name the same person without learning who.
//!
//! Kept on purpose: 12-digit AWS account ids and ARNs (the helpdesk needs to know which account and
//! role failed, and AWS does not treat account ids as secret), IP addresses (the egress proof is
//! about them), role names, hex digests such as commit ids or SHA-256 hashes (lower-case hex is
//! never a credential format here).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What was found; the manifest counts each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedactionKind {
    /// PEM private keys and `.ovpn` `<key>`, `<tls-crypt>`, `<tls-crypt-v2>`, `<tls-auth>` blocks.
    PrivateKey,
    /// `SAMLResponse` values and the response half of a `CRV1::` answer.
    SamlResponse,
    /// JSON Web Tokens (`eyJ…`), wherever they appear.
    Jwt,
    /// `Authorization: Bearer …` and `Bearer …`.
    BearerToken,
    /// OAuth values by name: access, refresh and id tokens, device and authorization codes,
    /// client secrets, PKCE verifiers.
    OauthToken,
    /// `AKIA…`, `ASIA…` access key ids.
    AwsAccessKeyId,
    /// 40-character secret access keys, by name or by shape.
    AwsSecretKey,
    /// STS session tokens, by name or by their known prefixes.
    AwsSessionToken,
    /// Long mixed-case opaque strings that look like generated credentials.
    OpaqueToken,
    /// The `user:password` part of a URL (`https://user:pass@10.0.0.5/`).
    UrlCredentials,
    /// `Authorization: Basic …` (and `Proxy-Authorization`).
    BasicAuth,
    /// Other services' tokens by their documented prefixes: GitHub (`ghp_`, `github_pat_`…),
    /// Slack (`xoxb-`, `xoxp-`…), Stripe (`sk_live_`, `rk_test_`…), Google API keys (`AIza`),
    /// GitLab (`glpat-`), npm (`npm_`).
    ServiceToken,
    /// Values named password, passwd, pwd, passphrase, secret, API key, auth or private token.
    NamedSecret,
    Email,
    /// The user part of a home directory path (`/home/alice`, `C:\Users\alice`).
    HomePath,
    /// The signed-in user's account name, elsewhere in the text.
    UserName,
}

impl RedactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateKey => "private-key",
            Self::SamlResponse => "saml-response",
            Self::Jwt => "jwt",
            Self::BearerToken => "bearer-token",
            Self::OauthToken => "oauth-token",
            Self::AwsAccessKeyId => "aws-access-key-id",
            Self::AwsSecretKey => "aws-secret-key",
            Self::AwsSessionToken => "aws-session-token",
            Self::OpaqueToken => "opaque-token",
            Self::UrlCredentials => "url-credentials",
            Self::BasicAuth => "basic-auth",
            Self::ServiceToken => "service-token",
            Self::NamedSecret => "named-secret",
            Self::Email => "email",
            Self::HomePath => "home-path",
            Self::UserName => "user-name",
        }
    }
}

/// How many of each kind were removed.
pub type RedactionCounts = BTreeMap<RedactionKind, u64>;

/// Account names too common to be personal: replacing them would garble ordinary words.
const SYSTEM_ACCOUNTS: &[&str] = &[
    "root",
    "admin",
    "administrator",
    "user",
    "runner",
    "ubuntu",
    "debian",
    "system",
    "nobody",
    "postern",
];

#[allow(
    clippy::expect_used,
    reason = "the patterns are constants, checked by the tests"
)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("redaction patterns are constants")
}

/// One character of a token, as it may appear in JSON: plain, or `/`, `+`, `=` escaped (`\/`,
/// `\u002f`, `\u002b`, `\u003d`), with the backslash doubled when the JSON was itself quoted.
fn token_char(plain: &str) -> String {
    format!(r"(?:[{plain}]|\\{{1,3}}/|\\{{1,3}}u00(?:2[bBfF]|3[dD]))")
}

/// A name, then `=` or `:` (with the quotes JSON, YAML and headers put around them).
const NAMED: &str = r#"(\\?["']?\s*[:=]\s*\\?["']?)"#;

static PEM_PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?s)-----BEGIN ([A-Z0-9 ]*PRIVATE KEY|OpenVPN Static key V1)-----.*?(-----END ([A-Z0-9 ]*PRIVATE KEY|OpenVPN Static key V1)-----|\z)",
    )
});
static OVPN_SECRET_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?s)<(key|tls-crypt|tls-crypt-v2|tls-auth|secret)>.*?(</(key|tls-crypt|tls-crypt-v2|tls-auth|secret)>|\z)",
    )
});
static SAML_FORM: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(SAMLResponse\\?["']?\s*[=:]\s*\\?["']?)([A-Za-z0-9+/=%_.-]+)"#));
static CRV1_ANSWER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(CRV1::[A-Za-z0-9+/=_-]*::)([^\s\x22'<\\]+)"));
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"));
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(\bbearer\s+)({}{{8,}})",
        token_char("A-Za-z0-9._~+/=-")
    ))
});
/// No word boundary before the header name: in JSON the line before ends in a literal `\n`.
static BASIC_AUTH: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?i)((?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*\\?["']?[ \t]*basic[ \t]+)({}+)"#,
        token_char("A-Za-z0-9+/=._~-")
    ))
});
/// `scheme://user:password@`, the scheme's slashes possibly JSON-escaped; the password may hold
/// `@`, so the last one before the path ends it.
static URL_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?i)(\b[a-z][a-z0-9+.-]*:(?:\\{0,3}/){2})([^\s/\\:@"'<>]+:[^\s/\\"'<>]*)@"#)
});
/// Documented prefixes of other services' tokens; the leading character (or line start) is kept.
static SERVICE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(^|[^A-Za-z0-9])(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|npm_[A-Za-z0-9]{36})",
    )
});
static OAUTH_BY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)((?:access|refresh|id)_?token|device_?code|client_?secret|code_?verifier|authorization_?code|[?&]code){NAMED}({}{{6,}})",
        token_char("A-Za-z0-9._~+/=:-")
    ))
});
static SECRET_KEY_BY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)((?:aws_)?secret_?access_?key|secret_?key){NAMED}({}{{20,}})",
        token_char("A-Za-z0-9/+=")
    ))
});
static SESSION_TOKEN_BY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)((?:aws_)?session_?token|x-amz-security-token|security_?token){NAMED}({}{{16,}})",
        token_char("A-Za-z0-9/+=%")
    ))
});
/// Any name ending in one of the secret words (`DB_PASSWORD`, `x-api-key`, `AWS_SECRET`), then
/// the value: quoted (to its closing quote, JSON escapes included) or bare (to a space, quote or
/// separator). A `:` needs a space or a quote around it, so `>PASSWORD:Need 'Auth'` (OpenVPN's
/// prompt) is not a value.
static NAMED_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?i)\b[a-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|api[_-]?key|auth[_-]?token|private[_-]?token)"#,
        r#"(?:\\?["'][ \t]*[:=][ \t]*|[ \t]*=[ \t]*|[ \t]*:[ \t]+)"#,
        r#"(?:\\+"(?P<escaped>(?:[^"\\]|\\[^"])*)\\+"|"(?P<double>(?:[^"\\]|\\.)*)"|'(?P<single>[^']*)'|(?P<bare>[^\s"'&,;<>\\]+))"#,
    ))
});
/// OpenVPN's management command `password "Auth" "…"`.
static OPENVPN_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\bpassword[ \t]+"[^"]*"[ \t]+"(?P<value>(?:[^"\\]|\\.)*)""#));
static ACCESS_KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"));
/// Candidates for secrets recognised by shape; each is split and classified by [`shaped`].
static TOKEN_SHAPED: LazyLock<Regex> =
    LazyLock::new(|| re(&format!("{}{{40,}}", token_char("A-Za-z0-9/+=_-"))));
/// One character of a [`TOKEN_SHAPED`] run, JSON escapes whole.
static TOKEN_UNIT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\\+/|\\+u00(?:2[bB]|2[fF]|3[dD])|[\s\S]"));
/// What a placeholder of ours looks like; a value that is one was redacted already.
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| re(r"^<(?:redacted:[a-z-]+|user:[0-9a-f]{8}|email:[0-9a-f]{8})>$"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));
static HOME_PATH: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(/home/|/Users/|[A-Za-z]:\\+Users\\+)([^/\\\s"'<>:;,]+)"#));

/// STS session tokens begin with these (base64 of the token's version header).
const SESSION_TOKEN_PREFIXES: &[&str] = &["IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz"];

/// Replaces secrets and personal data; counts what it removed.
#[derive(Debug, Clone)]
pub struct Redactor {
    salt: Vec<u8>,
    /// One whole-word, case-insensitive pattern per user name, longest name first.
    user_names: Vec<Regex>,
}

impl Redactor {
    /// `salt` makes the hashes of personal data unguessable by dictionary; `user_names` are the
    /// account names to hide (system account names are ignored, see [`SYSTEM_ACCOUNTS`]).
    pub fn new(salt: impl Into<Vec<u8>>, user_names: impl IntoIterator<Item = String>) -> Self {
        let mut user_names: Vec<String> = user_names
            .into_iter()
            .filter(|n| {
                n.len() >= 3
                    && !SYSTEM_ACCOUNTS.contains(&n.to_ascii_lowercase().as_str())
                    && n.chars().all(|c| c.is_alphanumeric() || "._-".contains(c))
            })
            .collect();
        // Longest first, so "alice.smith" is replaced before "alice".
        user_names.sort();
        user_names.dedup();
        user_names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Self {
            salt: salt.into(),
            user_names: user_names
                .iter()
                .map(|n| re(&format!(r"(?i)\b{}\b", regex::escape(n))))
                .collect(),
        }
    }

    /// The current OS account, hidden with this salt.
    pub fn for_this_user(salt: impl Into<Vec<u8>>) -> Self {
        let names = ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .collect::<Vec<_>>();
        Self::new(salt, names)
    }

    fn hash(&self, kind: RedactionKind, value: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(value.to_lowercase().as_bytes());
        let tag = match kind {
            RedactionKind::Email => "email",
            _ => "user",
        };
        format!("<{tag}:{}>", &hex::encode(h.finalize())[..8])
    }

    /// Returns the text with every finding replaced, adding what it found to `counts`.
    pub fn redact(&self, text: &str, counts: &mut RedactionCounts) -> String {
        use RedactionKind as K;
        let mut out = text.to_owned();
        let mut count = |kind: K, n: usize| {
            if n > 0 {
                *counts.entry(kind).or_default() += n as u64;
            }
        };
        // Order matters: whole blocks first, then named values, then shapes, then personal data.
        let (s, n) = replace(&out, &PEM_PRIVATE_KEY, |_| {
            "<redacted:private-key>".to_string()
        });
        out = s;
        count(K::PrivateKey, n);
        // The block's tags stay, so the helpdesk sees which parts a profile had.
        let (s, n) = replace(&out, &OVPN_SECRET_BLOCK, |c| {
            let redacted = format!("<{0}><redacted:private-key></{0}>", &c[1]);
            (c[0] != redacted).then_some(redacted)
        });
        out = s;
        count(K::PrivateKey, n);
        for (kind, pattern) in [
            (K::SamlResponse, &*SAML_FORM),
            (K::SamlResponse, &*CRV1_ANSWER),
            (K::BearerToken, &*BEARER),
            (K::BasicAuth, &*BASIC_AUTH),
            (K::UrlCredentials, &*URL_CREDENTIALS),
        ] {
            let (s, n) = replace(&out, pattern, |c| {
                let tail = &c[0][c[1].len() + c[2].len()..];
                format!("{}<redacted:{}>{tail}", &c[1], kind.as_str())
            });
            out = s;
            count(kind, n);
        }
        let (s, n) = replace(&out, &JWT, |_| "<redacted:jwt>".to_string());
        out = s;
        count(K::Jwt, n);
        let (s, n) = replace(&out, &SERVICE_TOKEN, |c| {
            format!("{}<redacted:{}>", &c[1], K::ServiceToken.as_str())
        });
        out = s;
        count(K::ServiceToken, n);
        for (kind, pattern) in [
            (K::OauthToken, &*OAUTH_BY_NAME),
            (K::AwsSecretKey, &*SECRET_KEY_BY_NAME),
            (K::AwsSessionToken, &*SESSION_TOKEN_BY_NAME),
        ] {
            let (s, n) = replace(&out, pattern, |c| {
                format!("{}{}<redacted:{}>", &c[1], &c[2], kind.as_str())
            });
            out = s;
            count(kind, n);
        }
        // A named value counts as what its shape says it is (an AWS secret key under
        // `AWS_SECRET=`), else as a named secret.
        let mut named = RedactionCounts::new();
        for (pattern, groups) in [
            (&*NAMED_SECRET, &["escaped", "double", "single", "bare"][..]),
            (&*OPENVPN_PASSWORD, &["value"][..]),
        ] {
            out = pattern
                .replace_all(&out, |c: &Captures| {
                    let Some(value) = groups.iter().find_map(|g| c.name(g)) else {
                        return c[0].to_owned();
                    };
                    let v = value.as_str();
                    if v.is_empty() || PLACEHOLDER.is_match(v) || v.contains("<redacted:") {
                        return c[0].to_owned();
                    }
                    let kind = shape(&unescape(v)).unwrap_or(K::NamedSecret);
                    *named.entry(kind).or_default() += 1;
                    let whole = c.get(0).map_or(0, |m| m.start());
                    let (start, end) = (value.start() - whole, value.end() - whole);
                    format!(
                        "{}<redacted:{}>{}",
                        &c[0][..start],
                        kind.as_str(),
                        &c[0][end..]
                    )
                })
                .into_owned();
        }
        for (kind, n) in named {
            count(kind, n as usize);
        }
        let (s, n) = replace(&out, &ACCESS_KEY_ID, |_| {
            "<redacted:aws-access-key-id>".to_string()
        });
        out = s;
        count(K::AwsAccessKeyId, n);
        let mut by_shape = RedactionCounts::new();
        out = TOKEN_SHAPED
            .replace_all(&out, |c: &Captures| shaped(&c[0], &mut by_shape))
            .into_owned();
        for (kind, n) in by_shape {
            count(kind, n as usize);
        }
        let (s, n) = replace(&out, &EMAIL, |c| self.hash(K::Email, &c[0]));
        out = s;
        count(K::Email, n);
        let (s, n) = replace(&out, &HOME_PATH, |c| {
            format!("{}{}", &c[1], self.hash(K::HomePath, &c[2]))
        });
        out = s;
        count(K::HomePath, n);
        for name in &self.user_names {
            let (s, n) = replace(&out, name, |c| self.hash(K::UserName, &c[0]));
            out = s;
            count(K::UserName, n);
        }
        out
    }

    /// Redacts text and returns it with what was found.
    pub fn redact_counted(&self, text: &str) -> (String, RedactionCounts) {
        let mut counts = RedactionCounts::new();
        let out = self.redact(text, &mut counts);
        (out, counts)
    }
}

/// Replaces every match for which `with` gives a replacement, and counts those.
fn replace<R: Into<Option<String>>>(
    text: &str,
    pattern: &Regex,
    with: impl Fn(&Captures) -> R,
) -> (String, usize) {
    let mut n = 0;
    let out = pattern.replace_all(text, |c: &Captures| match with(c).into() {
        Some(replacement) => {
            n += 1;
            replacement
        }
        None => c[0].to_owned(),
    });
    (out.into_owned(), n)
}

/// The character a [`TOKEN_UNIT`] stands for: JSON's escapes of `/`, `+`, `=` decoded.
fn unit_char(unit: &str) -> char {
    let escape = unit.trim_start_matches('\\');
    if escape.len() == unit.len() {
        return unit.chars().next().unwrap_or(' ');
    }
    match escape.to_ascii_lowercase().as_str() {
        "/" | "u002f" => '/',
        "u002b" => '+',
        "u003d" => '=',
        _ => '\\',
    }
}

fn unescape(text: &str) -> String {
    TOKEN_UNIT
        .find_iter(text)
        .map(|m| unit_char(m.as_str()))
        .collect()
}

/// Redacts the secrets in one run of token characters. The run is cut after each `=` that ends
/// a name or padding (`AWS_SECRET=…`, `secret=…`), and each piece is classified on its decoded
/// text; a piece too short to be anything by itself is also cut at `_` and `-`, so a key glued
/// to a name with an underscore (`x_…`) is found too.
fn shaped(run: &str, counts: &mut RedactionCounts) -> String {
    let units: Vec<(&str, char)> = TOKEN_UNIT
        .find_iter(run)
        .map(|m| (m.as_str(), unit_char(m.as_str())))
        .collect();
    let mut out = String::with_capacity(run.len());
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        while end < units.len() && units[end].1 != '=' {
            end += 1;
        }
        while end < units.len() && units[end].1 == '=' {
            end += 1;
        }
        out.push_str(&shaped_piece(&units[start..end], counts));
        start = end;
    }
    out
}

/// One piece of a run: classified without its trailing `=` (padding, or the end of a name).
fn shaped_piece(units: &[(&str, char)], counts: &mut RedactionCounts) -> String {
    let body_len = units.iter().rposition(|u| u.1 != '=').map_or(0, |i| i + 1);
    let (body, padding) = units.split_at(body_len);
    let decoded: String = body.iter().map(|u| u.1).collect();
    if let Some(kind) = shape(&decoded) {
        *counts.entry(kind).or_default() += 1;
        return format!("<redacted:{}>", kind.as_str());
    }
    let mut out = String::with_capacity(units.len());
    for part in body.split_inclusive(|u| matches!(u.1, '_' | '-')) {
        let (body, separator) = match part.split_last() {
            Some((last, body)) if matches!(last.1, '_' | '-') => (body, Some(last.0)),
            _ => (part, None),
        };
        let text: String = body.iter().map(|u| u.1).collect();
        if shape(&text) == Some(RedactionKind::AwsSecretKey) {
            *counts.entry(RedactionKind::AwsSecretKey).or_default() += 1;
            out.push_str("<redacted:aws-secret-key>");
        } else {
            out.extend(body.iter().map(|u| u.0));
        }
        out.extend(separator);
    }
    out.extend(padding.iter().map(|u| u.0));
    out
}

/// Classifies a long unbroken run of token characters: a session token by prefix, a secret key by
/// its exact 40-character mixed-case shape, another generated credential when it mixes upper
/// case, lower case and digits over 64 characters or more. Hex digests stay.
fn shape(candidate: &str) -> Option<RedactionKind> {
    let has = |f: fn(char) -> bool| candidate.chars().any(f);
    let mixed = has(|c| c.is_ascii_uppercase())
        && has(|c| c.is_ascii_lowercase())
        && has(|c| c.is_ascii_digit());
    let base64 = candidate
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '+'));
    if SESSION_TOKEN_PREFIXES
        .iter()
        .any(|p| candidate.starts_with(p))
        && candidate.len() >= 100
    {
        Some(RedactionKind::AwsSessionToken)
    } else if candidate.len() == 40 && mixed && base64 {
        Some(RedactionKind::AwsSecretKey)
    } else if candidate.len() >= 64 && mixed {
        Some(RedactionKind::OpaqueToken)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
