//! The endpoint's pushed DNS on this machine's resolver, while the tunnel is up: systemd-resolved
//! per link on Linux (through `resolvectl`), a supplemental resolver entry through `scutil` on
//! macOS. On Windows OpenVPN itself sets the pushed servers on the tunnel adapter (and they go
//! with the adapter), so the helper only reports them. On Linux the settings belong to the tunnel's interface, so they end with it even when
//! OpenVPN is killed; they are also reverted on disconnect and re-applied after a reconnect.
//! What to run and how to read the answers lives in `postern_ovpn::dns`.

use std::path::PathBuf;
#[cfg(not(windows))]
use std::process::Stdio;
#[cfg(not(windows))]
use std::time::Duration;

use postern_ovpn::dns::{DnsState, PushedDns};
#[cfg(not(windows))]
use tokio::process::Command;

/// One resolver tool run may take this long.
#[cfg(not(windows))]
const TOOL_LIMIT: Duration = Duration::from_secs(5);

pub struct Resolver {
    /// The resolver manager's tool (`resolvectl` on Linux, `scutil` on macOS).
    tool: PathBuf,
}

/// A finished tool run: success, or its error text.
#[cfg(not(windows))]
async fn run(tool: &PathBuf, args: &[String], stdin: Option<&str>) -> Result<(), String> {
    let mut command = Command::new(tool);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| format!("{} could not be started: {e}", tool.display()))?;
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        input
            .write_all(text.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    match tokio::time::timeout(TOOL_LIMIT, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "{} did not answer within {} s",
            tool.display(),
            TOOL_LIMIT.as_secs()
        )),
    }
}

impl Resolver {
    pub fn new(tool: PathBuf) -> Self {
        Self { tool }
    }

    /// Puts `dns` in effect for the tunnel's interface `device`, and says how it stands.
    pub async fn apply(&self, device: Option<&str>, dns: &PushedDns) -> DnsState {
        if dns.servers.is_empty() {
            return DnsState::NotPushed;
        }
        // Windows has no tool to run: OpenVPN sets the adapter's servers.
        if cfg!(not(windows)) && !self.tool.is_file() {
            return DnsState::NotApplied {
                reason: format!(
                    "no resolver manager is installed ({} is missing)",
                    self.tool.display()
                ),
            };
        }
        match self.set(device, dns).await {
            Ok(via) => DnsState::Applied {
                servers: dns.servers.clone(),
                domains: dns.domains.clone(),
                via: via.into(),
            },
            Err(reason) => {
                self.revert(device).await;
                DnsState::NotApplied { reason }
            }
        }
    }

    #[cfg(target_os = "linux")]
    async fn set(&self, device: Option<&str>, dns: &PushedDns) -> Result<&'static str, String> {
        use postern_ovpn::dns::{resolvectl_commands, resolvectl_refusal};
        let Some(device) = device else {
            return Err("OpenVPN did not say which interface the tunnel uses".into());
        };
        for args in resolvectl_commands(device, dns) {
            run(&self.tool, &args, None)
                .await
                .map_err(|e| resolvectl_refusal(&e))?;
        }
        Ok("systemd-resolved")
    }

    #[cfg(target_os = "macos")]
    async fn set(&self, _device: Option<&str>, dns: &PushedDns) -> Result<&'static str, String> {
        use postern_ovpn::dns::scutil_script;
        run(&self.tool, &[], Some(&scutil_script(dns)))
            .await
            .map_err(|e| format!("scutil refused the settings: {}", e.trim()))?;
        Ok("the system configuration (scutil)")
    }

    #[cfg(windows)]
    async fn set(&self, _device: Option<&str>, _dns: &PushedDns) -> Result<&'static str, String> {
        Ok("OpenVPN, on the tunnel adapter")
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    async fn set(&self, _device: Option<&str>, _dns: &PushedDns) -> Result<&'static str, String> {
        Err("Postern does not set DNS on this system yet".into())
    }

    /// Takes the settings back (the interface may already be gone, which is fine).
    pub async fn revert(&self, device: Option<&str>) {
        if !self.tool.is_file() {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(device) = device {
            let _ = run(&self.tool, &["revert".into(), device.into()], None).await;
        }
        #[cfg(target_os = "macos")]
        {
            let _ = device;
            let script = postern_ovpn::dns::scutil_removal();
            let _ = run(&self.tool, &[], Some(&script)).await;
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        let _ = device;
    }
}

/// Where the resolver manager's tool is, by default.
pub const DEFAULT_TOOL: &str = if cfg!(target_os = "macos") {
    "/usr/sbin/scutil"
} else {
    "/usr/bin/resolvectl"
};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn pushed() -> PushedDns {
        postern_ovpn::dns::pushed_dns("dhcp-option DNS 10.0.0.2,dhcp-option DOMAIN corp.internal")
    }

    #[tokio::test]
    async fn a_missing_resolver_manager_is_said_and_nothing_is_run() {
        let resolver = Resolver::new("/nonexistent/resolvectl".into());
        match resolver.apply(Some("tun0"), &pushed()).await {
            DnsState::NotApplied { reason } => {
                assert!(
                    reason.contains("no resolver manager is installed"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            resolver.apply(Some("tun0"), &PushedDns::default()).await,
            DnsState::NotPushed
        );
    }

    #[tokio::test]
    async fn a_refusing_tool_is_reported_with_its_words_and_reverted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let tool = dir.path().join("resolvectl");
        std::fs::write(
            &tool,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\n[ \"$1\" = revert ] && exit 0\necho 'Failed to set DNS configuration: The name org.freedesktop.resolve1 was not provided by any .service files' >&2\nexit 1\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = Resolver::new(tool).apply(Some("tun0"), &pushed()).await;
        assert_eq!(
            state,
            DnsState::NotApplied {
                reason: "no resolver manager (systemd-resolved) runs on this machine".into()
            }
        );
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls, "dns tun0 10.0.0.2\nrevert tun0\n");
    }
}
