//! `postern diagnostics`: the bundle for the helpdesk, redacted, previewed before it is written.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use postern_agent::diagnostics::{DiagnosticsSources, collect};
use postern_core::diagnostics::{Bundle, default_bundle_name};
use time::OffsetDateTime;

use crate::output::{Failure, print_json};

#[derive(Subcommand)]
pub enum DiagnosticsCommand {
    /// Collect everything the helpdesk needs (secrets removed) and write it as one zip.
    Export {
        /// Where to write the bundle (default: postern-diagnostics-DATE-TIME.zip here).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show the files a bundle would hold and their sizes, without writing anything.
    Preview {
        #[arg(long)]
        json: bool,
    },
}

impl DiagnosticsCommand {
    pub fn wants_json(&self) -> bool {
        match self {
            DiagnosticsCommand::Export { json, .. } | DiagnosticsCommand::Preview { json } => *json,
        }
    }
}

pub async fn run(policy_file: Option<&Path>, command: DiagnosticsCommand) -> Result<(), Failure> {
    let sources = DiagnosticsSources::for_this_user(policy_file.map(Path::to_path_buf), "postern");
    let bundle = collect(&sources).await;
    match command {
        DiagnosticsCommand::Preview { json } => {
            report(&bundle, None, json);
            Ok(())
        }
        DiagnosticsCommand::Export { output, json } => {
            let dest = output
                .unwrap_or_else(|| PathBuf::from(default_bundle_name(OffsetDateTime::now_utc())));
            let size = bundle.write(&dest)?;
            report(&bundle, Some((&dest, size)), json);
            Ok(())
        }
    }
}

fn report(bundle: &Bundle, written: Option<(&Path, u64)>, json: bool) {
    let manifest = bundle.manifest();
    if json {
        print_json(
            "diagnostics",
            &serde_json::json!({
                "file": written.map(|(p, _)| p),
                "bytes": written.map(|(_, s)| s),
                "entries": bundle.entries(),
                "missing": manifest.missing,
                "redactions": manifest.redactions,
            }),
        );
        return;
    }
    for entry in bundle.entries() {
        println!("{:>10}  {}", entry.bytes, entry.name);
    }
    for missing in &manifest.missing {
        println!("   missing  {}: {}", missing.name, missing.reason);
    }
    let removed: u64 = manifest.redactions.values().sum();
    println!("{removed} secrets and personal details removed (listed by kind in manifest.json).");
    if let Some((path, size)) = written {
        println!(
            "Wrote {} ({size} bytes). Look inside before you send it to your helpdesk.",
            path.display()
        );
    }
}
