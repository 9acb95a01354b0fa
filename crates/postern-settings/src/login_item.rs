//! Start at login, as each OS's own login item, starting the desktop app with [`AT_LOGIN`]:
//!
//! - Linux: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/postern.desktop`;
//! - macOS: a LaunchAgent, `~/Library/LaunchAgents/com.postern.app.plist` (the reference copy
//!   is `installers/macos/com.postern.app.plist`);
//! - Windows: the Run key, `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, value `Postern`.
//!
//! The texts are made and read back by plain functions, tested on every OS; what touches the
//! OS is a file write or one registry call.

use std::path::{Path, PathBuf};

use postern_types::{ExitCode, Problem};

/// The app's argument for a start at login: the tray without the window, and the
/// organization's connect-on-start.
pub const AT_LOGIN: &str = "--at-login";
/// The LaunchAgent's label (next to the helper's `com.postern.helper`).
pub const LAUNCH_AGENT_LABEL: &str = "com.postern.app";
/// The Run key and the value Postern owns in it.
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
pub const RUN_VALUE: &str = "Postern";

/// The login item as it is now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginItem {
    /// The file, or the registry value, that holds it.
    pub location: String,
    /// The program it starts, when it could be read back.
    pub program: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginItemError {
    #[error("There is no home folder to keep the login item in.")]
    NoHome,
    #[error("The login item {location} could not be {action}: {detail}.")]
    Failed {
        location: String,
        action: &'static str,
        detail: String,
    },
    #[error("The desktop app is not installed where Postern looks ({}).", list(.looked))]
    AppNotFound { looked: Vec<PathBuf> },
    #[error("The desktop app's path {} cannot be written into a login item: {why}.", .program.display())]
    UnusablePath { program: PathBuf, why: &'static str },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Problem for LoginItemError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::LoginItemFailed
    }

    fn next_step(&self) -> String {
        match self {
            LoginItemError::NoHome => "Set HOME (or log in with a normal account) and try again.".into(),
            LoginItemError::Failed { .. } => {
                "Check that you may write to that place, then try again.".into()
            }
            LoginItemError::AppNotFound { .. } | LoginItemError::UnusablePath { .. } => {
                "Install Postern's desktop app (the package or installer from your IT department), then try again.".into()
            }
        }
    }
}

/// Where the desktop app is: this program when it is the app, the app next to this program
/// (packages install them side by side), then the OS's usual place for it.
pub fn app_program() -> Result<PathBuf, LoginItemError> {
    let exe = std::env::current_exe().ok();
    let candidates = app_candidates(exe.as_deref());
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(LoginItemError::AppNotFound { looked: candidates })
}

pub fn app_candidates(exe: Option<&Path>) -> Vec<PathBuf> {
    let file = if cfg!(windows) {
        "postern-app.exe"
    } else {
        "postern-app"
    };
    let mut candidates = Vec::new();
    if let Some(exe) = exe {
        if exe.file_name().is_some_and(|n| n == file) {
            candidates.push(exe.to_path_buf());
        } else {
            candidates.push(exe.with_file_name(file));
        }
    }
    if cfg!(target_os = "macos") {
        candidates.push(PathBuf::from(
            "/Applications/Postern.app/Contents/MacOS/postern-app",
        ));
    } else if cfg!(unix) {
        candidates.push(PathBuf::from("/usr/bin/postern-app"));
    }
    candidates
}

/// The XDG autostart entry. `Exec` quotes the path as the Desktop Entry spec says, so a
/// folder with a space still starts the right program.
pub fn desktop_entry(program: &Path) -> Result<String, LoginItemError> {
    let exec = exec_argument(program)?;
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Postern\n\
         Comment=Keeps AWS credentials to the company network; starts in the tray\n\
         Exec={exec} {AT_LOGIN}\n\
         Icon=postern\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n"
    ))
}

fn printable(program: &Path) -> Result<&str, LoginItemError> {
    let text = program.to_str().ok_or(LoginItemError::UnusablePath {
        program: program.to_path_buf(),
        why: "it is not valid Unicode",
    })?;
    if text.chars().any(char::is_control) {
        return Err(LoginItemError::UnusablePath {
            program: program.to_path_buf(),
            why: "it holds a control character",
        });
    }
    Ok(text)
}

