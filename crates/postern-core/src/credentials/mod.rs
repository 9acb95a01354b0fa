//! Handing credentials to AWS tools: the `credential_process` document, and the AWS CLI
//! profiles that call `postern credentials`.

pub mod aws_config;
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

impl VendedCredentials {
    /// The JSON `credential_process` prints (Version 1, with Expiration so SDKs refresh in time).
    pub fn credential_process_json(&self) -> String {
        serde_json::to_string(&ProcessDocument {
            version: 1,
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose(),
            session_token: self.session_token.expose(),
            expiration: self
                .expiration
                .replace_nanosecond(0)
                .unwrap_or(self.expiration)
                .format(&Rfc3339)
                .unwrap_or_default(),
            account_id: &self.account,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_document_has_what_the_sdks_read() {
        let c = VendedCredentials {
            account: "111122223333".into(),
            role: "Developer".into(),
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: SecretText::new("s3cr3t"),
            session_token: SecretText::new("t0k3n"),
            expiration: time::macros::datetime!(2026-11-22 10:00:00.5 UTC),
        };
        let v: serde_json::Value = serde_json::from_str(&c.credential_process_json()).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SecretAccessKey"], "s3cr3t");
        assert_eq!(v["SessionToken"], "t0k3n");
        assert_eq!(v["Expiration"], "2026-11-22T10:00:00Z");
        assert_eq!(v["AccountId"], "111122223333");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
