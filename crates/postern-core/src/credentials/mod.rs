//! Handing credentials to AWS tools: the `credential_process` document, and the AWS CLI
//! profiles that call `postern credentials`.

pub mod aws_config;
pub mod console;
pub mod environment;
pub mod scope_down;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::identity::SecretText;

/// Credentials held by the agent, in memory only.
#[derive(Debug, Clone)]
pub struct VendedCredentials {
    pub account: String,
    pub role: String,
    pub access_key_id: String,
    pub secret_access_key: SecretText,
    pub session_token: SecretText,
    pub expiration: OffsetDateTime,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessDocument<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
    account_id: &'a str,
}

/// The document the container-credentials protocol answers with (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerDocument<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
    account_id: &'a str,
}

fn rfc3339_seconds(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl VendedCredentials {
    /// Reads back the document [`Self::credential_process_json`] wrote (what the agent sends to
    /// the user's own commands); `None` for anything else.
    pub fn from_credential_process_json(account: &str, role: &str, text: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let field = |name: &str| v.get(name).and_then(|f| f.as_str());
        if v.get("Version").and_then(|f| f.as_u64()) != Some(1) {
            return None;
        }
        Some(Self {
            account: account.into(),
            role: role.into(),
            access_key_id: field("AccessKeyId")?.into(),
            secret_access_key: SecretText::new(field("SecretAccessKey")?),
            session_token: SecretText::new(field("SessionToken")?),
            expiration: OffsetDateTime::parse(field("Expiration")?, &Rfc3339).ok()?,
        })
    }

    /// The container-credentials answer, saying the credentials expire at `expires` (no later
    /// than their own expiry), so that SDKs come back for them by then.
    pub fn container_json(&self, expires: OffsetDateTime) -> String {
        serde_json::to_string(&ContainerDocument {
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose(),
            token: self.session_token.expose(),
            expiration: rfc3339_seconds(expires.min(self.expiration)),
            account_id: &self.account,
        })
        .unwrap_or_default()
    }

    /// The JSON `credential_process` prints (Version 1, with Expiration so SDKs refresh in time).
    pub fn credential_process_json(&self) -> String {
        serde_json::to_string(&ProcessDocument {
            version: 1,
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose(),
            session_token: self.session_token.expose(),
            expiration: rfc3339_seconds(self.expiration),
            account_id: &self.account,
        })
        .unwrap_or_default()
    }
}

/// Credentials for the tests of this module's documents, with the secret and token given.
#[cfg(test)]
pub(crate) fn example(secret: &str, token: &str, expiration: OffsetDateTime) -> VendedCredentials {
    VendedCredentials {
        account: "111122223333".into(),
        role: "Developer".into(),
        access_key_id: "ASIAEXAMPLE".into(),
        secret_access_key: SecretText::new(secret),
        session_token: SecretText::new(token),
        expiration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_document_has_what_the_sdks_read() {
        let c = example(
            "s3cr3t",
            "t0k3n",
            time::macros::datetime!(2026-11-22 10:00:00.5 UTC),
        );
        let v: serde_json::Value = serde_json::from_str(&c.credential_process_json()).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SecretAccessKey"], "s3cr3t");
        assert_eq!(v["SessionToken"], "t0k3n");
        assert_eq!(v["Expiration"], "2026-11-22T10:00:00Z");
        assert_eq!(v["AccountId"], "111122223333");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let back = VendedCredentials::from_credential_process_json(
            "111122223333",
            "Developer",
            &c.credential_process_json(),
        )
        .unwrap();
        assert_eq!(back.secret_access_key.expose(), "s3cr3t");
        assert_eq!(
            back.expiration,
            time::macros::datetime!(2026-11-22 10:00:00 UTC)
        );
        assert!(VendedCredentials::from_credential_process_json("a", "r", "{}").is_none());
    }

    #[test]
    fn the_container_document_never_outlives_the_credentials() {
        let c = example(
            "s3cr3t",
            "t0k3n",
            time::macros::datetime!(2026-11-22 10:00:00 UTC),
        );
        let soon = time::macros::datetime!(2026-11-22 09:11:00 UTC);
        let v: serde_json::Value = serde_json::from_str(&c.container_json(soon)).unwrap();
        assert_eq!(v["Token"], "t0k3n");
        assert_eq!(v["Expiration"], "2026-11-22T09:11:00Z");
        let late = time::macros::datetime!(2026-11-22 11:00:00 UTC);
        let v: serde_json::Value = serde_json::from_str(&c.container_json(late)).unwrap();
        assert_eq!(v["Expiration"], "2026-11-22T10:00:00Z");
    }
}
