//! The organization policy: one admin-managed TOML file that says how Postern signs in, which
//! gates guard which credentials, and (rendered) what AWS itself enforces.
//!
//! Lookup order: `--policy FILE`, `$POSTERN_POLICY`, the file the OS's management channel names
//! ([`managed`]: Group Policy, a macOS configuration profile), the machine-wide location an MDM
//! or package writes ([`crate::paths::system_policy_file`]), then the user's config dir. Validation keeps going
//! after the first problem and reports every issue with line and column.

pub mod access;
#[cfg(target_os = "macos")]
mod account;
pub mod app;
mod countries;
pub mod country;
pub mod egress;
pub mod handler;
pub mod managed;
pub mod paths;
pub mod posture;
mod reader;
#[cfg(windows)]
pub mod registry;
pub mod render;
pub mod version;

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use reader::{Diagnostics, Table};
pub use reader::{Issue, line_column};

use postern_types::{ExitCode, Problem};

/// The environment variable that names a policy file, after `--policy`.
pub const POLICY_ENV: &str = "POSTERN_POLICY";

/// A validated organization policy.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgPolicy {
    pub identity_center: IdentityCenter,
    /// `[egress]`, when the organization checks where traffic leaves.
    pub egress: Option<egress::EgressSettings>,
    /// `[posture]`, when the organization checks devices.
    pub posture: Option<posture::PostureSettings>,
    /// `[[access]]`: the accounts and roles Postern may vend, and on which conditions.
    pub access: Vec<access::AccessRule>,
    /// `[handler]`: what the Client VPN client-connect handler allows.
    pub handler: Option<handler::HandlerRules>,
    /// `[app]`: what the organization decides about the desktop app (start at login, …).
    pub app: app::AppSettings,
}

impl OrgPolicy {
    pub fn access_rule(&self, account: &str, role: &str) -> Option<&access::AccessRule> {
        self.access
            .iter()
            .find(|r| r.account == account && r.role == role)
    }
}

/// `[identity_center]`: where employees sign in.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityCenter {
    /// The AWS access portal URL, e.g. `https://my-org.awsapps.com/start`.
    pub start_url: Url,
    /// The Identity Center instance's home region, e.g. `eu-west-1`.
    pub region: String,
    /// Lab-only override of the SSO-OIDC endpoint (`AWS_ENDPOINT_URL_SSO_OIDC` wins over it).
    pub oidc_endpoint: Option<Url>,
    /// Lab-only override of the portal endpoint (`AWS_ENDPOINT_URL_SSO` wins over it).
    pub portal_endpoint: Option<Url>,
}

