//! The completion scripts and the man page, read by the real consumers: bash completes from
//! its script, zsh and fish parse theirs, groff renders the page without a warning; and
//! `postern env --unset` is evaluated by the shell it names.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark: a failure is its own"
)]

use std::process::{Command, Output};

fn postern(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(args)
        .env_remove("POSTERN_POLICY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postern {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// zsh, fish and groff are installed by the setup script: missing, the test fails.
fn require(program: &str) {
    assert!(
        Command::new(program).arg("--version").output().is_ok(),
        "{program} is not installed (scripts/setup installs it)"
    );
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

#[test]
fn bash_completes_subcommands_and_options_from_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("postern.bash");
    std::fs::write(&script, postern(&["completions", "bash"]).stdout).unwrap();
    let complete = |words: &str, current: usize| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; _postern postern \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = run("bash", &["-c", &probe]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text(&out)
    };
    let first = complete("postern e", 1);
    for sub in ["exec", "env", "egress"] {
        assert!(first.lines().any(|l| l == sub), "{sub} in {first}");
    }
    let options = complete("postern exec --", 2);
    for option in ["--endpoint", "--account", "--role", "--profile"] {
        assert!(
            options.lines().any(|l| l == option),
            "{option} in {options}"
        );
    }
    let shells = complete("postern env --shell ''", 3);
    assert_eq!(
        shells.lines().collect::<Vec<_>>(),
        ["bash", "zsh", "fish", "powershell"]
    );
}

#[test]
fn zsh_fish_and_powershell_scripts_are_theirs() {
    let zsh = text(&postern(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef postern"), "{}", &zsh[..40]);
    let fish = text(&postern(&["completions", "fish"]));
    assert!(fish.contains("complete -c postern"));
    let ps = text(&postern(&["completions", "powershell"]));
    assert!(ps.contains("Register-ArgumentCompleter"));
    let dir = tempfile::tempdir().unwrap();
    for (shell, script, check) in [
        ("zsh", &zsh, vec!["-n"]),
        ("fish", &fish, vec!["--no-execute"]),
    ] {
        require(shell);
        let file = dir.path().join(shell);
        std::fs::write(&file, script).unwrap();
        let mut args = check.clone();
        args.push(file.to_str().unwrap());
        let out = run(shell, &args);
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    {
        // fish loads it and completes a subcommand from it.
        let file = dir.path().join("fish");
        let out = run(
            "fish",
            &[
                "-c",
                &format!("source {}; complete -C 'postern exe'", file.display()),
            ],
        );
        assert!(text(&out).contains("exec"), "{}", text(&out));
    }
}

#[test]
fn the_man_page_renders_cleanly_and_holds_every_command_and_exit_code() {
    let page = text(&postern(&["man"]));
    assert!(
        page.starts_with(".ie") || page.contains(".TH postern 1"),
        "{}",
        &page[..200]
    );
    for section in [
        "POSTERN EXEC",
        "POSTERN ENV",
        "POSTERN CONSOLE",
        "POSTERN AWS-CONFIG",
        "EXIT STATUS",
    ] {
        assert!(page.contains(section), "{section}");
    }
    assert!(page.contains("127"));
    assert!(page.is_ascii(), "other characters are groff escapes");
    require("groff");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postern.1");
    std::fs::write(&file, &page).unwrap();
    let out = run(
        "groff",
        &["-man", "-Tutf8", "-ww", "-z", file.to_str().unwrap()],
    );
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = Command::new("groff")
        .args(["-man", "-Tutf8", file.to_str().unwrap()])
        .output()
        .unwrap();
    let rendered = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.contains("local credentials endpoint instead of keys"),
        "{rendered}"
    );
}

#[test]
fn env_unset_lines_remove_the_variables_in_the_shell_they_name() {
    let lines = text(&postern(&["env", "--unset", "--shell", "bash"]));
    let script = format!(
        "export AWS_ACCESS_KEY_ID=x AWS_SESSION_TOKEN=y AWS_REGION=z\n{lines}\nprintf '%s' \"${{AWS_ACCESS_KEY_ID-}}${{AWS_SESSION_TOKEN-}}${{AWS_REGION-}}\""
    );
    let out = run("bash", &["-c", &script]);
    assert!(out.status.success());
    assert_eq!(text(&out), "");
    {
        require("fish");
        let lines = text(&postern(&["env", "--unset", "--shell", "fish"]));
        let out = run(
            "fish",
            &[
                "-c",
                &format!(
                    "set -gx AWS_ACCESS_KEY_ID x\n{lines}\nset -q AWS_ACCESS_KEY_ID; or echo gone"
                ),
            ],
        );
        assert_eq!(text(&out).trim(), "gone");
    }
}
