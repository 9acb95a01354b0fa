//! The [`Shell`] on the desktop: the tray icon and its menu, the window, and notifications.

use std::sync::Arc;

use postern_core::l10n::text;
use postern_core::session::notify::Notice;
use postern_core::session::present::{Indicator, MenuAction, Presentation, tray_menu};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::api;
use crate::controller::{Controller, Shell};
use crate::view::SessionView;

const TRAY_ID: &str = "postern";
pub const MAIN_WINDOW: &str = "main";

/// Each state's icon: a shape of its own, coloured with a light rim (legible on light and dark
/// panels), or on macOS the same shape as a template image the menu bar tints itself
/// (icons/make-tray-icons.py draws both).
fn icon_bytes(indicator: Indicator, template: bool) -> &'static [u8] {
    match (indicator, template) {
        (Indicator::SignedOut, false) => include_bytes!("../../icons/tray-signed-out.png"),
        (Indicator::Working, false) => include_bytes!("../../icons/tray-working.png"),
        (Indicator::Ready, false) => include_bytes!("../../icons/tray-ready.png"),
        (Indicator::Warning, false) => include_bytes!("../../icons/tray-warning.png"),
        (Indicator::Blocked, false) => include_bytes!("../../icons/tray-blocked.png"),
        (Indicator::SignedOut, true) => include_bytes!("../../icons/tray-signed-out-template.png"),
        (Indicator::Working, true) => include_bytes!("../../icons/tray-working-template.png"),
        (Indicator::Ready, true) => include_bytes!("../../icons/tray-ready-template.png"),
        (Indicator::Warning, true) => include_bytes!("../../icons/tray-warning-template.png"),
        (Indicator::Blocked, true) => include_bytes!("../../icons/tray-blocked-template.png"),
    }
}

/// macOS's menu bar wants template images; the other trays show colour.
const TEMPLATE_ICONS: bool = cfg!(target_os = "macos");

fn icon(indicator: Indicator) -> Image<'static> {
    #[allow(
        clippy::expect_used,
        reason = "the icons are compiled in and checked by the tests"
    )]
    Image::from_bytes(icon_bytes(indicator, TEMPLATE_ICONS)).expect("the tray icons are valid PNGs")
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
    let starting = Presentation::starting();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(Indicator::Working))
        .icon_as_template(TEMPLATE_ICONS)
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
        .title(text("window-title"))
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
    fn render(&self, session: &SessionView) {
        let view = &session.presentation;
        if let Some(tray) = self.app.tray_by_id(TRAY_ID) {
            let _ = tray.set_icon(Some(icon(view.indicator)));
            let _ = tray.set_icon_as_template(TEMPLATE_ICONS);
            let _ = tray.set_tooltip(Some(&view.headline));
            match menu(&self.app, view) {
                Ok(m) => {
                    let _ = tray.set_menu(Some(m));
                }
                Err(e) => tracing::warn!("the tray menu could not be built: {e}"),
            }
        }
        api::SESSION.emit(&self.app, session);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (red, green, blue, alpha) rows of a PNG.
    fn rgba(indicator: Indicator, template: bool) -> Vec<[u8; 4]> {
        let image = Image::from_bytes(icon_bytes(indicator, template)).unwrap();
        assert_eq!((image.width(), image.height()), (32, 32));
        image
            .rgba()
            .chunks(4)
            .map(|p| [p[0], p[1], p[2], p[3]])
            .collect()
    }

    fn luminance([r, g, b]: [f64; 3]) -> f64 {
        let linear = |c: f64| {
            let c = c / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    /// WCAG's contrast ratio.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// The share of the icon's area that stands out (3:1, WCAG's figure for graphics) on a
    /// panel of this colour, the icon blended over it as the panel draws it.
    fn standing_out(indicator: Indicator, panel: [f64; 3]) -> f64 {
        let pixels = rgba(indicator, false);
        let shown: Vec<[f64; 3]> = pixels
            .iter()
            .filter(|p| p[3] > 0)
            .map(|p| {
                let a = f64::from(p[3]) / 255.0;
                [0, 1, 2].map(|i| f64::from(p[i]) * a + panel[i] * (1.0 - a))
            })
            .collect();
        let clear = shown.iter().filter(|c| contrast(**c, panel) >= 3.0).count();
        clear as f64 / shown.len() as f64
    }

    #[test]
    fn every_state_icon_stands_out_on_light_and_dark_panels() {
        // GNOME's and KDE's light panels, Windows' and macOS's dark ones.
        for panel in [[246.0, 246.0, 246.0], [255.0; 3], [30.0; 3], [0.0; 3]] {
            for indicator in Indicator::ALL {
                let share = standing_out(indicator, panel);
                assert!(
                    share >= 0.4,
                    "{indicator:?} on {panel:?}: only {:.0}% stands out",
                    share * 100.0
                );
            }
        }
    }

    /// The opaque pixels, as a shape.
    fn mask(indicator: Indicator, template: bool) -> Vec<bool> {
        rgba(indicator, template)
            .iter()
            .map(|p| p[3] >= 128)
            .collect()
    }

    #[test]
    fn the_shape_alone_tells_every_state_apart() {
        // For colour-blind people: the template (shape only) masks differ pairwise.
        for (i, a) in Indicator::ALL.iter().enumerate() {
            for b in &Indicator::ALL[i + 1..] {
                let (ma, mb) = (mask(*a, true), mask(*b, true));
                let both = ma.iter().zip(&mb).filter(|(x, y)| **x && **y).count();
                let either = ma.iter().zip(&mb).filter(|(x, y)| **x || **y).count();
                let overlap = both as f64 / either as f64;
                assert!(
                    overlap < 0.8,
                    "{a:?} and {b:?} share {:.0}% of their shape",
                    overlap * 100.0
                );
            }
        }
    }

    #[test]
    fn template_icons_are_black_shapes_the_menu_bar_can_tint() {
        for indicator in Indicator::ALL {
            let pixels = rgba(indicator, true);
            assert!(pixels.iter().all(|p| p[..3] == [0, 0, 0]), "{indicator:?}");
            assert!(
                pixels.iter().filter(|p| p[3] == 255).count() > 100,
                "{indicator:?}"
            );
        }
    }
}