/// One argument of an `Exec` line: bare when it can be, else in double quotes with `"`, `` ` ``,
/// `$` and `\` escaped; `%` doubled either way (field codes). Then the value's own escaping
/// doubles every backslash.
fn exec_argument(program: &Path) -> Result<String, LoginItemError> {
    let text = printable(program)?;
    let reserved = |c: char| " \t\"'\\><~|&;$*?#()`".contains(c);
    let argument = if text.chars().any(reserved) {
        let mut quoted = String::from("\"");
        for c in text.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    } else {
        text.to_string()
    };
    Ok(argument.replace('%', "%%").replace('\\', "\\\\"))
}

/// The program an autostart entry starts; `None` when the entry is turned off (`Hidden`, or
/// GNOME's `X-GNOME-Autostart-enabled=false`) or has no usable `Exec`.
pub fn program_of_desktop_entry(text: &str) -> Option<PathBuf> {
    let mut in_entry = false;
    let mut exec = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        let Some((key, value)) = line.split_once('=').filter(|_| in_entry) else {
            continue;
        };
        match (key.trim(), value.trim()) {
            ("Hidden", "true") | ("X-GNOME-Autostart-enabled", "false") => return None,
            ("Exec", value) => exec = Some(value.to_string()),
            _ => {}
        }
    }
    first_exec_argument(&exec?).map(PathBuf::from)
}

/// Undoes [`exec_argument`] for the first argument of an `Exec` value.
fn first_exec_argument(exec: &str) -> Option<String> {
    // The value's own escaping first (`\\` is one backslash), then the argument's quoting.
    let mut unescaped = String::new();
    let mut chars = exec.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            unescaped.push(chars.next()?);
        } else {
            unescaped.push(c);
        }
    }
    let unescaped = unescaped.replace("%%", "%");
    let mut chars = unescaped.chars();
    let mut argument = String::new();
    match chars.next()? {
        '"' => loop {
            match chars.next()? {
                '"' => break,
                '\\' => argument.push(chars.next()?),
                c => argument.push(c),
            }
        },
        c => {
            argument.push(c);
            argument.extend(chars.take_while(|c| !c.is_whitespace()));
        }
    }
    Some(argument)
}

/// The LaunchAgent: the app with [`AT_LOGIN`] when the person's graphical session starts.
pub fn launch_agent(program: &Path) -> Result<String, LoginItemError> {
    let program = printable(program)?
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{LAUNCH_AGENT_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
    <string>{program}</string>
    <string>{AT_LOGIN}</string>
  </array>
  <key>RunAtLoad</key><true/>
  <key>LimitLoadToSessionType</key><string>Aqua</string>
  <key>ProcessType</key><string>Interactive</string>
</dict>
</plist>
"#
    ))
}

/// The program a LaunchAgent starts; `None` when it is `Disabled` or unreadable.
#[cfg(any(target_os = "macos", test))]
pub fn program_of_launch_agent(bytes: &[u8]) -> Option<PathBuf> {
    let plist::Value::Dictionary(agent) =
        plist::Value::from_reader(std::io::Cursor::new(bytes)).ok()?
    else {
        return None;
    };
    if agent.get("Disabled").and_then(|v| v.as_boolean()) == Some(true) {
        return None;
    }
    let arguments = agent.get("ProgramArguments")?.as_array()?;
    arguments.first()?.as_string().map(PathBuf::from)
}

/// The Run value: the quoted program and its argument, as Windows' shell splits it.
pub fn run_command(program: &Path) -> Result<String, LoginItemError> {
    let text = printable(program)?;
    if text.contains('"') {
        return Err(LoginItemError::UnusablePath {
            program: program.to_path_buf(),
            why: "it holds a double quote",
        });
    }
    Ok(format!("\"{text}\" {AT_LOGIN}"))
}

/// The program a Run value starts (quoted, or up to the first space).
pub fn program_of_run_command(command: &str) -> Option<PathBuf> {
    let command = command.trim_start();
    let program = match command.strip_prefix('"') {
        Some(rest) => rest.split_once('"')?.0,
        None => command.split_whitespace().next()?,
    };
    (!program.is_empty()).then(|| PathBuf::from(program))
}

#[cfg(unix)]
mod file {
    use std::path::{Path, PathBuf};

    use super::{LoginItem, LoginItemError};

    pub fn path() -> Result<PathBuf, LoginItemError> {
        #[cfg(target_os = "macos")]
        return dirs::home_dir()
            .map(|h| {
                h.join("Library/LaunchAgents")
                    .join(format!("{}.plist", super::LAUNCH_AGENT_LABEL))
            })
            .ok_or(LoginItemError::NoHome);
        #[cfg(not(target_os = "macos"))]
        dirs::config_dir()
            .map(|c| c.join("autostart/postern.desktop"))
            .ok_or(LoginItemError::NoHome)
    }

