//! Opt-in export of the session to the AWS CLI's SSO token cache, so the AWS CLI and SDKs can
//! reuse it with an `[sso-session]` named [`SSO_SESSION_NAME`]. The file is plain text (that is
//! the AWS CLI's format): it is written owner-only, and only when the user asked for it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::{Digest, Sha1};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::records::{ClientRegistration, TokenSet};

/// The `[sso-session NAME]` the exported cache file belongs to.
pub const SSO_SESSION_NAME: &str = "postern";

/// `~/.aws/sso/cache/<sha1(session name)>.json`, as botocore and aws-config compute it.
pub fn cache_file(aws_dir: &Path) -> PathBuf {
    let hex: String = Sha1::digest(SSO_SESSION_NAME.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    aws_dir
        .join("sso")
        .join("cache")
        .join(format!("{hex}.json"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CacheFile<'a> {
    start_url: &'a str,
    region: &'a str,
    access_token: &'a str,
    expires_at: String,
    client_id: &'a str,
    client_secret: &'a str,
    registration_expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// botocore writes whole seconds with a `Z`; everyone parses that.
fn stamp(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub fn write(path: &Path, token: &TokenSet, reg: &ClientRegistration) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(&CacheFile {
        start_url: &token.start_url,
        region: &token.region,
        access_token: token.access_token.expose(),
        expires_at: stamp(token.expires_at),
        client_id: &reg.client_id,
        client_secret: reg.client_secret.expose(),
        registration_expires_at: stamp(reg.expires_at),
        refresh_token: token.refresh_token.as_ref().map(|t| t.expose()),
    })
    .map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".postern-{}.tmp", std::process::id()));
    let mut file = owner_only(&tmp)?;
    file.write_all(&body)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

pub fn remove(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_is_the_sha1_of_the_session_name() {
        // sha1("postern"), as botocore's SSOTokenLoader computes the cache key.
        assert_eq!(
            cache_file(Path::new("/h/.aws")),
            Path::new("/h/.aws/sso/cache/a74282a5b06a13e864a551b6c57b9ce7ff1f21c7.json")
        );
    }

    #[test]
    fn stamps_are_whole_seconds_in_utc() {
        let t = time::macros::datetime!(2026-11-22 10:00:00.123 UTC);
        assert_eq!(stamp(t), "2026-11-22T10:00:00Z");
    }
}
