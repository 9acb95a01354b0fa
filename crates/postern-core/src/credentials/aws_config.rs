//! `postern aws-config install`: one `[profile …]` per allowed role in `~/.aws/config`, each
//! calling `postern-credentials` (or `postern credentials` where that is not installed). Every
//! other section and comment stays byte for byte; Postern's sections carry a marker so they are
//! updated in place, and removed once their role is no longer wanted; a same-named section the
//! user wrote is never overwritten; the file is backed up before any change and written
//! atomically; a file that is malformed or read-only is left untouched.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::problem::{ExitCode, Problem};

pub const MARKER: &str =
    "# Managed by Postern: `postern aws-config install` rewrites this section.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedProfile {
    pub name: String,
    pub account: String,
    pub role: String,
    /// The role's region (`[[access]] region`), written as the profile's `region`.
    pub region: Option<String>,
}

impl ManagedProfile {
    pub fn new(account: &str, role: &str) -> Self {
        Self {
            name: format!("postern-{account}-{role}"),
            account: account.into(),
            role: role.into(),
            region: None,
        }
    }

    pub fn with_region(mut self, region: Option<&str>) -> Self {
        self.region = region.map(str::to_string);
        self
    }

    fn section(&self, program: &CredentialProgram) -> String {
        let region = self
            .region
            .as_ref()
            .map(|r| format!("region = {r}\n"))
            .unwrap_or_default();
        format!(
            "[profile {}]\n{MARKER}\ncredential_process = {} --account {} --role {}\n{region}",
            self.name,
            program.command_line(),
            self.account,
            self.role
        )
    }
}

/// What a profile's `credential_process` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialProgram {
    /// `postern-credentials`: made for this, it starts in a fraction of the CLI's time, and AWS
    /// tools start it for every call.
    Dedicated(PathBuf),
    /// `postern credentials`, where the dedicated program is not installed beside the CLI.
    Subcommand(PathBuf),
}

impl CredentialProgram {
    /// For the `postern` at `cli`: the dedicated program if it is installed beside it.
    pub fn beside(cli: &Path) -> Self {
        let name = format!("postern-credentials{}", std::env::consts::EXE_SUFFIX);
        match cli.parent().map(|dir| dir.join(name)) {
            Some(dedicated) if dedicated.is_file() => Self::Dedicated(dedicated),
            _ => Self::Subcommand(cli.to_path_buf()),
        }
    }

    fn command_line(&self) -> String {
        let (path, subcommand) = match self {
            Self::Dedicated(path) => (path, ""),
            Self::Subcommand(path) => (path, " credentials"),
        };
        let path = path.display().to_string();
        // The SDKs split the command line themselves: a path with spaces (C:\Program Files)
        // is one word only in quotes.
        if path.contains(char::is_whitespace) {
            format!("\"{path}\"{subcommand}")
        } else {
            format!("{path}{subcommand}")
        }
    }
}

/// The account and role of the Postern profile `name` in the config text, if Postern wrote it
/// (a profile the user wrote is never taken for one of Postern's).
pub fn find_managed(text: &str, name: &str) -> Option<ManagedProfile> {
    let section = sections("", text)
        .ok()?
        .into_iter()
        .find(|s| s.managed && s.name.as_deref() == Some(name))?;
    let mut account = None;
    let mut role = None;
    let mut region = None;
    for line in text[section.start..section.end].lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "credential_process" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                for pair in words.windows(2) {
                    match pair[0] {
                        "--account" => account = Some(pair[1].to_string()),
                        "--role" => role = Some(pair[1].to_string()),
                        _ => {}
                    }
                }
            }
            "region" => region = Some(value.trim().to_string()),
            _ => {}
        }
    }
    Some(ManagedProfile {
        name: name.into(),
        account: account?,
        role: role?,
        region,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error("{path} line {line} is not valid AWS config syntax: {detail}.")]
    Malformed {
        path: String,
        line: usize,
        detail: String,
    },
    #[error("{path} already has a [profile {name}] that Postern did not write.")]
    Conflict { path: String, name: String },
    #[error("{path} is read-only.")]
    ReadOnly { path: String },
    #[error("{path} could not be written ({detail}).")]
    Io { path: String, detail: String },
}

