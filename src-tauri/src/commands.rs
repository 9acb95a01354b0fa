//! The window's commands: each forwards to the controller and returns plain view types. No
//! token or credential ever crosses into the web view.

use std::path::PathBuf;
use std::sync::Arc;

use tauri::State;

use crate::controller::Controller;
use crate::view::{CheckLine, DiagnosticsPreview, EgressView, SavedBundle, WindowView};

type Ctl<'a> = State<'a, Arc<Controller>>;

#[tauri::command]
pub fn view(controller: Ctl<'_>) -> WindowView {
    controller.view()
}

#[tauri::command]
pub async fn connect(
    controller: Ctl<'_>,
    account: String,
    role: String,
    profile: Option<String>,
) -> Result<(), String> {
    controller.connect(account, role, profile).await
}

#[tauri::command]
pub async fn disconnect(controller: Ctl<'_>) -> Result<(), String> {
    controller.disconnect().await
}

/// Opens the sign-in page in the person's browser (the web view never loads it).
#[tauri::command]
pub fn open_sign_in(controller: Ctl<'_>) -> Result<(), String> {
    let url = controller.sign_in_url()?;
    webbrowser::open(&url)
        .map_err(|e| format!("The browser could not be opened ({e}); open {url} yourself."))
}

#[tauri::command]
pub async fn check_posture(controller: Ctl<'_>) -> Result<Vec<CheckLine>, String> {
    controller.posture().await
}

#[tauri::command]
pub async fn check_egress(controller: Ctl<'_>) -> Result<EgressView, String> {
    controller.egress().await
}

#[tauri::command]
pub async fn preview_diagnostics(controller: Ctl<'_>) -> Result<DiagnosticsPreview, String> {
    Ok(controller.preview_diagnostics().await)
}

/// Saves the bundle in the Downloads folder (or home), under a dated name.
#[tauri::command]
pub async fn export_diagnostics(controller: Ctl<'_>) -> Result<SavedBundle, String> {
    let dir = std::env::var_os("POSTERN_DIAGNOSTICS_DIR")
        .map(PathBuf::from)
        .or_else(dirs::download_dir)
        .or_else(dirs::home_dir)
        .ok_or("No folder to save the bundle in.")?;
    controller.export_diagnostics(&dir).await
}