/// Where the policy came from, for `whoami`, diagnostics and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub origin: PolicyOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyOrigin {
    CommandLine,
    Environment,
    /// Windows Group Policy: `HKLM\SOFTWARE\Policies\Postern`, value `PolicyFile`.
    GroupPolicy,
    /// A macOS configuration profile: the app's managed preferences, key `PolicyFile`.
    ManagedPreferences,
    System,
    User,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("No organization policy is configured (looked in: {}).", list_paths(.searched))]
    NotFound { searched: Vec<PathBuf> },
    #[error("The policy file {} could not be read: {source}.", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The policy file {} is not valid:\n{}", .path.display(), render_issues(.path, .issues))]
    Invalid { path: PathBuf, issues: Vec<Issue> },
    #[error("{0}.")]
    Managed(#[from] managed::ManagedError),
    #[error("The organization policy ({}) has no [{section}] section, so there is nothing to check against.", .path.display())]
    MissingSection {
        path: PathBuf,
        section: &'static str,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_issues(path: &Path, issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| {
            format!(
                "  {}:{}:{}: {}",
                path.display(),
                i.line,
                i.column,
                i.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Problem for PolicyError {
    fn exit_code(&self) -> ExitCode {
        match self {
            PolicyError::NotFound { .. } | PolicyError::MissingSection { .. } => {
                ExitCode::NotConfigured
            }
            _ => ExitCode::BadInput,
        }
    }

    fn next_step(&self) -> String {
        match self {
            PolicyError::NotFound { .. } => format!(
                "Ask your IT department to install Postern's policy, or pass one with --policy FILE or ${POLICY_ENV}."
            ),
            PolicyError::Unreadable { .. } => {
                "Check that the file exists and that you may read it.".into()
            }
            PolicyError::Managed(e) => match e.channel {
                managed::Channel::GroupPolicy => "Ask your IT department to fix Postern's Group Policy settings (the ADMX template writes them with the right types).".into(),
                managed::Channel::ManagedPreferences => "Ask your IT department to fix Postern's configuration profile (PolicyFile a string; StartAtLogin and ConnectOnStart true or false).".into(),
            },
            PolicyError::MissingSection { section, .. } => {
                format!("Ask your IT department to add [{section}] to Postern's policy.")
            }
            PolicyError::Invalid { .. } => {
                "Fix each line listed above (an admin-managed policy: tell your IT department), then run `postern policy validate FILE`.".into()
            }
        }
    }
}

impl fmt::Display for PolicyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyOrigin::CommandLine => "--policy",
            PolicyOrigin::Environment => POLICY_ENV,
            PolicyOrigin::GroupPolicy => "group-policy",
            PolicyOrigin::ManagedPreferences => "managed-preferences",
            PolicyOrigin::System => "system",
            PolicyOrigin::User => "user",
        })
    }
}

/// Finds the policy file in lookup order. A file named explicitly (flag, environment, or the
/// management channel) must exist; the system and user locations are only used when present.
pub fn locate(explicit: Option<&Path>) -> Result<PolicyFile, PolicyError> {
    locate_with(explicit, &managed::read()?)
}

/// [`locate`] with the management channel's values already read.
pub fn locate_with(
    explicit: Option<&Path>,
    managed: &managed::Managed,
) -> Result<PolicyFile, PolicyError> {
    if let Some(path) = explicit {
        return Ok(PolicyFile {
            path: path.to_path_buf(),
            origin: PolicyOrigin::CommandLine,
        });
    }
    if let Some(path) = std::env::var_os(POLICY_ENV).filter(|v| !v.is_empty()) {
        return Ok(PolicyFile {
            path: PathBuf::from(path),
            origin: PolicyOrigin::Environment,
        });
    }
    if let Some(file) = &managed.policy_file {
        return Ok(PolicyFile {
            path: file.value.clone(),
            origin: match file.channel {
                managed::Channel::GroupPolicy => PolicyOrigin::GroupPolicy,
                managed::Channel::ManagedPreferences => PolicyOrigin::ManagedPreferences,
            },
        });
    }
    let mut searched = vec![paths::system_policy_file()];
    searched.extend(paths::user_config_dir().map(|d| d.join("policy.toml")));
    for (path, origin) in searched
        .iter()
        .zip([PolicyOrigin::System, PolicyOrigin::User])
    {
        if path.is_file() {
            return Ok(PolicyFile {
                path: path.clone(),
                origin,
            });
        }
    }
    Err(PolicyError::NotFound { searched })
}

/// Locates, reads and validates the policy.
pub fn load(explicit: Option<&Path>) -> Result<(OrgPolicy, PolicyFile), PolicyError> {
    let file = locate(explicit)?;
    let policy = load_file(&file.path)?;
    Ok((policy, file))
}

/// Reads and validates one policy file.
pub fn load_file(path: &Path) -> Result<OrgPolicy, PolicyError> {
    let bytes = std::fs::read(path).map_err(|source| PolicyError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| PolicyError::Invalid {
        path: path.to_path_buf(),
        issues: vec![Issue {
            line: 1,
            column: 1,
            message: "the file is not UTF-8 text (is it the right file?)".into(),
        }],
    })?;
    parse(&text).map_err(|issues| PolicyError::Invalid {
        path: path.to_path_buf(),
        issues,
    })
}

