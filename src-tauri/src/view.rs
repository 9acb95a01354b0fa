//! What the window receives: plain shapes made from the core's reports, typed for TypeScript
//! (`ui/src/bindings.ts` is generated from these, the core's presentation types and the
//! window's API in `api.rs`).

use postern_core::diagnostics::Bundle;
use postern_core::egress::{EgressReport, Verdict};
use postern_core::l10n::{text, text_with};
use postern_core::policy::OrgPolicy;
use postern_core::policy::posture::{CheckName, Requirements};
use postern_core::posture::{Outcome, PostureReport, UnknownReason};
use postern_core::session::journey::Journey;
use postern_core::session::present::{Presentation, account_label};
use postern_core::settings::{Setting, Settings};
use postern_core::vpn::{AuthMode, ProfileSummary};
use serde::Serialize;
use ts_rs::TS;

/// An account and role the policy allows, for the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AccessChoice {
    pub account: String,
    pub role: String,
    /// The account as people know it: "Production · 111122223333" once the portal named it.
    pub account_label: String,
}

/// A stored VPN profile, for the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ProfileChoice {
    pub name: String,
    /// How it connects and where: "certificate · cvpn-endpoint-….eu-west-1.amazonaws.com".
    pub description: String,
}

/// The session as the window shows it: its presentation and the steps of the latest Connect.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SessionView {
    pub presentation: Presentation,
    pub journey: Journey,
}

/// Everything the window shows at once.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WindowView {
    pub session: SessionView,
    pub choices: Vec<AccessChoice>,
    pub profiles: Vec<ProfileChoice>,
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

pub fn choices(policy: &OrgPolicy, name_of: impl Fn(&str) -> Option<String>) -> Vec<AccessChoice> {
    policy
        .access
        .iter()
        .map(|rule| AccessChoice {
            account: rule.account.clone(),
            role: rule.role.clone(),
            account_label: account_label(&rule.account, name_of(&rule.account).as_deref()),
        })
        .collect()
}