impl Problem for AwsConfigError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::BadInput
    }

    fn next_step(&self) -> String {
        match self {
            AwsConfigError::Malformed { .. } => "Fix that line (or move the file away), then run `postern aws-config install` again; nothing was changed.".into(),
            AwsConfigError::Conflict { name, .. } => format!("Rename or remove your own [profile {name}], then run `postern aws-config install` again; nothing was changed."),
            AwsConfigError::ReadOnly { .. } => "Make the file writable, then run `postern aws-config install` again; nothing was changed.".into(),
            AwsConfigError::Io { .. } => "Check the permissions of ~/.aws; nothing was changed.".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Postern's own profiles for roles no longer wanted.
    pub removed: Vec<String>,
    pub backup: Option<PathBuf>,
}

struct Section {
    /// The profile name for `[profile NAME]` headers.
    name: Option<String>,
    /// Byte range of the whole section (header to the next header).
    start: usize,
    end: usize,
    managed: bool,
}

fn sections(path: &str, text: &str) -> Result<Vec<Section>, AwsConfigError> {
    let mut out: Vec<Section> = Vec::new();
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
                return Err(AwsConfigError::Malformed {
                    path: path.into(),
                    line: i + 1,
                    detail: "a section header without its closing ]".into(),
                });
            };
            if let Some(last) = out.last_mut() {
                last.end = offset;
            }
            let name = inner
                .trim()
                .strip_prefix("profile ")
                .map(|n| n.trim().to_string());
            out.push(Section {
                name,
                start: offset,
                end: text.len(),
                managed: false,
            });
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with(';') {
            match out.last() {
                None => {
                    return Err(AwsConfigError::Malformed {
                        path: path.into(),
                        line: i + 1,
                        detail: "a setting before any [section]".into(),
                    });
                }
                Some(_) if !trimmed.contains('=') && !line.starts_with([' ', '\t']) => {
                    return Err(AwsConfigError::Malformed {
                        path: path.into(),
                        line: i + 1,
                        detail: "a line that is neither a setting nor a comment".into(),
                    });
                }
                Some(_) => {}
            }
        } else if trimmed == MARKER
            && let Some(last) = out.last_mut()
        {
            last.managed = true;
        }
        offset += line.len();
    }
    Ok(out)
}

/// The new text of the config (pure): Postern's sections updated in place or appended.
pub fn merge(
    path: &str,
    text: &str,
    profiles: &[ManagedProfile],
    program: &CredentialProgram,
) -> Result<(String, InstallReport), AwsConfigError> {
    let found = sections(path, text)?;
    let mut report = InstallReport {
        added: vec![],
        updated: vec![],
        unchanged: vec![],
        removed: vec![],
        backup: None,
    };
    let mut out = text.to_string();
    // Replace from the end so earlier byte ranges stay valid.
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let mut appended = String::new();
    for p in profiles {
        let wanted = p.section(program);
        match found
            .iter()
            .find(|s| s.name.as_deref() == Some(p.name.as_str()))
        {
            Some(s) if !s.managed => {
                return Err(AwsConfigError::Conflict {
                    path: path.into(),
                    name: p.name.clone(),
                });
            }
            Some(s) => {
                let current = &text[s.start..s.end];
                // Keep the blank lines that separate it from the next section.
                let trailing = &current[current.trim_end_matches('\n').len()..];
                let replacement = format!(
                    "{}{}",
                    wanted.trim_end_matches('\n'),
                    if trailing.is_empty() { "\n" } else { trailing }
                );
                if current == replacement {
                    report.unchanged.push(p.name.clone());
                } else {
                    replacements.push((s.start, s.end, replacement));
                    report.updated.push(p.name.clone());
                }
            }
            None => {
                appended.push('\n');
                appended.push_str(&wanted);
                report.added.push(p.name.clone());
            }
        }
    }
    for stale in found.iter().filter(|s| {
        s.managed
            && s.name
                .as_ref()
                .is_some_and(|n| !profiles.iter().any(|p| &p.name == n))
    }) {
        replacements.push((stale.start, stale.end, String::new()));
        report.removed.push(stale.name.clone().unwrap_or_default());
    }
    replacements.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (start, end, replacement) in replacements {
        out.replace_range(start..end, &replacement);
    }
    if !appended.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(if out.is_empty() {
            appended.trim_start_matches('\n')
        } else {
            &appended
        });
    }
    Ok((out, report))
}

