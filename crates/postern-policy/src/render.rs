//! What AWS enforces, rendered from the same org policy the app enforces, so the two cannot
//! drift apart: the identity policy that denies every call not coming from the NAT, the SCP that
//! applies it organization-wide, and the RCP that protects resources from outside principals.
//! The exceptions follow AWS's data-perimeter design: calls made by AWS services on the caller's
//! behalf (`aws:ViaAWSService`, and `aws:PrincipalIsAWSService` for RCPs), AWS service roles and
//! service-linked roles (`aws:PrincipalArn`), and principals tagged
//! `network-perimeter-exception = true`.

use ipnet::IpNet;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identity policy for permission sets and roles.
    Iam,
    /// A service control policy for the organization.
    Scp,
    /// A resource control policy for the organization.
    Rcp,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "iam" => Some(Kind::Iam),
            "scp" => Some(Kind::Scp),
            "rcp" => Some(Kind::Rcp),
            _ => None,
        }
    }
}

const SERVICE_ROLES: [&str; 2] = [
    "arn:aws:iam::*:role/aws-service-role/*",
    "arn:aws:iam::*:role/service-role/*",
];
const EXCEPTION_TAG: &str = "aws:PrincipalTag/network-perimeter-exception";
/// Services RCPs support (2024-11).
const RCP_ACTIONS: [&str; 5] = ["s3:*", "sts:*", "sqs:*", "secretsmanager:*", "kms:*"];

fn sources(nat: &[IpNet]) -> Value {
    json!(nat.iter().map(IpNet::to_string).collect::<Vec<_>>())
}

/// Stable, pretty JSON (keys in a fixed order) for review and version control.
pub fn render(kind: Kind, nat: &[IpNet]) -> String {
    let policy = match kind {
        Kind::Iam => json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyOutsideCompanyNetwork",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "NotIpAddress": {"aws:SourceIp": sources(nat)},
                    "Bool": {"aws:ViaAWSService": "false"}
                }
            }]
        }),
        Kind::Scp => json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "EnforceNetworkPerimeter",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "NotIpAddressIfExists": {"aws:SourceIp": sources(nat)},
                    "BoolIfExists": {"aws:ViaAWSService": "false"},
                    "ArnNotLikeIfExists": {"aws:PrincipalArn": SERVICE_ROLES},
                    "StringNotEqualsIfExists": {EXCEPTION_TAG: "true"}
                }
            }]
        }),
        Kind::Rcp => json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "EnforceNetworkPerimeterOnResources",
                "Effect": "Deny",
                "Principal": "*",
                "Action": RCP_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "NotIpAddressIfExists": {"aws:SourceIp": sources(nat)},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false"},
                    "ArnNotLikeIfExists": {"aws:PrincipalArn": SERVICE_ROLES},
                    "StringNotEqualsIfExists": {EXCEPTION_TAG: "true"}
                }
            }]
        }),
    };
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nat() -> Vec<IpNet> {
        vec![
            "203.0.113.10/32".parse().unwrap(),
            "2001:db8:1::/48".parse().unwrap(),
        ]
    }

    #[test]
    fn the_identity_policy_denies_outside_the_nat() {
        let v: Value = serde_json::from_str(&render(Kind::Iam, &nat())).unwrap();
        let s = &v["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(
            s["Condition"]["NotIpAddress"]["aws:SourceIp"],
            json!(["203.0.113.10/32", "2001:db8:1::/48"])
        );
        assert_eq!(s["Condition"]["Bool"]["aws:ViaAWSService"], "false");
    }

    #[test]
    fn the_scp_and_rcp_carry_the_data_perimeter_exceptions() {
        let scp: Value = serde_json::from_str(&render(Kind::Scp, &nat())).unwrap();
        let c = &scp["Statement"][0]["Condition"];
        assert_eq!(
            c["ArnNotLikeIfExists"]["aws:PrincipalArn"][0],
            "arn:aws:iam::*:role/aws-service-role/*"
        );
        assert_eq!(c["StringNotEqualsIfExists"][EXCEPTION_TAG], "true");
        let rcp: Value = serde_json::from_str(&render(Kind::Rcp, &nat())).unwrap();
        let s = &rcp["Statement"][0];
        assert_eq!(s["Principal"], "*");
        assert_eq!(
            s["Condition"]["BoolIfExists"]["aws:PrincipalIsAWSService"],
            "false"
        );
        assert!(s["Action"].as_array().unwrap().contains(&json!("s3:*")));
    }

    #[test]
    fn output_is_stable() {
        assert_eq!(render(Kind::Scp, &nat()), render(Kind::Scp, &nat()));
        assert!(
            render(Kind::Iam, &nat())
                .starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\"")
        );
    }
}
