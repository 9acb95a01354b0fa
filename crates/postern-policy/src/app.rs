//! `[app]`: what the organization decides about the desktop app on every machine. A key that is
//! set here is the organization's (shown as locked); a key left out is the person's choice.

use super::reader::{Diagnostics, Table};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSettings {
    /// Start the app (in the tray, without its window) when the person logs in.
    pub start_at_login: Option<bool>,
    /// When the app starts at login, connect to the obvious account and role at once.
    pub connect_on_start: Option<bool>,
}

pub(crate) fn read(t: &mut Table, d: &mut Diagnostics) -> AppSettings {
    AppSettings {
        start_at_login: t.bool(d, "start_at_login").map(|b| b.into_inner()),
        connect_on_start: t.bool(d, "connect_on_start").map(|b| b.into_inner()),
    }
}