/// Parses and validates policy text, returning every issue found.
pub fn parse(text: &str) -> Result<OrgPolicy, Vec<Issue>> {
    let mut d = Diagnostics::new(text);
    let (document, syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    for error in &syntax_errors {
        d.at(
            error.span().unwrap_or(0..0),
            format!("TOML syntax: {}", error.message().trim()),
        );
    }
    if !syntax_errors.is_empty() {
        return Err(d.issues);
    }
    let mut root = Table::root(&document);
    let identity_center = match root.table(&mut d, "identity_center") {
        Some(mut t) => {
            let section = read_identity_center(&mut t, &mut d);
            t.finish(&mut d);
            section
        }
        None => {
            if d.issues.is_empty() {
                d.at(0..0, "missing required section [identity_center]");
            }
            None
        }
    };
    let egress = root.table(&mut d, "egress").and_then(|mut t| {
        let section = egress::read(&mut t, &mut d);
        t.finish(&mut d);
        section
    });
    let posture = root.table(&mut d, "posture").and_then(|mut t| {
        let section = posture::read(&mut t, &mut d);
        t.finish(&mut d);
        section
    });
    let handler = root.table(&mut d, "handler").and_then(|mut t| {
        let section = handler::read(&mut t, &mut d);
        t.finish(&mut d);
        section
    });
    let app = root
        .table(&mut d, "app")
        .map(|mut t| {
            let section = app::read(&mut t, &mut d);
            t.finish(&mut d);
            section
        })
        .unwrap_or_default();
    let sections = (posture.is_some(), egress.is_some());
    let mut access: Vec<access::AccessRule> = Vec::new();
    for mut t in root.tables(&mut d, "access") {
        if let Some(rule) = access::read(&mut t, &mut d, sections) {
            if rule.scope_down.is_some() && egress.is_none() {
                d.at(
                    t.span(),
                    "`scope_down` needs [egress] nat_addresses for its session policy",
                );
            }
            if access
                .iter()
                .any(|r| r.account == rule.account && r.role == rule.role)
            {
                d.at(
                    t.span(),
                    format!(
                        "a second [[access]] entry for {} / {}",
                        rule.account, rule.role
                    ),
                );
            } else {
                access.push(rule);
            }
        }
        t.finish(&mut d);
    }
    root.finish(&mut d);
    match identity_center {
        Some(identity_center) if d.issues.is_empty() => Ok(OrgPolicy {
            identity_center,
            egress,
            posture,
            access,
            handler,
            app,
        }),
        _ => Err(d.issues),
    }
}

fn read_identity_center(t: &mut Table, d: &mut Diagnostics) -> Option<IdentityCenter> {
    let start_url = t.required_string(d, "start_url").and_then(|s| {
        match Url::parse(s.get_ref()) {
            Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Some(url),
            _ => {
                d.at(
                    s.span(),
                    format!(
                        "`identity_center.start_url` must be your AWS access portal's https:// address, e.g. https://my-org.awsapps.com/start (found \"{}\")",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    });
    let region = t.required_string(d, "region").and_then(|s| {
        if is_region_name(s.get_ref()) {
            Some(s.into_inner())
        } else {
            d.at(
                s.span(),
                format!(
                    "`identity_center.region` must be an AWS region name such as eu-west-1 (found \"{}\")",
                    s.get_ref()
                ),
            );
            None
        }
    });
    let oidc_endpoint = read_endpoint(t, d, "oidc_endpoint");
    let portal_endpoint = read_endpoint(t, d, "portal_endpoint");
    Some(IdentityCenter {
        start_url: start_url?,
        region: region?,
        oidc_endpoint,
        portal_endpoint,
    })
}

/// Endpoint overrides exist for the lab; plain HTTP is accepted only towards the loopback.
fn read_endpoint(t: &mut Table, d: &mut Diagnostics, key: &str) -> Option<Url> {
    let s = t.string(d, key)?;
    match Url::parse(s.get_ref()) {
        Ok(url) if url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url)) => {
            Some(url)
        }
        Ok(_) => {
            d.at(
                s.span(),
                format!(
                    "`{}.{key}` must be an https:// URL (plain http only to 127.0.0.1 or localhost)",
                    t.section_name()
                ),
            );
            None
        }
        Err(e) => {
            d.at(
                s.span(),
                format!("`{}.{key}` is not a URL: {e}", t.section_name()),
            );
            None
        }
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// "500ms", "3s", "5m", "1h", "2d".
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(std::time::Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(seconds))
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`, `us-isob-east-1`...
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every issue of a text, and all of them rendered as "line:column message" lines.
    fn issues_of(text: &str) -> (Vec<Issue>, String) {
        let issues = parse(text).unwrap_err();
        let all = issues
            .iter()
            .map(|i| format!("{}:{} {}", i.line, i.column, i.message))
            .collect::<Vec<_>>()
            .join("\n");
        (issues, all)
    }

    const GOOD: &str = r#"
[identity_center]
start_url = "https://my-org.awsapps.com/start"
region    = "eu-west-1"
"#;

    #[test]
    fn a_minimal_policy_parses() {
        let p = parse(GOOD).unwrap();
        assert_eq!(
            p.identity_center.start_url.as_str(),
            "https://my-org.awsapps.com/start"
        );
        assert_eq!(p.identity_center.region, "eu-west-1");
        assert_eq!(p.identity_center.oidc_endpoint, None);
    }

    #[test]
    fn every_issue_is_reported_with_its_location() {
        let text = r#"
[identity_center]
start_url = "ftp://nope"
region    = "europe"
oidc_endpoint = "http://idc.example.com"
startUrl = "typo"

[mystery]
x = 1
"#;
        let issues = parse(text).unwrap_err();
        let found: Vec<(usize, usize)> = issues.iter().map(|i| (i.line, i.column)).collect();
        assert!(found.contains(&(3, 13)), "{issues:?}");
        assert!(found.contains(&(4, 13)), "{issues:?}");
        assert!(found.contains(&(5, 17)), "{issues:?}");
        assert!(found.contains(&(6, 1)), "{issues:?}");
        assert!(found.contains(&(8, 2)), "{issues:?}");
        assert_eq!(issues.len(), 5, "{issues:?}");
        assert!(
            issues
                .iter()
                .any(|i| i.message.contains("unknown key `startUrl`"))
        );
    }

    #[test]
    fn the_app_section_sets_what_it_names_and_leaves_the_rest_to_the_person() {
        let p = parse(&format!("{GOOD}\n[app]\nstart_at_login = true\n")).unwrap();
        assert_eq!(p.app.start_at_login, Some(true));
        assert_eq!(p.app.connect_on_start, None);
        assert_eq!(parse(GOOD).unwrap().app, app::AppSettings::default());
        let (_, all) = issues_of(&format!(
            "{GOOD}\n[app]\nstart_at_login = \"yes\"\nconnect_on_login = true\n"
        ));
        assert!(
            all.contains("7:18 `app.start_at_login` must be true or false, found string"),
            "{all}"
        );
        assert!(
            all.contains("8:1 unknown key `connect_on_login` in [app]"),
            "{all}"
        );
    }

    #[test]
    fn syntax_errors_carry_a_location() {
        let issues = parse("[identity_center]\nstart_url = \"unterminated\n").unwrap_err();
        assert_eq!(issues[0].line, 2, "{issues:?}");
        assert!(issues[0].message.starts_with("TOML syntax"));
    }

    #[test]
    fn wrong_types_and_missing_keys_are_named() {
        let issues = parse("[identity_center]\nregion = 5\n").unwrap_err();
        let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("missing required key `identity_center.start_url`"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("`identity_center.region` must be a string, found integer"))
        );
    }

    #[test]
    fn an_empty_file_says_what_is_missing() {
        let issues = parse("").unwrap_err();
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("[identity_center]"));
    }

    #[test]
    fn loopback_http_endpoints_are_allowed_for_the_lab() {
        let text = format!(
            "{GOOD}oidc_endpoint = \"http://127.0.0.1:9000\"\nportal_endpoint = \"http://localhost:9000\"\n"
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.identity_center.oidc_endpoint.unwrap().port(), Some(9000));
    }

    #[test]
    fn egress_is_validated_with_locations() {
        let text = format!(
            "{GOOD}\n[egress]\necho_urls = [\"http://192.0.2.80/\", \"ftp://x\"]\nquorum = 5\nnat_addresses = [\"10.0.0.1\", \"203.0.113.300/32\", \"203.0.113.10\"]\nallowed_countries = [\"UK\"]\ngeoip_database = \"/nonexistent.mmdb\"\ntimeout = \"forever\"\n"
        );
        let issues = parse(&text).unwrap_err();
        let lines: Vec<usize> = issues.iter().map(|i| i.line).collect();
        let all = issues
            .iter()
            .map(|i| i.message.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("must use https://"), "{all}");
        assert!(
            all.contains("must be between 1 and the number of echo endpoints"),
            "{all}"
        );
        assert!(all.contains("\"10.0.0.1\" is a private address"), "{all}");
        assert!(all.contains("is not an IP address or CIDR"), "{all}");
        assert!(
            all.contains("\"UK\" is not an ISO 3166 country code"),
            "{all}"
        );
        assert!(all.contains("cannot be used"), "{all}");
        assert!(all.contains("`egress.timeout` must be a duration"), "{all}");
        assert!(lines.iter().all(|l| *l >= 7), "{issues:?}");
        assert_eq!(issues.len(), 8, "{all}");
    }

    #[test]
    fn a_lab_egress_section_parses() {
        let text = format!(
            "{GOOD}\n[egress]\necho_urls = [\"http://192.0.2.80/\"]\nallow_plain_http = true\nnat_addresses = [\"203.0.113.10\", \"2001:db8:1::/48\"]\n"
        );
        let e = parse(&text).unwrap().egress.unwrap();
        assert_eq!(e.quorum, 1);
        assert_eq!(e.nat_addresses[0].to_string(), "203.0.113.10/32");
        assert_eq!(e.timeout, std::time::Duration::from_secs(3));
    }

    #[test]
    fn posture_is_validated_with_locations() {
        let text = format!(
            "{GOOD}\n[posture]\ninterval = \"1s\"\n[posture.linux]\nmin_kernel = \"five\"\nrequire_firewall = \"yes\"\nunknown_blocks = [\"disk_encryption\", \"antivirus\"]\nrequired_processes = [\"/usr/bin/falcon\"]\ntypo = 1\n"
        );
        let (issues, all) = issues_of(&text);
        assert!(
            all.contains("7:12 `posture.interval` must be a duration"),
            "{all}"
        );
        assert!(
            all.contains("9:14 `posture.linux.min_kernel` is not a version"),
            "{all}"
        );
        assert!(
            all.contains("10:20 `posture.linux.require_firewall` must be true or false"),
            "{all}"
        );
        assert!(all.contains("unknown check \"antivirus\""), "{all}");
        assert!(all.contains("is not a process name"), "{all}");
        assert!(
            all.contains("unknown key `typo` in [posture.linux]"),
            "{all}"
        );
        assert_eq!(issues.len(), 6, "{all}");
    }

    #[test]
    fn a_posture_section_parses_per_os() {
        let text = format!(
            "{GOOD}\n[posture]\n[posture.linux]\nmin_kernel = \"5.15\"\nrequire_disk_encryption = true\nrequired_processes = [\"falcon-sensor\"]\nunknown_blocks = [\"disk_encryption\"]\n[posture.macos]\nmin_version = \"14.5 (a)\"\n[posture.windows]\nmin_build = \"10.0.19045.4000\"\n"
        );
        let p = parse(&text).unwrap().posture.unwrap();
        assert_eq!(p.interval, std::time::Duration::from_secs(300));
        assert!(p.linux.require_disk_encryption);
        assert_eq!(
            p.linux.unknown_blocks,
            vec![crate::posture::CheckName::DiskEncryption]
        );
        assert_eq!(p.macos.min_os_version.unwrap().to_string(), "14.5 (a)");
        assert_eq!(
            p.windows.min_os_version.unwrap().to_string(),
            "10.0.19045.4000"
        );
    }

    #[test]
    fn access_rules_are_validated_with_locations() {
        let text = format!(
            "{GOOD}\n[[access]]\naccount = \"1111\"\nrole = \"Dev ops\"\nrequire = [\"vpn\", \"egress\", \"magic\"]\nmax_duration = \"24h\"\nscope_down = \"arn:aws:iam::111122223333:user/x\"\nregion = \"Europe\"\n\n[[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\n\n[[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\n"
        );
        let (issues, all) = issues_of(&text);
        assert!(
            all.contains("7:11 `access.account` must be a 12-digit"),
            "{all}"
        );
        assert!(
            all.contains("8:8 `access.role` must be an IAM role name"),
            "{all}"
        );
        assert!(
            all.contains("the `egress` gate needs an [egress] section"),
            "{all}"
        );
        assert!(all.contains("unknown gate \"magic\""), "{all}");
        assert!(all.contains("`access.max_duration` must be from"), "{all}");
        assert!(
            all.contains("`access.scope_down` must be an IAM role ARN"),
            "{all}"
        );
        assert!(
            all.contains("12:10 `access.region` must be an AWS region name"),
            "{all}"
        );
        assert!(
            all.contains("18:1 a second [[access]] entry for 111122223333 / Developer"),
            "{all}"
        );
        assert_eq!(issues.len(), 8, "{all}");
    }

    #[test]
    fn a_duplicate_access_entry_is_named() {
        let text = format!(
            "{GOOD}\n[egress]\nnat_addresses = [\"203.0.113.10\"]\n[posture]\n[[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\n[[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\n"
        );
        let issues = parse(&text).unwrap_err();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(
            issues[0]
                .message
                .contains("a second [[access]] entry for 111122223333 / Developer")
        );
        assert_eq!(issues[0].line, 12, "the second entry's header");
    }

    #[test]
    fn access_rules_parse_with_defaults() {
        let text = format!(
            "{GOOD}\n[egress]\nnat_addresses = [\"203.0.113.10\"]\n[posture]\n[[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\nscope_down = \"arn:aws:iam::111122223333:role/PosternScoped\"\n[[access]]\naccount = \"444455556666\"\nrole = \"ReadOnly\"\nrequire = [\"vpn\"]\nmax_duration = \"15m\"\nregion = \"eu-central-1\"\n"
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.access.len(), 2);
        let dev = p.access_rule("111122223333", "Developer").unwrap();
        assert_eq!(
            dev.require,
            vec![
                access::Gate::Posture,
                access::Gate::Vpn,
                access::Gate::Egress
            ]
        );
        assert_eq!(dev.max_duration, std::time::Duration::from_secs(3600));
        assert!(dev.scope_down.is_some());
        assert_eq!(dev.region, None);
        assert_eq!(
            p.access_rule("444455556666", "ReadOnly")
                .and_then(|r| r.region.clone())
                .as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(
            p.access_rule("444455556666", "ReadOnly")
                .unwrap()
                .max_duration,
            std::time::Duration::from_secs(900)
        );
        assert!(p.access_rule("444455556666", "Admin").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("5m"),
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(
            parse_duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("1h"),
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("m5"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }

    #[test]
    fn region_names() {
        for ok in ["eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4"] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "europe",
            "eu-west",
            "EU-WEST-1",
            "eu--1",
            "eu-west-1a",
            "e-west-1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn lookup_prefers_the_command_line() {
        let f = locate(Some(Path::new("/x/p.toml"))).unwrap();
        assert_eq!(f.origin, PolicyOrigin::CommandLine);
    }

    #[test]
    fn a_non_utf8_file_is_rejected_not_crashed_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).unwrap();
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, PolicyError::Invalid { .. }));
        assert_eq!(err.exit_code(), ExitCode::BadInput);
    }
}
