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
/// a string); `Ok(None)` elsewhere or when unset, an error when set but not a string.
pub fn group_policy_file() -> Result<Option<PathBuf>, String> {
    #[cfg(windows)]
    return registry::machine_string(r"SOFTWARE\Policies\Postern", "PolicyFile")
        .map(|v| v.filter(|v| !v.trim().is_empty()).map(PathBuf::from));
    #[cfg(not(windows))]
    Ok(None)
}

#[cfg(windows)]
#[allow(unsafe_code, reason = "one registry read through Win32")]
mod registry {
    use std::ffi::OsStr;
    use std::os::windows::ffi::OsStrExt;

    use windows_sys::Win32::Foundation::{
        ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_UNSUPPORTED_TYPE,
    };
    use windows_sys::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW};

    fn wide(s: &str) -> Vec<u16> {
        OsStr::new(s).encode_wide().chain(Some(0)).collect()
    }

    /// A string value under HKLM (REG_SZ, or REG_EXPAND_SZ with its variables expanded);
    /// `Ok(None)` when the key or value does not exist.
    pub fn machine_string(key: &str, value: &str) -> Result<Option<String>, String> {
        let (key, value) = (wide(key), wide(value));
        let read = |buffer: *mut u16, len: &mut u32| {
            // SAFETY: the buffer is null (asking for the size) or holds `len` bytes.
            unsafe {
                RegGetValueW(
                    HKEY_LOCAL_MACHINE,
                    key.as_ptr(),
                    value.as_ptr(),
                    RRF_RT_REG_SZ,
                    std::ptr::null_mut(),
                    buffer.cast(),
                    len,
                )
            }
        };
        let mut len = 0u32;
        let mut buffer = Vec::new();
        // Bounded: the value may grow between the two calls, so a few tries.
        for _ in 0..3 {
            let rc = read(std::ptr::null_mut(), &mut len);
            match rc {
                0 => {}
                ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND => return Ok(None),
                ERROR_UNSUPPORTED_TYPE => return Err("the value is not a string".into()),
                rc => return Err(std::io::Error::from_raw_os_error(rc as i32).to_string()),
            }
            buffer = vec![0u16; (len as usize).div_ceil(2)];
            if read(buffer.as_mut_ptr(), &mut len) == 0 {
                let end = buffer.iter().position(|c| *c == 0).unwrap_or(buffer.len());
                return Ok(Some(String::from_utf16_lossy(&buffer[..end])));
            }
        }
        Err(format!(
            "the value kept changing ({} bytes)",
            buffer.len() * 2
        ))
    }
}