    fn text(program: &Path) -> Result<String, LoginItemError> {
        #[cfg(target_os = "macos")]
        return super::launch_agent(program);
        #[cfg(not(target_os = "macos"))]
        super::desktop_entry(program)
    }

    fn program_of(bytes: &[u8]) -> Option<PathBuf> {
        #[cfg(target_os = "macos")]
        return super::program_of_launch_agent(bytes);
        #[cfg(not(target_os = "macos"))]
        super::program_of_desktop_entry(&String::from_utf8_lossy(bytes))
    }

    fn failed(path: &Path, action: &'static str, e: std::io::Error) -> LoginItemError {
        LoginItemError::Failed {
            location: path.display().to_string(),
            action,
            detail: e.to_string(),
        }
    }

    pub fn read() -> Result<Option<LoginItem>, LoginItemError> {
        let path = path()?;
        match std::fs::read(&path) {
            // An entry turned off (or unreadable as one) is no login item.
            Ok(bytes) => Ok(program_of(&bytes).map(|program| LoginItem {
                location: path.display().to_string(),
                program: Some(program),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(&path, "read", e)),
        }
    }

    /// Written whole beside its place, then renamed over it: a login never sees half a file.
    pub fn write(program: &Path) -> Result<LoginItem, LoginItemError> {
        let path = path()?;
        let text = text(program)?;
        let folder = path.parent().ok_or(LoginItemError::NoHome)?;
        std::fs::create_dir_all(folder).map_err(|e| failed(folder, "written", e))?;
        let staging = path.with_extension("postern-new");
        std::fs::write(&staging, text)
            .and_then(|()| std::fs::rename(&staging, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&staging);
                failed(&path, "written", e)
            })?;
        Ok(LoginItem {
            location: path.display().to_string(),
            program: Some(program.to_path_buf()),
        })
    }

    pub fn remove() -> Result<bool, LoginItemError> {
        let path = path()?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(failed(&path, "removed", e)),
        }
    }
}

#[cfg(windows)]
mod file {
    use std::path::Path;

    use postern_policy::registry::{self, Hive};

    use super::{LoginItem, LoginItemError, RUN_KEY, RUN_VALUE};

    fn location() -> String {
        format!(r"HKCU\{RUN_KEY}\{RUN_VALUE}")
    }

    fn failed(action: &'static str, detail: String) -> LoginItemError {
        LoginItemError::Failed {
            location: location(),
            action,
            detail,
        }
    }

    pub fn read() -> Result<Option<LoginItem>, LoginItemError> {
        let command = registry::string(Hive::CurrentUser, RUN_KEY, RUN_VALUE)
            .map_err(|e| failed("read", e))?;
        Ok(command.map(|command| LoginItem {
            location: location(),
            program: super::program_of_run_command(&command),
        }))
    }

    pub fn write(program: &Path) -> Result<LoginItem, LoginItemError> {
        let command = super::run_command(program)?;
        registry::set_string(Hive::CurrentUser, RUN_KEY, RUN_VALUE, &command)
            .map_err(|e| failed("written", e))?;
        Ok(LoginItem {
            location: location(),
            program: Some(program.to_path_buf()),
        })
    }

    pub fn remove() -> Result<bool, LoginItemError> {
        registry::delete(Hive::CurrentUser, RUN_KEY, RUN_VALUE).map_err(|e| failed("removed", e))
    }
}

/// The login items of one person: this user's on this OS ([`ThisUser`]), or a stand-in.
pub trait LoginItems {
    /// The login item, when there is one that is turned on.
    fn read(&self) -> Result<Option<LoginItem>, LoginItemError>;
    /// Writes (or replaces) the login item so that it starts `program` with [`AT_LOGIN`].
    fn write(&self, program: &Path) -> Result<LoginItem, LoginItemError>;
    /// Removes the login item; `false` when there was none.
    fn remove(&self) -> Result<bool, LoginItemError>;
}

/// The person running this process, in the OS's own place for login items.
pub struct ThisUser;

impl LoginItems for ThisUser {
    fn read(&self) -> Result<Option<LoginItem>, LoginItemError> {
        file::read()
    }

    fn write(&self, program: &Path) -> Result<LoginItem, LoginItemError> {
        file::write(program)
    }

