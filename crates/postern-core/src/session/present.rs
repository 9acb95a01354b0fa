//! How a session state looks to a person, the same in the tray, the window and the CLI: the icon,
//! one status line, the reason and the next step, and which actions make sense now. Pure
//! functions of the [`Transition`], so every state's rendering is tested without a display.

use std::net::IpAddr;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Cause, SessionState, Target, Transition};

/// The tray icon: one per kind of situation, not per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Indicator {
    /// No credentials and nothing in progress (or waiting for the person to sign in).
    SignedOut,
    Working,
    Ready,
    /// Was ready; paused for a reason that may pass (the VPN reconnecting).
    Warning,
    Blocked,
}

impl Indicator {
    pub const ALL: [Indicator; 5] = [
        Indicator::SignedOut,
        Indicator::Working,
        Indicator::Ready,
        Indicator::Warning,
        Indicator::Blocked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Indicator::SignedOut => "signed-out",
            Indicator::Working => "working",
            Indicator::Ready => "ready",
            Indicator::Warning => "warning",
            Indicator::Blocked => "blocked",
        }
    }
}

/// The sign-in the person must finish in a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SignInPrompt {
    pub url: String,
    pub code: Option<String>,
}

/// Everything a door shows for one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Presentation {
    /// The session state's name (`SessionState::name`), or `not-configured`.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub state: &'static str,
    pub indicator: Indicator,
    /// One line: where things stand.
    pub headline: String,
    /// Why, when something stopped or is paused.
    pub reason: Option<String>,
    /// The one thing to do next, if anything.
    pub next_step: Option<String>,
    pub can_connect: bool,
    pub can_disconnect: bool,
    pub target: Option<Target>,
    pub sign_in: Option<SignInPrompt>,
    /// The egress address this session proved, when its rule requires the egress gate.
    pub egress: Option<IpAddr>,
    /// The egress as every door words it: the address, or that the policy does not require it.
    pub egress_text: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expires_at: Option<OffsetDateTime>,
}

impl Presentation {
    /// Nothing can run: no usable policy, or the agent could not start. Says why and what to do.
    pub fn problem(headline: &str, reason: String, next_step: String) -> Self {
        Self {
            state: "not-configured",
            indicator: Indicator::Blocked,
            headline: headline.into(),
            reason: Some(reason),
            next_step: Some(next_step),
            can_connect: false,
            can_disconnect: false,
            target: None,
            sign_in: None,
            egress: None,
            egress_text: None,
            expires_at: None,
        }
    }
}

/// What is said in place of an address when the rule does not require the egress gate.
pub const EGRESS_NOT_REQUIRED: &str = "egress not required by policy";

/// When credentials expire, as people read it: the local wall-clock time and how long is left
/// ("until 20:32, in 59 min").
pub fn expiry_text(expires_at: OffsetDateTime, now: OffsetDateTime) -> String {
    expiry_text_in(&jiff::tz::TimeZone::system(), expires_at, now)
}

