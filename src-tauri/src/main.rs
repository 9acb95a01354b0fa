//! Postern's desktop app: a tray icon, a window and notifications, all thin. Every command and
//! menu item forwards to the [`Controller`]; the session itself runs in-process (the same agent
//! `postern agent` runs), so the CLI and `credential_process` talk to this app while it is open.
//!
//! Platform notes: on macOS the tray icon sits in the menu bar and the app has no Dock icon
//! (`ActivationPolicy::Accessory`); on Windows it sits in the notification area; on Linux it is
//! a StatusNotifierItem (libayatana-appindicator), shown by panels that implement it.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod api;
mod controller;
mod failure;
mod names;
mod shell;
mod view;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{Manager, RunEvent};

use controller::{AfterStart, Controller, Places, StartOptions};

/// How long the app waits for the notification area when it is not there yet (a session still
/// starting, Explorer restarting), in tries half a second apart.
const TRAY_TRIES: u32 = 10;

/// The tray icon, tried again while the desktop may still be coming up.
fn create_tray_patiently(handle: &tauri::AppHandle) -> tauri::Result<()> {
    let mut tray = shell::create_tray(handle);
    for _ in 1..TRAY_TRIES {
        if tray.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        tray = shell::create_tray(handle);
    }
    tray
}

fn main() {
    let started = std::time::Instant::now();
    // GDK's OpenGL brings Mesa (and LLVM) into memory at start, about 50 MB, for nothing: a
    // tray and a small form window render well in software. Without GL in GDK, WebKit must not
    // composite with GL either. Measured in benches/app.py. A user's own setting wins.
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: the first statements of main, before any other thread exists.
        #[allow(unsafe_code, reason = "set_var before any thread starts")]
        unsafe {
            std::env::set_var("GDK_GL", "disable");
            std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        }
    }
    // Started at login (the login item's argument): the tray only, and the organization's
    // connect-on-start.
    let at_login = std::env::args().any(|a| a == postern_core::settings::login_item::AT_LOGIN);
    let background = at_login || std::env::args().any(|a| a == "--background");
    if let Err(e) = postern_core::diagnostics::logging::init("app") {
        eprintln!("postern-app: no log file ({e}); continuing without one");
    }
    let app = tauri::Builder::default()
        .invoke_handler(api::handler())
        .setup(move |app| {
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            let handle = app.handle().clone();
            // No tray (a desktop without a notification area, no display): the window stands in.
            let tray = create_tray_patiently(&handle);
            if let Err(e) = &tray {
                tracing::warn!("no tray icon: {e}");
                eprintln!("postern-app: the tray icon cannot be shown ({e}); the window stays open instead.");
            }
            let shell = Arc::new(shell::TauriShell::new(handle.clone()));
            let options = StartOptions {
                policy_file: std::env::var_os("POSTERN_POLICY")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from),
                agent_socket: postern_core::paths::agent_socket(),
                open_browser: true,
                places: Places::ThisUser,
            };
            let controller =
                tauri::async_runtime::block_on(Controller::start(options, shell.clone()));
            app.manage(controller.clone());
            let program = std::env::current_exe().ok();
            match controller.after_start(at_login, program.as_deref()) {
                AfterStart::Quit => {
                    eprintln!("postern-app: started at login, but start at login is off; quitting.");
                    tauri::async_runtime::block_on(controller.shutdown());
                    std::process::exit(0);
                }
                AfterStart::Stay { connect: true } => {
                    let controller = controller.clone();
                    tauri::async_runtime::spawn(async move {
                        match controller.connect_obvious().await {
                            Ok(true) => {}
                            Ok(false) => tracing::info!("connect on start: no obvious account and role; waiting for the person"),
                            Err(e) => tracing::warn!("connect on start: {e}"),
                        }
                    });
                }
                AfterStart::Stay { connect: false } => {}
            }
            if (!background || tray.is_err()) && !shell::show_window(&handle) && tray.is_err() {
                eprintln!(
                    "postern-app: neither the tray icon nor the window can be shown. Is a graphical session running? `postern` works without one."
                );
                tauri::async_runtime::block_on(controller.shutdown());
                std::process::exit(1);
            }
            // Benchmarks and tests wait for this line.
            eprintln!(
                "postern-app: tray ready in {} ms",
                started.elapsed().as_millis()
            );
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!(
                "postern-app: cannot start the desktop app: {e}\nIs a graphical session running? `postern` works without one."
            );
            std::process::exit(1);
        }
    };
    app.run(|_app, event| {
        // Closing the window keeps the app in the tray; only Quit ends it.
        if let RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}
