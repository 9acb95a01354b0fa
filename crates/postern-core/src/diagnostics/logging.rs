//! The app's own logs: `tracing` events, redacted line by line before they reach the disk, in
//! size-capped files that rotate (`NAME.log`, `NAME.log.1`, … up to [`LogFiles::keep`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use super::redact::{RedactionCounts, Redactor};

/// Where each OS keeps a user application's logs (`POSTERN_LOG_DIR` overrides).
pub fn log_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("POSTERN_LOG_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    #[cfg(target_os = "macos")]
    if let Some(home) = dirs::home_dir() {
        return home.join("Library/Logs/Postern");
    }
    #[cfg(windows)]
    if let Some(local) = dirs::data_local_dir() {
        return local.join(r"Postern\logs");
    }
    crate::paths::user_state_dir().join("logs")
}

/// A log file that is rotated when it passes `max_bytes`, keeping `keep` older files.
pub struct LogFiles {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: Option<File>,
    written: u64,
}

impl LogFiles {
    pub fn open(dir: &Path, name: &str, max_bytes: u64, keep: usize) -> io::Result<Self> {
        create_private_dir(dir)?;
        let path = dir.join(format!("{name}.log"));
        let file = open_append(&path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path,
            max_bytes,
            keep,
            file: Some(file),
            written,
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, self.rotated(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = Some(open_append(&self.path)?);
        self.written = 0;
        Ok(())
    }

    /// Appends one whole record; rotates first when it would pass the cap.
    pub fn append(&mut self, record: &[u8]) -> io::Result<()> {
        if self.written > 0 && self.written + record.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(open_append(&self.path)?),
        };
        file.write_all(record)?;
        self.written += record.len() as u64;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Hands `tracing` one buffer per event; the finished line is redacted, then appended.
#[derive(Clone)]
pub struct RedactingWriter {
    inner: Arc<Mutex<LogFiles>>,
    redactor: Arc<Redactor>,
}

impl RedactingWriter {
    pub fn new(files: LogFiles, redactor: Redactor) -> Self {
        Self {
            inner: Arc::new(Mutex::new(files)),
            redactor: Arc::new(redactor),
        }
    }
}

pub struct EventBuffer {
    buffer: Vec<u8>,
    writer: RedactingWriter,
}

impl Write for EventBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let clean = self
            .writer
            .redactor
            .redact(&text, &mut RedactionCounts::new());
        if let Ok(mut files) = self.writer.inner.lock() {
            // A log that cannot be written must never take the app down.
            let _ = files.append(clean.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for RedactingWriter {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer {
            buffer: Vec::with_capacity(256),
            writer: self.clone(),
        }
    }
}

/// Each log is capped at 1 MiB with two older files kept: at most 3 MiB per component.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;
pub const KEEP_LOGS: usize = 2;

/// Sends this process's `tracing` events to `<log dir>/<component>.log`, redacted. The level
/// comes from `POSTERN_LOG` (default `info`). Returns the log's path; failing to open the log is
/// reported, never fatal.
pub fn init(component: &str) -> io::Result<PathBuf> {
    let dir = log_dir();
    let files = LogFiles::open(&dir, component, MAX_LOG_BYTES, KEEP_LOGS)?;
    let redactor = Redactor::for_this_user(super::salt());
    let filter = EnvFilter::try_from_env("POSTERN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let path = dir.join(format!("{component}.log"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(RedactingWriter::new(files, redactor))
        .try_init()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_newest_records_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = LogFiles::open(dir.path(), "agent", 100, 2).unwrap();
        for i in 0..20 {
            files
                .append(format!("record {i:02} ....................\n").as_bytes())
                .unwrap();
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        let (current, one, two) = (read("agent.log"), read("agent.log.1"), read("agent.log.2"));
        assert!(current.contains("record 19"));
        assert!(one.contains("record 15"), "{one}");
        assert!(two.contains("record 12"), "{two}");
        assert!(!two.contains("record 11"), "{two}");
        assert!(!dir.path().join("agent.log.3").exists());
        for f in [current, one, two] {
            assert!(f.len() <= 100);
        }
    }

    #[test]
    fn events_are_redacted_before_they_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = LogFiles::open(dir.path(), "app", MAX_LOG_BYTES, 1).unwrap();
        let writer = RedactingWriter::new(files, Redactor::new(b"s".to_vec(), []));
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("vended ASIAQWERTYUIOPASDFGH for bob@example.com Bearer abcdefgh12345");
        });
        let written = std::fs::read_to_string(dir.path().join("app.log")).unwrap();
        assert!(written.contains("vended <redacted:aws-access-key-id> for <email:"));
        assert!(written.contains("Bearer <redacted:bearer-token>"));
        assert!(!written.contains("ASIAQWERTY") && !written.contains("bob@"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("app.log"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
