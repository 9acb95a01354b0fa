//! The window's API: its commands and its events, each declared once here. The declarations
//! make the Tauri commands, the invoke handler, the typed events the Rust side emits, and the
//! typed TypeScript functions the window calls (`ui/src/bindings.ts`, checked by a test), so a
//! renamed command, a new argument or a changed payload breaks the window's build, not the
//! running window. Every command forwards to the controller and returns plain view types; no
//! token or credential ever crosses into the web view.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use std::collections::BTreeMap;

use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::controller::Controller;
use crate::failure::CommandError;
use crate::view::{
    CheckLine, CopiedDetails, DiagnosticsPreview, EgressView, SavedBundle, SessionView,
    SettingsView, WindowView,
};

type Ctl<'a> = State<'a, Arc<Controller>>;

/// Declares the window's commands: each becomes an async Tauri command returning
/// `Result<T, CommandError>`, an entry of [`handler`], and a typed TypeScript function.
macro_rules! window_commands {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident($ctl:ident $(, $arg:ident: $ty:ty)*) -> $ok:ty $body:block
    )*) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command]
            pub async fn $name($ctl: Ctl<'_>, $($arg: $ty),*) -> Result<$ok, CommandError> $body
        )*

        /// The invoke handler: every command above, and only those.
        pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        #[cfg(test)]
        pub(crate) fn commands() -> Vec<typescript::Command> {
            vec![$(typescript::Command {
                name: stringify!($name),
                doc: concat!($($doc, "\n"),*),
                args: vec![$((stringify!($arg), typescript::name::<$ty>())),*],
                ok: typescript::name::<$ok>(),
            }),*]
        }
    };
}

window_commands! {
    /// Everything the window shows at once.
    fn view(controller) -> WindowView {
        Ok(controller.view())
    }

    /// The window's words, by id (the catalogue's `window-…` messages).
    fn texts(controller) -> BTreeMap<String, String> {
        let _ = controller;
        Ok(postern_core::l10n::window_texts())
    }

    /// Puts the details for the helpdesk (no secrets) on the clipboard.
    fn copy_details(controller) -> CopiedDetails {
        Ok(controller.copy_details())
    }

    /// Connects to this account and role (and VPN profile, else the policy's).
    fn connect(controller, account: String, role: String, profile: Option<String>) -> () {
        controller.connect(account, role, profile).await
    }

    /// Withdraws the credentials and brings the tunnel down.
    fn disconnect(controller) -> () {
        controller.disconnect().await
    }

    /// Opens the sign-in page in the person's browser (the web view never loads it).
    fn open_sign_in(controller) -> () {
        let url = controller.sign_in_url()?;
        webbrowser::open(&url).map_err(|e| CommandError::BrowserNotOpened {
            url,
            detail: e.to_string(),
        })
    }

    /// The device checklist, evaluated now.
    fn check_posture(controller) -> Vec<CheckLine> {
        controller.posture().await
    }

    /// Where traffic leaves now.
    fn check_egress(controller) -> EgressView {
        controller.egress().await
    }

    /// Turns start at login on or off (refused when the organization decides).
    fn set_start_at_login(controller, on: bool) -> SettingsView {
        controller.set_start_at_login(on)
    }

    /// The diagnostics bundle's files before it is saved.
    fn preview_diagnostics(controller) -> DiagnosticsPreview {
        Ok(controller.preview_diagnostics().await)
    }

    /// Saves the bundle in the Downloads folder (or home), under a dated name.
    fn export_diagnostics(controller) -> SavedBundle {
        let dir = std::env::var_os("POSTERN_DIAGNOSTICS_DIR")
            .map(PathBuf::from)
            .or_else(dirs::download_dir)
            .or_else(dirs::home_dir)
            .ok_or(CommandError::NoFolderForBundle)?;
        controller.export_diagnostics(&dir).await
    }
}

/// An event the Rust side sends the window, with its payload's type.
pub struct WindowEvent<T> {
    pub name: &'static str,
    payload: PhantomData<fn(&T)>,
}

impl<T: Serialize + Clone> WindowEvent<T> {
    const fn named(name: &'static str) -> Self {
        Self {
            name,
            payload: PhantomData,
        }
    }

