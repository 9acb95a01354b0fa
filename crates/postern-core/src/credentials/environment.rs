//! Credentials as environment variables, for `postern exec` and `postern env`: the variables
//! every AWS SDK reads, the ones that would override them (cleared), and the lines each shell
//! needs to set or unset them.

use time::format_description::well_known::Rfc3339;

use super::VendedCredentials;

/// Variables that would make an SDK use another profile or another source than the ones given.
pub const CLEARED_WITH_KEYS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// With the local endpoint, static keys in the environment would win over it (the SDKs read
/// environment keys before the container provider), so they go too.
pub const CLEARED_WITH_ENDPOINT: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// Every variable `postern env` may set, for `--unset`.
pub const ALL_SET: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// The role's keys as `(name, value)` pairs, region last when the policy names one.
pub fn key_variables(c: &VendedCredentials, region: Option<&str>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            c.secret_access_key.expose().to_string(),
        ),
        ("AWS_SESSION_TOKEN", c.session_token.expose().to_string()),
        (
            "AWS_CREDENTIAL_EXPIRATION",
            c.expiration
                .replace_nanosecond(0)
                .unwrap_or(c.expiration)
                .format(&Rfc3339)
                .unwrap_or_default(),
        ),
    ];
    if let Some(region) = region {
        vars.push(("AWS_REGION", region.to_string()));
        vars.push(("AWS_DEFAULT_REGION", region.to_string()));
    }
    vars
}

/// The local endpoint's variables (the container-credentials protocol).
pub fn endpoint_variables(url: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.to_string()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.to_string()),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Posix,
    Fish,
    PowerShell,
}

impl Shell {
    /// `bash`, `zsh`, `sh` and `dash` share one syntax.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let name = name.strip_suffix(".exe").unwrap_or(name);
        match name {
            "bash" | "zsh" | "sh" | "dash" | "ksh" => Some(Shell::Posix),
            "fish" => Some(Shell::Fish),
            "powershell" | "pwsh" => Some(Shell::PowerShell),
            _ => None,
        }
    }

    /// The line that sets `name` to `value`, quoted so no character of it is interpreted.
    pub fn set(self, name: &str, value: &str) -> String {
        match self {
            Shell::Posix => format!("export {name}='{}'", value.replace('\'', r"'\''")),
            Shell::Fish => format!(
                "set -gx {name} '{}'",
                value.replace('\\', r"\\").replace('\'', r"\'")
            ),
            Shell::PowerShell => format!("$Env:{name} = '{}'", value.replace('\'', "''")),
        }
    }

    pub fn unset(self, name: &str) -> String {
        match self {
            Shell::Posix => format!("unset {name}"),
            Shell::Fish => format!("set -e {name}"),
            Shell::PowerShell => {
                format!("Remove-Item Env:{name} -ErrorAction SilentlyContinue")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> VendedCredentials {
        crate::credentials::example(
            "se'cr\\et $HOME `id`",
            "t0k3n",
            time::macros::datetime!(2026-12-04 10:00:00.5 UTC),
        )
    }

    #[test]
    fn the_variables_are_the_ones_sdks_read_and_the_region_only_when_known() {
        let vars = key_variables(&credentials(), None);
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_CREDENTIAL_EXPIRATION"
            ]
        );
        assert_eq!(vars[3].1, "2026-12-04T10:00:00Z");
        let with_region = key_variables(&credentials(), Some("eu-central-1"));
        assert_eq!(with_region[4], ("AWS_REGION", "eu-central-1".into()));
        assert_eq!(
            with_region[5],
            ("AWS_DEFAULT_REGION", "eu-central-1".into())
        );
        for name in ALL_SET {
            assert!(
                !CLEARED_WITH_KEYS.contains(name),
                "{name} is set, not cleared"
            );
        }
    }

    #[test]
    fn shell_names_are_recognised() {
        assert_eq!(Shell::parse("/bin/bash"), Some(Shell::Posix));
        assert_eq!(Shell::parse("/usr/bin/zsh"), Some(Shell::Posix));
        assert_eq!(Shell::parse("fish"), Some(Shell::Fish));
        assert_eq!(
            Shell::parse(r"C:\Program Files\PowerShell\7\pwsh.exe"),
            Some(Shell::PowerShell)
        );
        assert_eq!(Shell::parse("tcsh"), None);
    }

    /// The real shell reads the lines back to exactly the value, whatever it holds.
    #[cfg(unix)]
    fn read_back(program: &str, args: &[&str], script: String) -> Option<String> {
        let out = std::process::Command::new(program)
            .args(args)
            .arg(script)
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[cfg(unix)]
    #[test]
    fn posix_lines_set_and_unset_the_exact_values_in_a_real_shell() {
        let secret = credentials().secret_access_key.expose().to_string();
        let shell = Shell::Posix;
        let script = format!(
            "{}\nprintf '%s' \"$AWS_SECRET_ACCESS_KEY\"\n{}\nprintf '|%s' \"${{AWS_SECRET_ACCESS_KEY-gone}}\"",
            shell.set("AWS_SECRET_ACCESS_KEY", &secret),
            shell.unset("AWS_SECRET_ACCESS_KEY")
        );
        for sh in ["sh", "bash"] {
            let out =
                read_back(sh, &["-c"], script.clone()).expect("a POSIX shell is on every Unix");
            assert_eq!(out, format!("{secret}|gone"), "{sh}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn fish_and_powershell_lines_escape_their_own_quotes() {
        // fish is installed by the setup script; PowerShell is not in Debian, so its line is
        // checked against its quoting rule (and by a real pwsh where there is one).
        let value = "a'b\\c";
        assert_eq!(Shell::Fish.set("X", value), r"set -gx X 'a\'b\\c'");
        assert_eq!(Shell::PowerShell.set("X", value), r"$Env:X = 'a''b\c'");
        let out = read_back(
            "fish",
            &["-c"],
            format!("{}; printf '%s' $X", Shell::Fish.set("X", value)),
        )
        .expect("fish is installed (scripts/setup)");
        assert_eq!(out, value);
        if let Some(out) = read_back(
            "pwsh",
            &["-NoProfile", "-Command"],
            format!(
                "{}; [Console]::Out.Write($Env:X)",
                Shell::PowerShell.set("X", value)
            ),
        ) {
            assert_eq!(out, value);
        }
    }
}
