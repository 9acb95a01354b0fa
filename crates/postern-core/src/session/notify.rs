//! Which transitions deserve a desktop notification: only actionable ones, each once. Ready after
//! a real connect (not a credential refresh or a VPN that came back), the VPN dropping, posture
//! failing (naming the check and the fix), credentials about to expire, and a sign-in to finish.
//! The same notice is not repeated within [`Notifier::REPEAT_WINDOW`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use super::{Cause, SessionState, Transition};
use crate::l10n::{text, text_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    Ready,
    VpnDropped,
    PostureFailed,
    ExpiringSoon,
    SignInNeeded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
}

pub struct Notifier {
    previous: SessionState,
    /// When each notice (by kind and its identifying text) was last shown.
    shown: HashMap<(NoticeKind, String), Instant>,
    /// The expiry already warned about, so one set of credentials warns once.
    warned_expiry: Option<OffsetDateTime>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self {
            previous: SessionState::Idle,
            shown: HashMap::new(),
            warned_expiry: None,
        }
    }
}

impl Notifier {
    /// No identical notice twice within this window.
    pub const REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);
    /// Warn this long before credentials expire.
    pub const EXPIRY_WARNING: Duration = Duration::from_secs(10 * 60);

    fn once(&mut self, notice: Notice, key: &str, now: Instant) -> Option<Notice> {
        let id = (notice.kind, key.to_string());
        if let Some(at) = self.shown.get(&id)
            && now.duration_since(*at) < Self::REPEAT_WINDOW
        {
            return None;
        }
        self.shown.insert(id, now);
        Some(notice)
    }

    /// The notice for this transition, if it deserves one.
    pub fn on_transition(&mut self, t: &Transition, now: Instant) -> Option<Notice> {
        let previous = std::mem::replace(&mut self.previous, t.state.clone());
        let was_serving = matches!(
            previous,
            SessionState::Ready { .. } | SessionState::Degraded { .. }
        );
        let notice = |kind, title: &str, body: String| Notice {
            kind,
            title: text(title),
            body,
        };
        match (&t.state, &t.cause) {
            (SessionState::Ready { target, egress, .. }, _) if !was_serving => self.once(
                notice(
                    NoticeKind::Ready,
                    "notice-connected",
                    match egress {
                        Some(egress) => text_with(
                            "notice-connected-through",
                            &[
                                ("account", (&target.account).into()),
                                ("role", (&target.role).into()),
                                ("address", (&egress.to_string()).into()),
                            ],
                        ),
                        None => text_with(
                            "notice-connected-without-egress",
                            &[
                                ("account", (&target.account).into()),
                                ("role", (&target.role).into()),
                                ("egress", (&super::present::egress_not_required()).into()),
                            ],
                        ),
                    },
                ),
                "",
                now,
            ),
            (
                SessionState::Degraded { .. } | SessionState::Blocked { .. },
                cause @ (Cause::VpnReconnecting { .. } | Cause::VpnLost | Cause::VpnFailed { .. }),
            ) if was_serving => {
                let body = format!(
                    "{} {}",
                    crate::l10n::sentence(cause),
                    crate::l10n::next_step(cause).unwrap_or_default()
                );
                self.once(
                    notice(
                        NoticeKind::VpnDropped,
                        "notice-vpn-dropped",
                        body.trim().into(),
                    ),
                    "",
                    now,
                )
            }
            (
                SessionState::Degraded { .. } | SessionState::Blocked { .. },
                cause @ Cause::PostureFailed { failing, .. },
            ) => {
                let key = failing.join(",");
                self.once(
                    notice(
                        NoticeKind::PostureFailed,
                        "notice-device-attention",
                        format!(
                            "{} {}",
                            crate::l10n::sentence(cause),
                            crate::l10n::next_step(cause).unwrap_or_default()
                        ),
                    ),
                    &key,
                    now,
                )
            }
            (
                SessionState::SigningIn {
                    verification_uri: Some(_),
                    user_code,
                },
                _,
            ) => {
                let body = match user_code {
                    Some(code) => text_with("notice-sign-in-code", &[("code", code.into())]),
                    None => text("notice-sign-in-browser"),
                };
                self.once(
                    notice(NoticeKind::SignInNeeded, "notice-sign-in", body),
                    user_code.as_deref().unwrap_or(""),
                    now,
                )
            }
            _ => None,
        }
    }

    /// Called periodically: warns once when the credentials being served expire soon.
    pub fn on_tick(&mut self, wall: OffsetDateTime, now: Instant) -> Option<Notice> {
        let SessionState::Ready { expires_at, .. } = &self.previous else {
            return None;
        };
        let expires_at = *expires_at;
        if self.warned_expiry == Some(expires_at) || expires_at - wall > Self::EXPIRY_WARNING {
            return None;
        }
        self.warned_expiry = Some(expires_at);
        let minutes = ((expires_at - wall).whole_seconds().max(0) + 59) / 60;
        self.once(
            Notice {
                kind: NoticeKind::ExpiringSoon,
                title: text("notice-expiring"),
                body: text_with("notice-expiring-body", &[("minutes", minutes.into())]),
            },
            &expires_at.unix_timestamp().to_string(),
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::session::Target;

    fn target() -> Target {
        Target {
            profile: "corp".into(),
            account: "111122223333".into(),
            role: "Developer".into(),
        }
    }

    fn at(state: SessionState, cause: Cause) -> Transition {
        Transition {
            state,
            cause,
            at: OffsetDateTime::now_utc(),
        }
    }

    fn ready(expires_in: Duration) -> Transition {
        at(
            SessionState::Ready {
                target: target(),
                egress: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10))),
                expires_at: OffsetDateTime::now_utc() + expires_in,
            },
            Cause::AllGatesOpen,
        )
    }

    fn kinds(notices: &[Option<Notice>]) -> Vec<NoticeKind> {
        notices.iter().flatten().map(|n| n.kind).collect()
    }

    #[test]
    fn a_connect_then_a_refresh_says_connected_once() {
        let mut n = Notifier::default();
        let t0 = Instant::now();
        let seen = [
            n.on_transition(
                &at(SessionState::CheckingPosture, Cause::ConnectRequested),
                t0,
            ),
            n.on_transition(&ready(Duration::from_secs(3600)), t0),
            // New credentials: Ready again, no pop-up.
            n.on_transition(&ready(Duration::from_secs(7200)), t0),
        ];
        assert_eq!(kinds(&seen), [NoticeKind::Ready]);
        let body = &seen[1].as_ref().unwrap().body;
        assert!(body.contains("111122223333 / Developer") && body.contains("203.0.113.10"));
    }

    #[test]
    fn a_vpn_drop_notifies_once_and_its_recovery_is_quiet() {
        let mut n = Notifier::default();
        let t0 = Instant::now();
        n.on_transition(&ready(Duration::from_secs(3600)), t0);
        let degraded = |attempt| {
            at(
                SessionState::Degraded {
                    target: target(),
                    cause: Cause::VpnReconnecting { attempt, max: 3 },
                },
                Cause::VpnReconnecting { attempt, max: 3 },
            )
        };
        let seen = [
            n.on_transition(&degraded(1), t0),
            n.on_transition(&degraded(2), t0),
            n.on_transition(&ready(Duration::from_secs(3600)), t0),
            // It drops again a minute later: still within the window, no repeat.
            n.on_transition(&degraded(1), t0 + Duration::from_secs(60)),
            n.on_transition(
                &at(
                    SessionState::Blocked {
                        cause: Cause::VpnLost,
                    },
                    Cause::VpnLost,
                ),
                t0 + Duration::from_secs(70),
            ),
        ];
        assert_eq!(kinds(&seen), [NoticeKind::VpnDropped]);
        assert!(
            seen[0]
                .as_ref()
                .unwrap()
                .body
                .contains("reconnecting (1 of 3)")
        );
        // After the window, a new drop is news again.
        n.on_transition(&ready(Duration::from_secs(3600)), t0);
        let later = n.on_transition(
            &degraded(1),
            t0 + Notifier::REPEAT_WINDOW + Duration::from_secs(1),
        );
        assert_eq!(later.map(|n| n.kind), Some(NoticeKind::VpnDropped));
    }

    #[test]
    fn posture_failure_names_the_check_and_the_fix() {
        let mut n = Notifier::default();
        let cause = Cause::PostureFailed {
            failing: vec!["firewall".into()],
            fixes: vec!["Turn on the firewall in System Settings.".into()],
        };
        let t = at(
            SessionState::Blocked {
                cause: cause.clone(),
            },
            cause,
        );
        let notice = n.on_transition(&t, Instant::now()).unwrap();
        assert_eq!(notice.kind, NoticeKind::PostureFailed);
        assert!(notice.body.contains("(firewall)"), "{}", notice.body);
        assert!(
            notice.body.contains("Turn on the firewall"),
            "{}",
            notice.body
        );
        assert!(
            n.on_transition(&t, Instant::now()).is_none(),
            "deduplicated"
        );
    }

    #[test]
    fn a_sign_in_code_is_announced_once_per_code() {
        let mut n = Notifier::default();
        let t0 = Instant::now();
        let signing = |code: &str| {
            at(
                SessionState::SigningIn {
                    verification_uri: Some("https://device.sso.example/".into()),
                    user_code: Some(code.into()),
                },
                Cause::SignInNeeded,
            )
        };
        let checking = at(
            SessionState::SigningIn {
                verification_uri: None,
                user_code: None,
            },
            Cause::ConnectRequested,
        );
        let seen = [
            n.on_transition(&checking, t0),
            n.on_transition(&signing("ABCD-EFGH"), t0),
            n.on_transition(&signing("ABCD-EFGH"), t0),
            n.on_transition(&signing("WXYZ-1234"), t0),
        ];
        assert_eq!(
            kinds(&seen),
            [NoticeKind::SignInNeeded, NoticeKind::SignInNeeded]
        );
        assert!(seen[3].as_ref().unwrap().body.contains("WXYZ-1234"));
    }

    #[test]
    fn expiry_is_announced_ten_minutes_before_and_only_once() {
        let mut n = Notifier::default();
        let t0 = Instant::now();
        let wall = OffsetDateTime::now_utc();
        n.on_transition(&ready(Duration::from_secs(30 * 60)), t0);
        assert!(n.on_tick(wall, t0).is_none(), "30 minutes left: quiet");
        let soon = n.on_tick(wall + Duration::from_secs(21 * 60), t0).unwrap();
        assert_eq!(soon.kind, NoticeKind::ExpiringSoon);
        assert!(soon.body.contains("9 min"), "{}", soon.body);
        assert!(n.on_tick(wall + Duration::from_secs(22 * 60), t0).is_none());
        // Other states never warn.
        n.on_transition(&at(SessionState::Idle, Cause::UserDisconnected), t0);
        assert!(n.on_tick(wall + Duration::from_secs(29 * 60), t0).is_none());
    }

    #[test]
    fn a_failed_connect_is_not_called_a_vpn_drop() {
        let mut n = Notifier::default();
        let cause = Cause::VpnLost;
        let t = at(
            SessionState::Blocked {
                cause: cause.clone(),
            },
            cause,
        );
        assert!(n.on_transition(&t, Instant::now()).is_none());
    }
}