/// Installs the profiles into the config file at `path`.
pub fn install(
    path: &Path,
    profiles: &[ManagedProfile],
    program: &CredentialProgram,
) -> Result<InstallReport, AwsConfigError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| AwsConfigError::Io {
        path: shown.clone(),
        detail: e.to_string(),
    };
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| AwsConfigError::Malformed {
            path: shown.clone(),
            line: 1,
            detail: "the file is not UTF-8 text".into(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    let (new, mut report) = merge(&shown, &text, profiles, program)?;
    if new == text {
        return Ok(report);
    }
    let exists = path.exists();
    if exists
        && std::fs::metadata(path)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false)
    {
        return Err(AwsConfigError::ReadOnly { path: shown });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    if exists {
        let stamp = OffsetDateTime::now_utc();
        let backup = path.with_file_name(format!(
            "{}.postern-backup-{:04}{:02}{:02}T{:02}{:02}{:02}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            stamp.year(),
            stamp.month() as u8,
            stamp.day(),
            stamp.hour(),
            stamp.minute(),
            stamp.second()
        ));
        std::fs::copy(path, &backup).map_err(io)?;
        report.backup = Some(backup);
    }
    let tmp = dir.join(format!(".config.postern-{}", std::process::id()));
    std::fs::write(&tmp, new.as_bytes()).map_err(io)?;
    if exists && let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "# my settings\n[default]\nregion = eu-west-1\n\n[profile mine]\n# keep this comment\nregion = us-east-1\nsso_session = corp\n\n[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\n";

    fn cli(path: &str) -> CredentialProgram {
        CredentialProgram::Subcommand(path.into())
    }

    fn profiles() -> Vec<ManagedProfile> {
        vec![
            ManagedProfile::new("111122223333", "Developer"),
            ManagedProfile::new("444455556666", "ReadOnly"),
        ]
    }

    #[test]
    fn profiles_no_longer_wanted_are_removed_and_only_those() {
        let wanted = profiles();
        let (both, _) = merge("c", USER, &wanted, &cli("/usr/bin/postern")).unwrap();
        let (one, report) = merge("c", &both, &wanted[..1], &cli("/usr/bin/postern")).unwrap();
        assert_eq!(report.removed, vec!["postern-444455556666-ReadOnly"]);
        assert_eq!(report.unchanged, vec!["postern-111122223333-Developer"]);
        assert!(one.starts_with(USER), "{one}");
        assert!(!one.contains("444455556666"), "{one}");
        // A section the user wrote under a Postern-like name is theirs: never removed.
        let theirs = format!("{one}\n[profile postern-999999999999-Mine]\nregion = eu-west-1\n");
        let (kept, report) = merge("c", &theirs, &[], &cli("/usr/bin/postern")).unwrap();
        assert_eq!(report.removed, vec!["postern-111122223333-Developer"]);
        assert!(kept.contains("[profile postern-999999999999-Mine]\nregion = eu-west-1\n"));
        assert!(kept.starts_with(USER), "{kept}");
    }

    #[test]
    fn a_region_is_written_and_a_profile_is_found_again_by_name() {
        let wanted =
            [ManagedProfile::new("111122223333", "Developer").with_region(Some("eu-central-1"))];
        let (text, _) = merge(
            "c",
            USER,
            &wanted,
            &cli("C:\\Program Files\\Postern\\postern.exe"),
        )
        .unwrap();
        assert!(
            text.contains("credential_process = \"C:\\Program Files\\Postern\\postern.exe\" credentials --account 111122223333 --role Developer\nregion = eu-central-1\n"),
            "{text}"
        );
        assert_eq!(
            find_managed(&text, "postern-111122223333-Developer").as_ref(),
            Some(&wanted[0])
        );
        assert_eq!(find_managed(&text, "mine"), None, "the user's own profile");
        assert_eq!(find_managed(&text, "postern-444455556666-ReadOnly"), None);
    }

    #[test]
    fn the_dedicated_program_is_used_where_it_is_installed_beside_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        let postern = dir.path().join("postern");
        assert_eq!(
            CredentialProgram::beside(&postern),
            CredentialProgram::Subcommand(postern.clone()),
            "not installed: never a line naming a missing program"
        );
        let dedicated = dir.path().join(format!(
            "postern-credentials{}",
            std::env::consts::EXE_SUFFIX
        ));
        std::fs::write(&dedicated, "").unwrap();
        let program = CredentialProgram::beside(&postern);
        assert_eq!(program, CredentialProgram::Dedicated(dedicated.clone()));

        let wanted = [ManagedProfile::new("111122223333", "Developer")];
        let (text, _) = merge("c", USER, &wanted, &program).unwrap();
        let line = format!(
            "credential_process = {} --account 111122223333 --role Developer\n",
            dedicated.display()
        );
        assert!(text.contains(&line), "{text}");
        assert_eq!(
            find_managed(&text, "postern-111122223333-Developer").as_ref(),
            Some(&wanted[0])
        );
        // A profile written for `postern credentials` is updated in place to the new program.
        let (old, _) = merge("c", USER, &wanted, &cli("/usr/bin/postern")).unwrap();
        let (new, report) = merge("c", &old, &wanted, &program).unwrap();
        assert_eq!(report.updated, vec!["postern-111122223333-Developer"]);
        assert!(
            new.contains(&line) && !new.contains(" credentials --account"),
            "{new}"
        );
    }

    #[test]
    fn install_appends_keeps_everything_else_and_is_idempotent() {
        let (once, r1) = merge("c", USER, &profiles(), &cli("/usr/bin/postern")).unwrap();
        assert!(
            once.starts_with(USER),
            "the user's text is kept byte for byte:\n{once}"
        );
        assert_eq!(
            r1.added,
            vec![
                "postern-111122223333-Developer",
                "postern-444455556666-ReadOnly"
            ]
        );
        assert!(once.contains("[profile postern-111122223333-Developer]\n# Managed by Postern"));
        assert!(once.contains("credential_process = /usr/bin/postern credentials --account 111122223333 --role Developer\n"));
        let (twice, r2) = merge("c", &once, &profiles(), &cli("/usr/bin/postern")).unwrap();
        assert_eq!(twice, once);
        assert_eq!(r2.unchanged.len(), 2);
        // A moved binary updates the managed sections in place, nothing else.
        let (moved, r3) = merge("c", &once, &profiles(), &cli("/opt/postern/bin/postern")).unwrap();
        assert_eq!(r3.updated.len(), 2);
        assert!(moved.starts_with(USER));
        assert_eq!(moved.matches("[profile postern-").count(), 2);
        assert!(moved.contains("/opt/postern/bin/postern credentials"));
    }

    #[test]
    fn a_users_own_section_of_the_same_name_is_never_overwritten() {
        let text = format!("{USER}\n[profile postern-111122223333-Developer]\nregion = x\n");
        assert!(matches!(
            merge("c", &text, &profiles(), &cli("p")),
            Err(AwsConfigError::Conflict { .. })
        ));
    }

    #[test]
    fn malformed_files_are_named_by_line() {
        let e = merge("c", "region = x\n[default]\n", &profiles(), &cli("p")).unwrap_err();
        assert!(
            matches!(e, AwsConfigError::Malformed { line: 1, .. }),
            "{e}"
        );
        let e = merge(
            "c",
            "[default]\nregion = x\n[profile broken\n",
            &profiles(),
            &cli("p"),
        )
        .unwrap_err();
        assert!(
            matches!(e, AwsConfigError::Malformed { line: 3, .. }),
            "{e}"
        );
        let e = merge(
            "c",
            "[default]\nthis is not a setting\n",
            &profiles(),
            &cli("p"),
        )
        .unwrap_err();
        assert!(
            matches!(e, AwsConfigError::Malformed { line: 2, .. }),
            "{e}"
        );
        // Continuation lines (indented) are valid.
        assert!(
            merge(
                "c",
                "[default]\ns3 =\n  max_concurrent_requests = 20\n",
                &profiles(),
                &cli("p")
            )
            .is_ok()
        );
    }

    #[test]
    fn the_file_is_backed_up_and_a_bad_file_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, USER).unwrap();
        let r = install(&path, &profiles(), &cli("/usr/bin/postern")).unwrap();
        let backup = r.backup.unwrap();
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), USER);
        let installed = std::fs::read_to_string(&path).unwrap();
        // Again: no change, no new backup.
        let r2 = install(&path, &profiles(), &cli("/usr/bin/postern")).unwrap();
        assert_eq!(r2.backup, None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), installed);

        let bad = dir.path().join("bad");
        std::fs::write(&bad, "garbage line\n").unwrap();
        assert!(install(&bad, &profiles(), &cli("p")).is_err());
        assert_eq!(std::fs::read_to_string(&bad).unwrap(), "garbage line\n");

        // A new file is created when there is none.
        let fresh = dir.path().join("sub/config");
        install(&fresh, &profiles(), &cli("p")).unwrap();
        assert!(
            std::fs::read_to_string(&fresh)
                .unwrap()
                .starts_with("[profile postern-111122223333-Developer]")
        );
    }

    #[test]
    fn a_read_only_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, USER).unwrap();
        let mut read_only = std::fs::metadata(&path).unwrap().permissions();
        read_only.set_readonly(true);
        std::fs::set_permissions(&path, read_only).unwrap();
        assert!(matches!(
            install(&path, &profiles(), &cli("p")),
            Err(AwsConfigError::ReadOnly { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), USER);
    }
}
