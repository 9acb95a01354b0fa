//! Where the organization policy is looked for.

use std::path::PathBuf;

/// Where an MDM or installer writes the organization policy for every user of the machine.
pub fn system_policy_file() -> PathBuf {
    #[cfg(target_os = "macos")]
    return PathBuf::from("/Library/Application Support/Postern/policy.toml");
    #[cfg(windows)]
    return std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join(r"Postern\policy.toml");
    #[cfg(not(any(target_os = "macos", windows)))]
    return PathBuf::from("/etc/postern/policy.toml");
}

/// The user's own configuration directory (`~/.config/postern` on Linux).
pub fn user_config_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("postern"))
}

/// The policy file Group Policy names (`HKLM\SOFTWARE\Policies\Postern`, value `PolicyFile`,
/// as the ADMX template under `installers/windows` sets it); `None` elsewhere or when unset.
pub fn group_policy_file() -> Option<PathBuf> {
    #[cfg(windows)]
    return registry::machine_string(r"SOFTWARE\Policies\Postern", "PolicyFile")
        .filter(|v| !v.trim().is_empty())
        .map(PathBuf::from);
    #[cfg(not(windows))]
    None
}

#[cfg(windows)]
#[allow(unsafe_code, reason = "one registry read through Win32")]
mod registry {
    use std::ffi::OsStr;
    use std::os::windows::ffi::OsStrExt;

    use windows_sys::Win32::System::Registry::{
        HKEY_LOCAL_MACHINE, RRF_RT_REG_EXPAND_SZ, RRF_RT_REG_SZ, RegGetValueW,
    };

    fn wide(s: &str) -> Vec<u16> {
        OsStr::new(s).encode_wide().chain(Some(0)).collect()
    }

    /// A string value under HKLM (environment variables in REG_EXPAND_SZ expanded).
    pub fn machine_string(key: &str, value: &str) -> Option<String> {
        let (key, value) = (wide(key), wide(value));
        let flags = RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ;
        let mut len = 0u32;
        // SAFETY: asking for the size only.
        let rc = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                value.as_ptr(),
                flags,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut len,
            )
        };
        if rc != 0 || len == 0 {
            return None;
        }
        let mut buffer = vec![0u16; (len as usize).div_ceil(2)];
        // SAFETY: the buffer holds `len` bytes.
        let rc = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                value.as_ptr(),
                flags,
                std::ptr::null_mut(),
                buffer.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return None;
        }
        let end = buffer.iter().position(|c| *c == 0).unwrap_or(buffer.len());
        Some(String::from_utf16_lossy(&buffer[..end]))
    }
}
