//! `[[access]]`: one entry per account and role that Postern may vend, with the gates it
//! requires, the longest credential lifetime, and an optional scope-down role.

use std::time::Duration;

use super::parse_duration;
use super::reader::{Diagnostics, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    Posture,
    Vpn,
    Egress,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRule {
    pub account: String,
    pub role: String,
    pub require: Vec<Gate>,
    #[serde(with = "secs")]
    pub max_duration: Duration,
    /// A role to assume with a session policy that denies calls from outside the NAT.
    pub scope_down: Option<String>,
    /// The region AWS tools use with this role (its AWS CLI profile, `postern exec`); none
    /// leaves the tools' own default.
    pub region: Option<String>,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// IAM role names: 1–64 of letters, digits and `+=,.@_-`.
pub fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// `arn:aws:iam::123456789012:role/path/Name` (also aws-cn, aws-us-gov).
pub fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && is_account_id(parts[4])
        && parts[5]
            .strip_prefix("role/")
            .and_then(|p| p.rsplit('/').next())
            .is_some_and(is_role_name)
}

pub(super) fn read(
    t: &mut Table,
    d: &mut Diagnostics,
    sections: (bool, bool),
) -> Option<AccessRule> {
    let before = d.issues.len();
    let (has_posture, has_egress) = sections;
    let account = t.required_string(d, "account").and_then(|s| {
        if is_account_id(s.get_ref()) {
            Some(s.into_inner())
        } else {
            d.at(
                s.span(),
                format!(
                    "`access.account` must be a 12-digit AWS account id, found \"{}\"",
                    s.get_ref()
                ),
            );
            None
        }
    });
    let role = t.required_string(d, "role").and_then(|s| {
        if is_role_name(s.get_ref()) {
            Some(s.into_inner())
        } else {
            d.at(
                s.span(),
                format!(
                    "`access.role` must be an IAM role name (permission set), found \"{}\"",
                    s.get_ref()
                ),
            );
            None
        }
    });
    let require = match t.strings(d, "require") {
        // By default every gate the policy can check: the VPN, and posture and egress where
        // their sections exist.
        None => [
            (has_posture, Gate::Posture),
            (true, Gate::Vpn),
            (has_egress, Gate::Egress),
        ]
        .into_iter()
        .filter_map(|(present, gate)| present.then_some(gate))
        .collect(),
        Some(list) => list
            .iter()
            .filter_map(|g| {
                let gate = match g.get_ref().as_str() {
                    "posture" => Gate::Posture,
                    "vpn" => Gate::Vpn,
                    "egress" => Gate::Egress,
                    other => {
                        d.at(
                            g.span(),
                            format!("unknown gate \"{other}\" (known: posture, vpn, egress)"),
                        );
                        return None;
                    }
                };
                match gate {
                    Gate::Posture if !has_posture => {
                        d.at(g.span(), "the `posture` gate needs a [posture] section")
                    }
                    Gate::Egress if !has_egress => {
                        d.at(g.span(), "the `egress` gate needs an [egress] section")
                    }
                    _ => {}
                }
                Some(gate)
            })
            .collect(),
    };
    let max_duration = t
        .string(d, "max_duration")
        .and_then(|s| match parse_duration(s.get_ref()) {
            Some(v) if v >= Duration::from_secs(900) && v <= Duration::from_secs(12 * 3600) => Some(v),
            _ => {
                d.at(s.span(), format!("`access.max_duration` must be from \"15m\" to \"12h\" (the limits of AWS role sessions), found \"{}\"", s.get_ref()));
                None
            }
        })
        .unwrap_or(Duration::from_secs(3600));
    let scope_down = t.string(d, "scope_down").and_then(|s| {
        if is_role_arn(s.get_ref()) {
            Some(s.into_inner())
        } else {
            d.at(s.span(), format!("`access.scope_down` must be an IAM role ARN such as arn:aws:iam::111122223333:role/PosternScoped, found \"{}\"", s.get_ref()));
            None
        }
    });
    let region = t.string(d, "region").and_then(|s| {
        if super::is_region_name(s.get_ref()) {
            Some(s.into_inner())
        } else {
            d.at(
                s.span(),
                format!(
                    "`access.region` must be an AWS region name such as eu-west-1, found \"{}\"",
                    s.get_ref()
                ),
            );
            None
        }
    });
    if d.issues.len() != before {
        return None;
    }
    Some(AccessRule {
        account: account?,
        role: role?,
        require,
        max_duration,
        scope_down,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(
            is_account_id("111122223333")
                && !is_account_id("11112222333")
                && !is_account_id("11112222333x")
        );
        assert!(
            is_role_name("Developer")
                && is_role_name("AWSReservedSSO_Dev_0123")
                && !is_role_name("a b")
                && !is_role_name("")
        );
        assert!(is_role_arn("arn:aws:iam::111122223333:role/PosternScoped"));
        assert!(is_role_arn(
            "arn:aws-us-gov:iam::111122223333:role/team/Scoped"
        ));
        assert!(!is_role_arn("arn:aws:iam::111122223333:user/alice"));
        assert!(!is_role_arn("arn:aws:s3:::bucket"));
    }
}