pub fn expiry_text_in(
    zone: &jiff::tz::TimeZone,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> String {
    let clock = jiff::Timestamp::from_second(expires_at.unix_timestamp())
        .map(|t| t.to_zoned(zone.clone()).strftime("%H:%M").to_string())
        .unwrap_or_else(|_| expires_at.to_string());
    let minutes = (expires_at - now).whole_minutes();
    let left = match minutes {
        m if m < 1 => "in less than a minute".to_string(),
        m if m < 120 => format!("in {m} min"),
        m => format!("in {} h {} min", m / 60, m % 60),
    };
    format!("until {clock}, {left}")
}

/// The egress of a Ready session in words.
pub fn egress_text(egress: Option<IpAddr>) -> String {
    match egress {
        Some(address) => address.to_string(),
        None => EGRESS_NOT_REQUIRED.into(),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

pub fn present(t: &Transition) -> Presentation {
    let mut p = Presentation {
        state: t.state.name(),
        indicator: Indicator::Working,
        headline: String::new(),
        reason: None,
        next_step: None,
        can_connect: false,
        can_disconnect: true,
        target: None,
        sign_in: None,
        egress: None,
        egress_text: None,
        expires_at: None,
    };
    match &t.state {
        SessionState::Idle => {
            p.indicator = Indicator::SignedOut;
            p.headline = "Not connected".into();
            p.can_connect = true;
            p.can_disconnect = false;
            // An Idle reached by a failure keeps its reason; a plain disconnect needs none.
            if !matches!(t.cause, Cause::UserDisconnected | Cause::AllGatesOpen) {
                p.reason = Some(t.cause.sentence());
            }
            p.next_step = Some("Click Connect when you need AWS access.".into());
        }
        SessionState::SigningIn {
            verification_uri,
            user_code,
        } => match verification_uri {
            Some(url) => {
                p.indicator = Indicator::SignedOut;
                p.headline = "Sign in to continue".into();
                p.next_step = Some(match user_code {
                    Some(code) => format!("Open the sign-in page and confirm the code {code}."),
                    None => "Finish signing in in your browser.".into(),
                });
                p.sign_in = Some(SignInPrompt {
                    url: url.clone(),
                    code: user_code.clone(),
                });
            }
            None => p.headline = "Checking your sign-in…".into(),
        },
        SessionState::CheckingPosture => p.headline = "Checking this device…".into(),
        SessionState::ConnectingVpn { profile, .. } => {
            p.headline = format!("Connecting the VPN '{profile}'…")
        }
        SessionState::VpnSignIn { url } => {
            p.indicator = Indicator::SignedOut;
            p.headline = "Sign in to the VPN in your browser".into();
            p.next_step = Some(
                "If no browser page opened, open the link below; the VPN waits up to 5 minutes."
                    .into(),
            );
            p.sign_in = Some(SignInPrompt {
                url: url.clone(),
                code: None,
            });
        }
        SessionState::VerifyingEgress => {
            p.headline = "Verifying that traffic leaves through the company network…".into()
        }
        SessionState::IssuingCredentials => p.headline = "Getting AWS credentials…".into(),
        SessionState::Ready {
            target,
            egress,
            expires_at,
        } => {
            p.indicator = Indicator::Ready;
            p.headline = format!("Protected: {} / {}", target.account, target.role);
            p.target = Some(target.clone());
            p.egress = *egress;
            p.egress_text = Some(egress_text(*egress));
            p.expires_at = Some(*expires_at);
        }
        SessionState::Degraded { target, cause } => {
            p.indicator = Indicator::Warning;
            p.headline = "Paused: AWS credentials are withheld".into();
            p.reason = Some(cause.sentence());
            p.next_step = non_empty(cause.next_step());
            p.target = Some(target.clone());
        }
        SessionState::Blocked { cause } => {
            p.indicator = Indicator::Blocked;
            p.headline = "Blocked: no AWS credentials".into();
            p.reason = Some(cause.sentence());
            p.next_step = non_empty(cause.next_step());
            p.can_connect = true;
        }
        SessionState::Disconnecting => {
            p.headline = "Disconnecting…".into();
            p.can_disconnect = false;
        }
    }
    p
}

/// A presentation as a terminal shows it, one line each: the headline, the served credentials'
/// expiry and egress when ready, the reason, the next step, and the sign-in page as `Open:` and
/// `Code:` lines that scripts read.
pub fn terminal_lines(p: &Presentation, now: OffsetDateTime) -> Vec<String> {
    let mut lines = vec![p.headline.clone()];
    if let (Some(expires_at), Some(egress)) = (p.expires_at, &p.egress_text) {
        let leaving = match p.egress {
            Some(address) => format!("traffic leaves from {address}"),
            None => egress.clone(),
        };
        lines.push(format!(
            "AWS credentials are served {}; {leaving}.",
            expiry_text(expires_at, now)
        ));
    }
    lines.extend(p.reason.iter().chain(&p.next_step).cloned());
    if let Some(sign_in) = &p.sign_in {
        lines.push(format!("Open: {}", sign_in.url));
        if let Some(code) = &sign_in.code {
            lines.push(format!("Code: {code}"));
        }
    }
    lines
}

/// What a tray menu item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MenuAction {
    /// The status line: not clickable.
    Status,
    Connect,
    Disconnect,
    OpenWindow,
    ExportDiagnostics,
    Quit,
}

impl MenuAction {
    pub const ALL: [MenuAction; 6] = [
        MenuAction::Status,
        MenuAction::Connect,
        MenuAction::Disconnect,
        MenuAction::OpenWindow,
        MenuAction::ExportDiagnostics,
        MenuAction::Quit,
    ];

    pub fn id(self) -> &'static str {
        match self {
            MenuAction::Status => "status",
            MenuAction::Connect => "connect",
            MenuAction::Disconnect => "disconnect",
            MenuAction::OpenWindow => "open",
            MenuAction::ExportDiagnostics => "diagnostics",
            MenuAction::Quit => "quit",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuItem {
    pub action: Option<MenuAction>,
    pub label: String,
    pub enabled: bool,
}

/// The tray menu for a presentation: status (with the reason), the account and role, Connect or
/// Disconnect, then the fixed items. `None` actions are informational lines.
pub fn tray_menu(p: &Presentation) -> Vec<MenuItem> {
    let info = |label: String| MenuItem {
        action: None,
        label,
        enabled: false,
    };
    let mut items = vec![MenuItem {
        action: Some(MenuAction::Status),
        label: match &p.reason {
            Some(reason) => format!("{} — {reason}", p.headline),
            None => p.headline.clone(),
        },
        enabled: false,
    }];
    if let Some(t) = &p.target {
        items.push(info(format!("Account {} · role {}", t.account, t.role)));
    }
    match (p.egress, &p.egress_text) {
        (Some(ip), _) => items.push(info(format!("Leaving through {ip}"))),
        (None, Some(text)) => items.push(info(capitalized(text))),
        (None, None) => {}
    }
    let item = |action: MenuAction, label: &str, enabled: bool| MenuItem {
        action: Some(action),
        label: label.into(),
        enabled,
    };
    if p.can_connect || !p.can_disconnect {
        items.push(item(MenuAction::Connect, "Connect", p.can_connect));
    } else {
        items.push(item(MenuAction::Disconnect, "Disconnect", p.can_disconnect));
    }
    items.push(item(MenuAction::OpenWindow, "Open Postern", true));
    items.push(item(
        MenuAction::ExportDiagnostics,
        "Export diagnostics…",
        true,
    ));
    items.push(item(MenuAction::Quit, "Quit Postern", true));
    items
}

#[cfg(test)]
mod tests;