pub fn profile_choice(profile: &ProfileSummary) -> ProfileChoice {
    let auth = match profile.auth {
        AuthMode::Certificate => text("window-profile-certificate"),
        AuthMode::UserPassword => text("window-profile-password"),
        AuthMode::Federated => text("window-profile-saml"),
    };
    let remote = profile.remotes.first().map(String::as_str).unwrap_or("");
    ProfileChoice {
        name: profile.name.clone(),
        description: [auth.as_str(), remote]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

impl WindowView {
    /// What one click on Connect (in the tray) should reach without asking: the session's
    /// current account and role, else the policy's only choice. `None`: the person picks in the
    /// window.
    pub fn obvious_target(&self) -> Option<AccessChoice> {
        let current = self
            .session
            .presentation
            .target
            .as_ref()
            .map(|t| AccessChoice {
                account: t.account.clone(),
                role: t.role.clone(),
                account_label: self
                    .session
                    .presentation
                    .account_label
                    .clone()
                    .unwrap_or_else(|| t.account.clone()),
            });
        current.or_else(|| match self.choices.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
    }
}

/// What "Copy details" did: the text, and whether it reached the clipboard (when not, the
/// window shows it to copy by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CopiedDetails {
    pub copied: bool,
    pub text: String,
}

/// The text "Copy details" puts on the clipboard for the helpdesk: the versions and the time,
/// the state with its reason and next step, the account and role, and each step of the latest
/// Connect. The sign-in page and its code are left out: they are for the person alone.
pub fn details(
    session: &SessionView,
    os: &postern_core::diagnostics::OsInfo,
    now: time::OffsetDateTime,
) -> String {
    let p = &session.presentation;
    let system = [os.name.as_deref(), os.kernel.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut lines = vec![
        format!(
            "Postern {} on {} ({}, {})",
            env!("CARGO_PKG_VERSION"),
            os.family,
            system,
            os.arch
        ),
        format!("Time: {at}"),
        format!("State: {} ({})", p.headline, p.state),
    ];
    lines.extend(p.reason.as_ref().map(|r| format!("Why: {r}")));
    lines.extend(p.next_step.as_ref().map(|n| format!("Next step: {n}")));
    if let Some(t) = &p.target {
        let account = p.account_label.as_deref().unwrap_or(&t.account);
        lines.push(format!("Account: {account}, role {}", t.role));
    }
    lines.extend(p.egress_text.as_ref().map(|e| format!("Egress: {e}")));
    for step in &session.journey.steps {
        let elapsed = step
            .elapsed_ms
            .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let status = serde_json::to_value(step.status).unwrap_or_default();
        let name = serde_json::to_value(step.name).unwrap_or_default();
        let mut line = format!(
            "Step {}: {}{elapsed}",
            name.as_str().unwrap_or(""),
            status.as_str().unwrap_or("")
        );
        if let Some(reason) = &step.reason {
            line.push_str(&format!(" ({reason})"));
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// One line of the posture checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CheckLine {
    /// The check's id and subject (`required_process falcon-sensor`), for the helpdesk.
    pub name: String,
    /// What people call it: "Operating system", "Required app: falcon-sensor".
    pub label: String,
    /// What the organization requires: "needs 5.15 or later", "must be on".
    pub requirement: Option<String>,
    /// `pass`, `fail` or `unknown`.
    pub status: String,
    pub detail: String,
    pub remediation: Option<String>,
    /// An unknown that blocks access under the policy.
    pub blocks: bool,
}

/// "needs 5.15 or later", "must be on": what the policy asks of a check.
pub fn requirement(check: CheckName, required: &Requirements) -> Option<String> {
    let on = |yes: bool| yes.then(|| text("need-on"));
    match check {
        CheckName::OsVersion => required
            .min_os_version
            .as_ref()
            .map(|v| text_with("need-os-version", &[("version", (&v.to_string()).into())])),
        CheckName::DiskEncryption => on(required.require_disk_encryption),
        CheckName::Firewall => on(required.require_firewall),
        CheckName::RequiredProcess => Some(text("need-running")),
        CheckName::ForbiddenProcess => Some(text("need-not-running")),
        CheckName::ScreenLock => on(required.require_screen_lock),
        CheckName::SecureBoot => on(required.require_secure_boot),
        CheckName::SystemIntegrity => on(required.require_system_integrity),
        CheckName::Managed => required.require_managed.then(|| text("need-managed")),
    }
}

pub fn checklist(report: &PostureReport, required: &Requirements) -> Vec<CheckLine> {
    report
        .checks
        .iter()
        .map(|c| {
            let name = match &c.subject {
                Some(s) => format!("{} {s}", c.check.key()),
                None => c.check.key().to_string(),
            };
            let kind = text(&format!("check-{}", c.check.key().replace('_', "-")));
            let label = match &c.subject {
                Some(s) => format!("{kind}: {s}"),
                None => kind,
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
                        UnknownReason::NotApplicable => text("check-not-applicable"),
                        UnknownReason::NeedsElevation => text("check-needs-elevation"),
                        UnknownReason::DetectionFailed(d) => {
                            text_with("check-unreadable", &[("detail", d.into())])
                        }
                    },
                    None,
                ),
            };
            CheckLine {
                name,
                label,
                requirement: requirement(c.check, required),
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
        postern_core::session::present::PrimaryAction::decl(&cfg),
        postern_core::session::journey::StepName::decl(&cfg),
        postern_core::session::journey::StepStatus::decl(&cfg),
        postern_core::session::journey::Step::decl(&cfg),
        Journey::decl(&cfg),
        SessionView::decl(&cfg),
        AccessChoice::decl(&cfg),
        ProfileChoice::decl(&cfg),
        WindowView::decl(&cfg),
        SettingView::decl(&cfg),
        SettingsView::decl(&cfg),
        CheckLine::decl(&cfg),
        EgressView::decl(&cfg),
        BundleFile::decl(&cfg),
        DiagnosticsPreview::decl(&cfg),
        SavedBundle::decl(&cfg),
        CopiedDetails::decl(&cfg),
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
