//! The helper under the Windows service manager: it registers for Stop and Shutdown, says
//! Running once the pipe listens, and Stopped (with its exit code) when it ends. The service
//! is installed with its arguments in the image path, e.g.
//! `sc create postern-helper binPath= "C:\…\postern-helper.exe --service" start= auto`.

#![allow(
    unsafe_code,
    reason = "define_windows_service! expands to the service entry point the system calls"
)]

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use crate::Args;

/// The name the service is installed under.
pub const SERVICE_NAME: &str = "postern-helper";

/// The arguments from the image path, read in `main` before the dispatcher takes the thread.
static ARGS: OnceLock<Args> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands the process to the service manager; returns when the service has stopped.
pub fn run(args: Args) -> std::process::ExitCode {
    let log_file = args.log_file.clone().unwrap_or_else(|| default_log(&args));
    if let Some(dir) = log_file.parent()
        && let Err(e) = crate::openvpn::make_private_dir(dir)
    {
        eprintln!("postern-helper: {e}");
    }
    crate::log::HelperLog::install(Some(&log_file));
    let _ = ARGS.set(args);
    match service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(
                "the service manager did not start the helper ({e}); it runs as a service only when the service manager starts it"
            );
            std::process::ExitCode::FAILURE
        }
    }
}

/// The log beside the state directory, in the helper's private folder.
fn default_log(args: &Args) -> std::path::PathBuf {
    args.state_dir
        .parent()
        .unwrap_or(&args.state_dir)
        .join("helper.log")
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::Win32(exit),
        checkpoint: 0,
        wait_hint: if state == ServiceState::StopPending {
            // Ending the tunnel waits up to 15 s for OpenVPN.
            Duration::from_secs(20)
        } else {
            Duration::default()
        },
        process_id: None,
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let Some(args) = ARGS.get().cloned() else {
        return;
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = std::sync::Mutex::new(Some(stop_tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(tx) = stop_tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = match service_control_handler::register(SERVICE_NAME, handler) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("cannot register with the service manager: {e}");
            return;
        }
    };
    let _ = handle.set_service_status(status(ServiceState::Running, 0));
    tracing::info!("running as the {SERVICE_NAME} service");
    let served = crate::serve(args, async move {
        let _ = stop_rx.await;
        tracing::info!("the service manager asked the helper to stop");
        let _ = handle.set_service_status(status(ServiceState::StopPending, 0));
    });
    // ERROR_SERVICE_SPECIFIC_ERROR is how a service says it failed without a Win32 cause.
    let exit = if served.is_ok() { 0 } else { 1066 };
    let _ = handle.set_service_status(status(ServiceState::Stopped, exit));
}
