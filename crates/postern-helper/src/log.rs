//! The helper's log: `tracing` events as one line each, every line passed through
//! `postern_ovpn::redact::secrets`, written to standard error (the service manager's journal)
//! and to its own root-only file, which is cut at [`MAX_LOG_BYTES`] (one older file kept).
//! A small subscriber of its own instead of `tracing-subscriber`: the helper runs as root and
//! links only what it needs; it has no spans, only events.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Where the log file is cut and the older half kept as `<name>.1`.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

pub struct HelperLog {
    file: Option<Mutex<LogFile>>,
}

struct LogFile {
    path: PathBuf,
    out: std::fs::File,
    written: u64,
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let out = options.open(path)?;
        let written = out.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            out,
            written,
        })
    }

    fn write(&mut self, line: &str) {
        if self.written + line.len() as u64 > MAX_LOG_BYTES {
            let older = self.path.with_extension("log.1");
            if std::fs::rename(&self.path, older).is_ok()
                && let Ok(fresh) = Self::open(&self.path)
            {
                *self = fresh;
            }
        }
        if self.out.write_all(line.as_bytes()).is_ok() {
            self.written += line.len() as u64;
        }
    }
}

impl HelperLog {
    /// Logs to standard error, and to `file` when given. A file that cannot be opened is
    /// reported and left out: the helper still serves, and the journal still has every line.
    pub fn install(file: Option<&Path>) {
        let file = file.and_then(|path| match LogFile::open(path) {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("postern-helper: no log file at {} ({e})", path.display());
                None
            }
        });
        // Only fails when a subscriber is already set, which nothing else in the helper does.
        let _ = tracing::subscriber::set_global_default(HelperLog { file });
    }
}

/// One event as text: the message, then `name=value` for every other field.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// The line written for one event, secrets removed.
pub fn format_line(at: time::OffsetDateTime, level: &Level, text: &str) -> String {
    let stamp = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let text = postern_ovpn::redact::secrets(text).replace('\n', " ");
    format!("{stamp} {level:>5} {text}\n")
}

impl Subscriber for HelperLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // The helper's own events, not its dependencies' (tokio's, mio's).
        *metadata.level() <= Level::INFO && metadata.target().starts_with("postern_helper")
    }

    fn event(&self, event: &Event<'_>) {
        let mut text = Line::default();
        event.record(&mut text);
        let line = format_line(
            time::OffsetDateTime::now_utc(),
            event.metadata().level(),
            &text.0,
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(file) = &self.file
            && let Ok(mut file) = file.lock()
        {
            file.write(&line);
        }
    }

    // No spans: every span gets the same id and nothing is recorded for it.
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_its_time_and_level_and_no_secret() {
        let at = time::macros::datetime!(2026-12-02 08:00:00 UTC);
        let line = format_line(
            at,
            &Level::WARN,
            "answer for uid 1000: password \"Auth\" \"CRV1::s1::PHNhbWw+\"\nnext",
        );
        assert_eq!(
            line,
            "2026-12-02T08:00:00Z  WARN answer for uid 1000: password \"Auth\" \"CRV1::s1::<redacted:saml-response>\" next\n"
        );
    }

    #[test]
    fn the_file_is_owner_only_and_cut_at_its_limit_keeping_one_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/helper.log");
        let mut file = LogFile::open(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..(MAX_LOG_BYTES / 1024 + 10) {
            file.write(&line);
        }
        let current = std::fs::metadata(&path).unwrap().len();
        let older = std::fs::metadata(path.with_extension("log.1"))
            .unwrap()
            .len();
        assert_eq!(current, 10 * 1024, "the current file restarted at the cut");
        assert!(
            older <= MAX_LOG_BYTES && older > MAX_LOG_BYTES - 1024,
            "{older}"
        );
    }
}
