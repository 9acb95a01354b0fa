//! The [`Shell`] on the desktop: the tray icon and its menu, the window, and notifications.

use std::sync::Arc;

use postern_core::session::notify::Notice;
use postern_core::session::present::{Indicator, MenuAction, Presentation, tray_menu};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::api;
use crate::controller::{Controller, Shell};

const TRAY_ID: &str = "postern";
pub const MAIN_WINDOW: &str = "main";

fn icon(indicator: Indicator) -> Image<'static> {
    let bytes: &'static [u8] = match indicator {
        Indicator::SignedOut => include_bytes!("../../icons/tray-signed-out.png"),
        Indicator::Working => include_bytes!("../../icons/tray-working.png"),
        Indicator::Ready => include_bytes!("../../icons/tray-ready.png"),
        Indicator::Warning => include_bytes!("../../icons/tray-warning.png"),
        Indicator::Blocked => include_bytes!("../../icons/tray-blocked.png"),
    };
    #[allow(
        clippy::expect_used,
        reason = "the icons are compiled in and checked by the tests"
    )]
    Image::from_bytes(bytes).expect("the tray icons are valid PNGs")
}

fn menu(app: &AppHandle, view: &Presentation) -> tauri::Result<Menu<tauri::Wry>> {
    let items = tray_menu(view)
        .into_iter()
        .enumerate()
        .map(|(n, item)| {
            let id = item
                .action
                .map(|a| a.id().to_string())
                .unwrap_or_else(|| format!("info-{n}"));
            MenuItem::with_id(app, id, item.label, item.enabled, None::<&str>)
        })
        .collect::<tauri::Result<Vec<_>>>()?;
    let refs: Vec<&dyn tauri::menu::IsMenuItem<tauri::Wry>> = items
        .iter()
        .map(|i| i as &dyn tauri::menu::IsMenuItem<tauri::Wry>)
        .collect();
    Menu::with_items(app, &refs)
}

pub fn create_tray(app: &AppHandle) -> tauri::Result<()> {
    let starting = Presentation::problem(
        "Starting…",
        "Postern is starting.".into(),
        "Wait a moment.".into(),
    );
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(Indicator::Working))
        .tooltip("Postern")
        .menu(&menu(app, &starting)?)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Shows the window, creating it if it was closed (closing frees the web view's memory).
/// `false` when it could not open (logged).
pub fn show_window(app: &AppHandle) -> bool {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.show();
        let _ = window.set_focus();
        return true;
    }
    let built = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
        .title("Postern")
        .inner_size(520.0, 720.0)
        .build();
    match built {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!("the window could not open: {e}");
            false
        }
    }
}

fn controller(app: &AppHandle) -> Arc<Controller> {
    app.state::<Arc<Controller>>().inner().clone()
}

fn on_menu(app: &AppHandle, id: &str) {
    let app = app.clone();
    match MenuAction::from_id(id) {
        Some(MenuAction::Connect) => {
            let controller = controller(&app);
            tauri::async_runtime::spawn(async move {
                match controller.connect_obvious().await {
                    Ok(true) => {}
                    Ok(false) => {
                        show_window(&app);
                    }
                    Err(e) => {
                        tracing::warn!("connect from the tray: {e}");
                        show_window(&app);
                    }
                }
            });
        }
        Some(MenuAction::Disconnect) => {
            let controller = controller(&app);
            tauri::async_runtime::spawn(async move {
                let _ = controller.disconnect().await;
            });
        }
        Some(MenuAction::OpenWindow) => {
            show_window(&app);
        }
        Some(MenuAction::ExportDiagnostics) => {
            show_window(&app);
            api::SHOW_DIAGNOSTICS.emit(&app, &());
        }
        Some(MenuAction::Quit) => {
            let controller = controller(&app);
            tauri::async_runtime::spawn(async move {
                controller.shutdown().await;
                app.exit(0);
            });
        }
        Some(MenuAction::Status) | None => {}
    }
}

pub struct TauriShell {
    app: AppHandle,
}

impl TauriShell {
    pub fn new(app: AppHandle) -> Self {
        Self { app }
    }
}

impl Shell for TauriShell {
    fn render(&self, view: &Presentation) {
        if let Some(tray) = self.app.tray_by_id(TRAY_ID) {
            let _ = tray.set_icon(Some(icon(view.indicator)));
            let _ = tray.set_tooltip(Some(&view.headline));
            match menu(&self.app, view) {
                Ok(m) => {
                    let _ = tray.set_menu(Some(m));
                }
                Err(e) => tracing::warn!("the tray menu could not be built: {e}"),
            }
        }
        api::SESSION.emit(&self.app, view);
    }

    fn notify(&self, notice: &Notice) {
        let notice = notice.clone();
        // D-Bus (or the OS API) may block; never on the UI thread.
        std::thread::spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("Postern")
                .summary(&notice.title)
                .body(&notice.body)
                .show();
            match shown {
                Ok(_) => tracing::info!(kind = ?notice.kind, "notified"),
                Err(e) => {
                    tracing::warn!(kind = ?notice.kind, "no notification daemon answered: {e}")
                }
            }
        });
    }
}
