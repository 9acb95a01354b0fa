//! What the window receives: plain shapes made from the core's reports, typed for TypeScript
//! (`ui/src/bindings.ts` is generated from these, the core's presentation types and the
//! window's API in `api.rs`).

use postern_core::diagnostics::Bundle;
use postern_core::egress::{EgressReport, Verdict};
use postern_core::policy::OrgPolicy;
use postern_core::posture::{Outcome, PostureReport, UnknownReason};
use postern_core::session::present::Presentation;
use postern_core::settings::{Setting, Settings};
use serde::Serialize;
use ts_rs::TS;

/// An account and role the policy allows, for the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AccessChoice {
    pub account: String,
    pub role: String,
}

/// Everything the window shows at once.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WindowView {
    pub session: Presentation,
    pub choices: Vec<AccessChoice>,
    /// Stored VPN profile names.
    pub profiles: Vec<String>,
    /// The app's settings; `null` with `settingsProblem` when they cannot be read.
    pub settings: Option<SettingsView>,
    pub settings_problem: Option<crate::failure::Failure>,
}

/// One setting as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingView {
    pub on: bool,
    /// The organization decides it: the switch is shown, not changeable.
    pub locked: bool,
    /// Who decided, in words ("your choice", "set by your organization (Group Policy)").
    pub origin: String,
    /// Exactly where (a file, a registry value, the login item), for the helpdesk.
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub start_at_login: SettingView,
    pub connect_on_start: SettingView,
}

fn setting(s: &Setting<bool>) -> SettingView {
    SettingView {
        on: s.value,
        locked: s.locked,
        origin: s.origin.describe().to_string(),
        source: s.source.clone(),
    }
}

pub fn settings(s: &Settings) -> SettingsView {
    SettingsView {
        start_at_login: setting(&s.start_at_login),
        connect_on_start: setting(&s.connect_on_start),
    }
}

pub fn choices(policy: &OrgPolicy) -> Vec<AccessChoice> {
    policy
        .access
        .iter()
        .map(|rule| AccessChoice {
            account: rule.account.clone(),
            role: rule.role.clone(),
        })
        .collect()
}

impl WindowView {
    /// What one click on Connect (in the tray) should reach without asking: the session's
    /// current account and role, else the policy's only choice. `None`: the person picks in the
    /// window.
    pub fn obvious_target(&self) -> Option<AccessChoice> {
        let current = self.session.target.as_ref().map(|t| AccessChoice {
            account: t.account.clone(),
            role: t.role.clone(),
        });
        current.or_else(|| match self.choices.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
    }
}

/// One line of the posture checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CheckLine {
    pub name: String,
    /// `pass`, `fail` or `unknown`.
    pub status: String,
    pub detail: String,
    pub remediation: Option<String>,
    /// An unknown that blocks access under the policy.
    pub blocks: bool,
}

pub fn checklist(report: &PostureReport) -> Vec<CheckLine> {
    report
        .checks
        .iter()
        .map(|c| {
            let name = match &c.subject {
                Some(s) => format!("{} {s}", c.check.key()),
                None => c.check.key().to_string(),
            };
            let (status, detail, remediation) = match &c.outcome {
                Outcome::Pass { detail } => ("pass", detail.clone(), None),
                Outcome::Fail {
                    detail,
                    remediation,
                } => ("fail", detail.clone(), Some(remediation.clone())),
                Outcome::Unknown { reason } => (
                    "unknown",
                    match reason {
                        UnknownReason::NotApplicable => "not applicable here".to_string(),
                        UnknownReason::NeedsElevation => "needs administrator rights".to_string(),
                        UnknownReason::DetectionFailed(d) => format!("could not be read ({d})"),
                    },
                    None,
                ),
            };
            CheckLine {
                name,
                status: status.into(),
                detail,
                remediation,
                blocks: c.unknown_blocks,
            }
        })
        .collect()
}

/// Where traffic leaves, and whether that is the company NAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EgressView {
    pub address: Option<String>,
    pub nat_match: bool,
    pub country: Option<String>,
    /// The verdict in one sentence.
    pub verdict: String,
}

pub fn egress(report: &EgressReport) -> EgressView {
    EgressView {
        address: report.verdict.address().map(|a| a.to_string()),
        nat_match: matches!(report.verdict, Verdict::Match { .. }),
        country: report.country.as_ref().and_then(|c| c.country.clone()),
        verdict: report.verdict.to_string(),
    }
}

/// The bundle's files before it is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticsPreview {
    pub files: Vec<BundleFile>,
    pub missing: Vec<BundleFile>,
    #[ts(type = "number")]
    pub redactions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BundleFile {
    pub name: String,
    /// Size in bytes, or why the part is missing.
    pub detail: String,
}

pub fn preview(bundle: &Bundle) -> DiagnosticsPreview {
    let manifest = bundle.manifest();
    DiagnosticsPreview {
        files: bundle
            .entries()
            .into_iter()
            .map(|e| BundleFile {
                name: e.name,
                detail: format!("{} bytes", e.bytes),
            })
            .collect(),
        missing: manifest
            .missing
            .iter()
            .map(|m| BundleFile {
                name: m.name.clone(),
                detail: m.reason.clone(),
            })
            .collect(),
        redactions: manifest.redactions.values().sum(),
    }
}

/// A saved bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SavedBundle {
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[cfg(test)]
/// The TypeScript the window is compiled against: every type above, the core's presentation,
/// and the typed commands and events.
pub fn typescript() -> String {
    use postern_core::session::Target;
    use postern_core::session::present::{Indicator, SignInPrompt};
    let cfg = ts_rs::Config::default();
    let decls = [
        Indicator::decl(&cfg),
        SignInPrompt::decl(&cfg),
        Target::decl(&cfg),
        Presentation::decl(&cfg),
        AccessChoice::decl(&cfg),
        WindowView::decl(&cfg),
        SettingView::decl(&cfg),
        SettingsView::decl(&cfg),
        CheckLine::decl(&cfg),
        EgressView::decl(&cfg),
        BundleFile::decl(&cfg),
        DiagnosticsPreview::decl(&cfg),
        SavedBundle::decl(&cfg),
        crate::failure::FailureKind::decl(&cfg),
        crate::failure::Failure::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `cargo test -p postern-app` (POSTERN_WRITE_BINDINGS=1\n// rewrites it). Do not edit.\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(decl.trim());
        out.push_str("\n\n");
    }
    out.push_str(&crate::api::typescript::api(
        &crate::api::commands(),
        &crate::api::events(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_compiled_against_the_current_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        let generated = typescript();
        if std::env::var_os("POSTERN_WRITE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/bindings.ts is out of date: run POSTERN_WRITE_BINDINGS=1 cargo test -p postern-app"
        );
    }
}
