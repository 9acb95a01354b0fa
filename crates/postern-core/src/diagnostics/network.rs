//! The network as the OS's own tools describe it: interfaces, routes, DNS. Each command is
//! bounded in time; a missing tool is noted, not fatal.

use std::path::Path;
use std::time::Duration;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// The commands each OS answers the helpdesk's three questions with.
fn commands() -> &'static [(&'static str, &'static [&'static str])] {
    if cfg!(target_os = "macos") {
        &[
            ("ifconfig", &[]),
            ("netstat", &["-rn"]),
            ("scutil", &["--dns"]),
        ]
    } else if cfg!(windows) {
        &[("ipconfig", &["/all"]), ("route", &["print"])]
    } else {
        &[
            ("ip", &["address"]),
            ("ip", &["route"]),
            ("ip", &["-6", "route"]),
        ]
    }
}

async fn run(program: &str, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(program);
    command.args(args).kill_on_drop(true);
    match tokio::time::timeout(COMMAND_TIMEOUT, command.output()).await {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            text
        }
        Ok(Err(e)) => format!("(could not run: {e})\n"),
        Err(_) => format!("(no answer within {} s)\n", COMMAND_TIMEOUT.as_secs()),
    }
}

/// Where Linux and the BSDs keep the resolver configuration.
pub(super) const RESOLVER_FILE: &str = "/etc/resolv.conf";

pub(super) async fn summary(resolver: Option<&Path>) -> String {
    let mut out = String::new();
    for (program, args) in commands() {
        out.push_str(&format!("$ {program} {}\n", args.join(" ")));
        out.push_str(&run(program, args).await);
        out.push('\n');
    }
    if let Some(path) = resolver {
        out.push_str(&format!("$ cat {}\n", path.display()));
        out.push_str(
            &std::fs::read_to_string(path).unwrap_or_else(|e| format!("(could not read: {e})\n")),
        );
    }
    out
}