    fn remove(&self) -> Result<bool, LoginItemError> {
        file::remove()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_is_written_bare_and_read_back() {
        let entry = desktop_entry(Path::new("/usr/bin/postern-app")).unwrap();
        assert!(
            entry.contains("\nExec=/usr/bin/postern-app --at-login\n"),
            "{entry}"
        );
        assert_eq!(
            program_of_desktop_entry(&entry),
            Some(PathBuf::from("/usr/bin/postern-app"))
        );
    }

    #[test]
    fn a_path_with_spaces_quotes_and_percent_signs_survives_the_round_trip() {
        for path in [
            "/home/a b/postern-app",
            "/opt/it's \"here\"/$HOME/postern-app",
            "/opt/100%/back\\slash/postern-app",
        ] {
            let entry = desktop_entry(Path::new(path)).unwrap();
            assert_eq!(
                program_of_desktop_entry(&entry),
                Some(PathBuf::from(path)),
                "{entry}"
            );
        }
        let entry = desktop_entry(Path::new("/home/a b/postern-app")).unwrap();
        assert!(
            entry.contains("Exec=\"/home/a b/postern-app\" --at-login"),
            "{entry}"
        );
    }

    #[test]
    fn a_path_with_a_line_break_is_refused() {
        assert!(matches!(
            desktop_entry(Path::new("/tmp/x\nExec=/bin/evil")),
            Err(LoginItemError::UnusablePath { .. })
        ));
        assert!(launch_agent(Path::new("/tmp/x\ny")).is_err());
        assert!(run_command(Path::new("C:\\a\"b")).is_err());
    }

    #[test]
    fn an_entry_turned_off_by_the_desktop_counts_as_none() {
        let entry = desktop_entry(Path::new("/usr/bin/postern-app")).unwrap();
        let gnome_off = entry.replace(
            "X-GNOME-Autostart-enabled=true",
            "X-GNOME-Autostart-enabled=false",
        );
        assert_eq!(program_of_desktop_entry(&gnome_off), None);
        assert_eq!(
            program_of_desktop_entry(&format!("{entry}Hidden=true\n")),
            None
        );
        // Keys of another group do not count.
        let other = format!("{entry}[Desktop Action x]\nHidden=true\n");
        assert!(program_of_desktop_entry(&other).is_some());
        assert_eq!(program_of_desktop_entry("[Desktop Entry]\nName=x\n"), None);
    }

    #[test]
    fn the_launch_agent_is_the_installers_reference_copy_and_reads_back() {
        let program = "/Applications/Postern.app/Contents/MacOS/postern-app";
        let ours = launch_agent(Path::new(program)).unwrap();
        let reference = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../installers/macos/com.postern.app.plist"),
        )
        .unwrap();
        assert_eq!(
            plist::Value::from_reader_xml(ours.as_bytes()).unwrap(),
            plist::Value::from_reader(std::io::Cursor::new(&reference)).unwrap()
        );
        assert_eq!(
            program_of_launch_agent(ours.as_bytes()),
            Some(PathBuf::from(program))
        );
        let escaped = launch_agent(Path::new("/Apps/R&D <x>/postern-app")).unwrap();
        assert_eq!(
            program_of_launch_agent(escaped.as_bytes()),
            Some(PathBuf::from("/Apps/R&D <x>/postern-app"))
        );
        let disabled = ours.replace(
            "<key>RunAtLoad</key>",
            "<key>Disabled</key><true/><key>RunAtLoad</key>",
        );
        assert_eq!(program_of_launch_agent(disabled.as_bytes()), None);
    }

    #[test]
    fn the_run_value_quotes_the_program_and_reads_back() {
        let program = r"C:\Program Files\Postern\postern-app.exe";
        let command = run_command(Path::new(program)).unwrap();
        assert_eq!(command, format!("\"{program}\" --at-login"));
        assert_eq!(
            program_of_run_command(&command),
            Some(PathBuf::from(program))
        );
        assert_eq!(
            program_of_run_command(r"C:\Tools\app.exe --x"),
            Some(PathBuf::from(r"C:\Tools\app.exe"))
        );
        assert_eq!(program_of_run_command("\"unterminated"), None);
        assert_eq!(program_of_run_command(""), None);
    }

    #[test]
    fn the_app_is_this_program_or_its_neighbour() {
        let name = if cfg!(windows) {
            "postern-app.exe"
        } else {
            "postern-app"
        };
        let cli = Path::new("/opt/postern/bin/postern");
        assert_eq!(app_candidates(Some(cli))[0], cli.with_file_name(name));
        let app = cli.with_file_name(name);
        assert_eq!(app_candidates(Some(&app))[0], app);
    }
}
