//! Shell completions and the man page, both generated from the one command definition.

use clap::{CommandFactory, ValueEnum};

use crate::output::Failure;

#[derive(Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

pub fn completions(shell: CompletionShell) -> Result<(), Failure> {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut command = crate::Cli::command();
    clap_complete::generate(shell, &mut command, "postern", &mut std::io::stdout());
    Ok(())
}

/// `postern(1)`, with a section per subcommand, so `man postern` says everything `--help` does.
pub fn man() -> Result<(), Failure> {
    let command = crate::Cli::command();
    let mut page = Vec::new();
    let failed = |e: std::io::Error| Failure::internal(&format!("rendering the man page: {e}"));
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page).map_err(failed)?;
    man.render_name_section(&mut page).map_err(failed)?;
    man.render_synopsis_section(&mut page).map_err(failed)?;
    man.render_description_section(&mut page).map_err(failed)?;
    man.render_options_section(&mut page).map_err(failed)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("postern {}", sub.get_name());
        let sub_page = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
        page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        sub_page
            .render_synopsis_section(&mut page)
            .map_err(failed)?;
        sub_page
            .render_description_section(&mut page)
            .map_err(failed)?;
        sub_page.render_options_section(&mut page).map_err(failed)?;
    }
    page.extend_from_slice(EXIT_STATUS.as_bytes());
    man.render_version_section(&mut page).map_err(failed)?;
    use std::io::Write;
    std::io::stdout()
        .write_all(ascii_roff(&String::from_utf8_lossy(&page)).as_bytes())
        .map_err(failed)?;
    Ok(())
}

/// roff is read as Latin-1 unless a preprocessor says otherwise: every other character
/// (the help's "…" and "—") as groff's own `\[uXXXX]` escape, which man(1) renders everywhere.
fn ascii_roff(page: &str) -> String {
    page.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\[u{:04X}]", c as u32)
            }
        })
        .collect()
}

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
0 success; 1 a bug in Postern; 2 usage; 3 a bad policy, profile or file; 4 not signed in;
5 sign-in failed; 6 Identity Center unreachable or refusing; 7 keychain; 8 no organization
policy; 9 the VPN failed or dropped; 10 the VPN helper is unavailable; 11 the device is not
compliant; 12 posture unknown; 13 traffic leaves outside the company NAT; 14 egress
undetermined; 15 not connected; 16 the agent is unavailable; 17 the role is not allowed;
18 the diagnostics export failed; 19 the console sign-in failed; 126 and 127
(\fBpostern exec\fR) the command could not be started or was not found. \fBpostern exec\fR
otherwise ends as its command did.
"#;
