//! How a session state looks to a person, the same in the tray, the window and the CLI: the icon,
//! one status line, the reason and the next step, and which actions make sense now. Pure
//! functions of the [`Transition`], so every state's rendering is tested without a display.

use std::net::IpAddr;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Cause, SessionState, Target, Transition};
use crate::l10n::{self, text, text_with};

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

/// The one thing the window offers to do now, as its main button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum PrimaryAction {
    Connect,
    /// Open the sign-in page the session waits on.
    SignIn,
    /// Connect again after a stop.
    Retry,
    Disconnect,
    /// Nothing can be done here (no policy, the session could not start).
    None,
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
    /// The target's account as people know it: "Production · 111122223333", or the id.
    pub account_label: Option<String>,
    pub sign_in: Option<SignInPrompt>,
    /// The egress address this session proved, when its rule requires the egress gate.
    pub egress: Option<IpAddr>,
    /// The egress as every door words it: the address, or that the policy does not require it.
    pub egress_text: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expires_at: Option<OffsetDateTime>,
    pub primary: PrimaryAction,
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
            account_label: None,
            sign_in: None,
            egress: None,
            egress_text: None,
            expires_at: None,
            primary: PrimaryAction::None,
        }
    }

    /// While the app starts.
    pub fn starting() -> Self {
        Self::problem(
            &text("state-starting"),
            text("state-starting-reason"),
            text("state-starting-next"),
        )
    }
}

/// What is said in place of an address when the rule does not require the egress gate.
pub fn egress_not_required() -> String {
    text("egress-not-required")
}

/// An account as people know it: "Production · 111122223333" when its name is known.
pub fn account_label(account: &str, name: Option<&str>) -> String {
    match name {
        Some(name) if !name.trim().is_empty() => text_with(
            "account-named",
            &[("name", name.into()), ("id", account.into())],
        ),
        _ => account.to_string(),
    }
}

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
        m if m < 1 => text("expiry-left-under-a-minute"),
        m if m < 120 => text_with("expiry-left-minutes", &[("minutes", m.into())]),
        m => text_with(
            "expiry-left-hours",
            &[("hours", (m / 60).into()), ("minutes", (m % 60).into())],
        ),
    };
    text_with(
        "expiry",
        &[("clock", (&clock).into()), ("left", (&left).into())],
    )
}