    /// Sends it to every window. A window that is gone has nothing to update: logged only.
    pub fn emit(&self, app: &AppHandle, payload: &T) {
        if let Err(e) = app.emit(self.name, payload) {
            tracing::warn!(event = self.name, "the window could not be told: {e}");
        }
    }
}

/// Declares the window's events: each becomes a typed [`WindowEvent`] constant and a typed
/// TypeScript listener.
macro_rules! window_events {
    ($(
        $(#[doc = $doc:literal])*
        $konst:ident = $name:literal: $payload:ty;
    )*) => {
        $(
            $(#[doc = $doc])*
            pub const $konst: WindowEvent<$payload> = WindowEvent::named($name);
        )*

        #[cfg(test)]
        pub(crate) fn events() -> Vec<typescript::Event> {
            vec![$(typescript::Event {
                name: $name,
                doc: concat!($($doc, "\n"),*),
                payload: typescript::name::<$payload>(),
            }),*]
        }
    };
}

window_events! {
    /// Every new session state, as presented, with the steps of the latest Connect.
    SESSION = "session": SessionView;
    /// The tray asked for the diagnostics section.
    SHOW_DIAGNOSTICS = "show-diagnostics": ();
}

#[cfg(test)]
pub(crate) mod typescript {
    //! The TypeScript the window calls the API through.

    use ts_rs::TS;

    pub struct Command {
        pub name: &'static str,
        pub doc: &'static str,
        pub args: Vec<(&'static str, String)>,
        pub ok: String,
    }

    pub struct Event {
        pub name: &'static str,
        pub doc: &'static str,
        pub payload: String,
    }

    pub fn name<T: TS>() -> String {
        T::name(&ts_rs::Config::default())
    }

    fn camel(snake: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in snake.chars() {
            match c {
                '_' | '-' => upper = true,
                c if upper => {
                    out.extend(c.to_uppercase());
                    upper = false;
                }
                c => out.push(c),
            }
        }
        out
    }

    fn comment(doc: &str, indent: &str) -> String {
        let lines: Vec<&str> = doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            return String::new();
        }
        format!("{indent}/** {} */\n", lines.join(" "))
    }

    /// `commands(invoke)` and `events(listen)`: one typed function per command and event.
    /// Tauri's invoke takes the arguments' names in camelCase.
    pub fn api(commands: &[Command], events: &[Event]) -> String {
        let mut out = String::from(
            "/** Tauri's `core.invoke`: resolves with the command's value, rejects with a `Failure`. */\n\
             export type Invoke = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;\n\n\
             /** The window's commands. */\n\
             export const commands = (invoke: Invoke) => ({\n",
        );
        for c in commands {
            let params: Vec<String> = c
                .args
                .iter()
                .map(|(n, t)| format!("{}: {t}", camel(n)))
                .collect();
            let names: Vec<String> = c.args.iter().map(|(n, _)| camel(n)).collect();
            let args = if names.is_empty() {
                String::new()
            } else {
                format!(", {{ {} }}", names.join(", "))
            };
            out.push_str(&comment(c.doc, "  "));
            out.push_str(&format!(
                "  {}: ({}): Promise<{}> => invoke<{}>(\"{}\"{args}),\n",
                camel(c.name),
                params.join(", "),
                c.ok,
                c.ok,
                c.name
            ));
        }
        out.push_str(
            "});\n\n\
             /** Tauri's `event.listen`: resolves with the function that stops listening. */\n\
             export type Listen = <T>(event: string, handler: (event: { payload: T }) => void) => Promise<() => void>;\n\n\
             /** The window's events. */\n\
             export const events = (listen: Listen) => ({\n",
        );
        for e in events {
            out.push_str(&comment(e.doc, "  "));
            out.push_str(&format!(
                "  {}: (handler: (payload: {p}) => void): Promise<() => void> =>\n    listen<{p}>(\"{}\", (event) => handler(event.payload)),\n",
                camel(e.name),
                e.name,
                p = e.payload
            ));
        }
        out.push_str("});\n");
        out
    }

    #[test]
    fn names_are_camel_case_as_tauri_expects() {
        assert_eq!(camel("check_posture"), "checkPosture");
        assert_eq!(camel("show-diagnostics"), "showDiagnostics");
        assert_eq!(camel("view"), "view");
    }
}