/// The egress of a Ready session in words.
pub fn egress_text(egress: Option<IpAddr>) -> String {
    match egress {
        Some(address) => address.to_string(),
        None => egress_not_required(),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The presentation of a transition, with accounts by id only.
pub fn present(t: &Transition) -> Presentation {
    present_named(t, |_| None)
}

/// The presentation of a transition, naming accounts as the portal does (`name_of` an id).
pub fn present_named(t: &Transition, name_of: impl Fn(&str) -> Option<String>) -> Presentation {
    let mut p = Presentation {
        state: t.state.name(),
        indicator: Indicator::Working,
        headline: String::new(),
        reason: None,
        next_step: None,
        can_connect: false,
        can_disconnect: true,
        target: None,
        account_label: None,
        sign_in: None,
        egress: None,
        egress_text: None,
        expires_at: None,
        primary: PrimaryAction::Disconnect,
    };
    let label =
        |target: &Target| account_label(&target.account, name_of(&target.account).as_deref());
    match &t.state {
        SessionState::Idle => {
            p.indicator = Indicator::SignedOut;
            p.headline = text("state-not-connected");
            p.can_connect = true;
            p.can_disconnect = false;
            // An Idle reached by a failure keeps its reason; a plain disconnect needs none.
            if !matches!(t.cause, Cause::UserDisconnected | Cause::AllGatesOpen) {
                p.reason = Some(l10n::sentence(&t.cause));
            }
            p.next_step = Some(text("state-not-connected-next"));
        }
        SessionState::SigningIn {
            verification_uri,
            user_code,
        } => match verification_uri {
            Some(url) => {
                p.indicator = Indicator::SignedOut;
                p.headline = text("state-sign-in");
                p.next_step = Some(match user_code {
                    Some(code) => text_with("state-sign-in-next-code", &[("code", code.into())]),
                    None => text("state-sign-in-next"),
                });
                p.sign_in = Some(SignInPrompt {
                    url: url.clone(),
                    code: user_code.clone(),
                });
            }
            None => p.headline = text("state-checking-sign-in"),
        },
        SessionState::CheckingPosture => p.headline = text("state-checking-device"),
        SessionState::ConnectingVpn { profile, .. } => {
            p.headline = text_with("state-connecting-vpn", &[("profile", profile.into())])
        }
        SessionState::VpnSignIn { url } => {
            p.indicator = Indicator::SignedOut;
            p.headline = text("state-vpn-sign-in");
            p.next_step = Some(text("state-vpn-sign-in-next"));
            p.sign_in = Some(SignInPrompt {
                url: url.clone(),
                code: None,
            });
        }
        SessionState::VerifyingEgress => p.headline = text("state-verifying-egress"),
        SessionState::IssuingCredentials => p.headline = text("state-issuing"),
        SessionState::Ready {
            target,
            egress,
            expires_at,
        } => {
            p.indicator = Indicator::Ready;
            p.headline = text_with(
                "state-protected",
                &[
                    ("account", (&label(target)).into()),
                    ("role", (&target.role).into()),
                ],
            );
            p.account_label = Some(label(target));
            p.target = Some(target.clone());
            p.egress = *egress;
            p.egress_text = Some(egress_text(*egress));
            p.expires_at = Some(*expires_at);
        }
        SessionState::Degraded { target, cause } => {
            p.indicator = Indicator::Warning;
            p.headline = text("state-paused");
            p.reason = Some(l10n::sentence(cause));
            p.next_step = l10n::next_step(cause);
            p.account_label = Some(label(target));
            p.target = Some(target.clone());
        }
        SessionState::Blocked { cause } => {
            p.indicator = Indicator::Blocked;
            p.headline = text("state-blocked");
            p.reason = Some(l10n::sentence(cause));
            p.next_step = l10n::next_step(cause);
            p.can_connect = true;
        }
        SessionState::Disconnecting => {
            p.headline = text("state-disconnecting");
            p.can_disconnect = false;
        }
    }
    p.primary = primary_action(&p);
    p
}

/// The window's main button for a presentation: sign in when a sign-in waits, try again after
/// a stop, connect when idle, else disconnect (which also cancels a Connect under way).
pub fn primary_action(p: &Presentation) -> PrimaryAction {
    if p.sign_in.is_some() {
        PrimaryAction::SignIn
    } else if p.indicator == Indicator::Blocked && p.can_connect {
        PrimaryAction::Retry
    } else if p.can_connect {
        PrimaryAction::Connect
    } else if p.can_disconnect {
        PrimaryAction::Disconnect
    } else {
        PrimaryAction::None
    }
}

/// A presentation as a terminal shows it, one line each: the headline, the served credentials'
/// expiry and egress when ready, the reason, the next step, and the sign-in page as `Open:` and
/// `Code:` lines that scripts read.
pub fn terminal_lines(p: &Presentation, now: OffsetDateTime) -> Vec<String> {
    let mut lines = vec![p.headline.clone()];
    if let (Some(expires_at), Some(egress)) = (p.expires_at, &p.egress_text) {
        let leaving = match p.egress {
            Some(address) => text_with(
                "terminal-leaves-from",
                &[("address", (&address.to_string()).into())],
            ),
            None => egress.clone(),
        };
        let expiry = expiry_text(expires_at, now);
        lines.push(text_with(
            "terminal-served",
            &[("expiry", (&expiry).into()), ("leaving", (&leaving).into())],
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
        let account = p.account_label.clone().unwrap_or_else(|| t.account.clone());
        items.push(info(text_with(
            "menu-account",
            &[("account", (&account).into()), ("role", (&t.role).into())],
        )));
    }
    match (p.egress, &p.egress_text) {
        (Some(ip), _) => items.push(info(text_with(
            "menu-leaving-through",
            &[("address", (&ip.to_string()).into())],
        ))),
        (None, Some(text)) => items.push(info(capitalized(text))),
        (None, None) => {}
    }
    let item = |action: MenuAction, id: &str, enabled: bool| MenuItem {
        action: Some(action),
        label: text(id),
        enabled,
    };
    if p.can_connect || !p.can_disconnect {
        items.push(item(MenuAction::Connect, "menu-connect", p.can_connect));
    } else {
        items.push(item(
            MenuAction::Disconnect,
            "menu-disconnect",
            p.can_disconnect,
        ));
    }
    items.push(item(MenuAction::OpenWindow, "menu-open", true));
    items.push(item(
        MenuAction::ExportDiagnostics,
        "menu-diagnostics",
        true,
    ));
    items.push(item(MenuAction::Quit, "menu-quit", true));
    items
}

#[cfg(test)]
mod tests;
