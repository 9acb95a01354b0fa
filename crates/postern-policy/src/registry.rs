//! The Win32 registry calls Postern makes: Group Policy's values under HKLM (read), the login
//! item under HKCU's Run key (read, written, removed by `postern-settings`).

#![allow(unsafe_code, reason = "registry calls through Win32")]

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;

use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_UNSUPPORTED_TYPE,
};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, REG_SZ, RRF_RT_REG_DWORD, RRF_RT_REG_SZ,
    RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW,
};

/// A value, `None` when the key or value does not exist, or why it cannot be used.
pub type Read<T> = Result<Option<T>, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hive {
    LocalMachine,
    CurrentUser,
}

impl Hive {
    fn handle(self) -> HKEY {
        match self {
            Hive::LocalMachine => HKEY_LOCAL_MACHINE,
            Hive::CurrentUser => HKEY_CURRENT_USER,
        }
    }
}

fn wide(s: &str) -> Vec<u16> {
    OsStr::new(s).encode_wide().chain(Some(0)).collect()
}

fn absent(rc: u32) -> bool {
    matches!(rc, ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND)
}

fn os_error(rc: u32) -> String {
    std::io::Error::from_raw_os_error(rc as i32).to_string()
}

/// One `RegGetValueW` of `flags` into `buffer` (null: asks for the size into `len`).
fn get(hive: Hive, key: &[u16], value: &[u16], flags: u32, buffer: *mut u8, len: &mut u32) -> u32 {
    // SAFETY: the strings end with NUL; the buffer is null or holds `len` bytes.
    unsafe {
        RegGetValueW(
            hive.handle(),
            key.as_ptr(),
            value.as_ptr(),
            flags,
            std::ptr::null_mut(),
            buffer.cast(),
            len,
        )
    }
}

fn failure<T>(rc: u32, want: &str) -> Read<T> {
    match rc {
        rc if absent(rc) => Ok(None),
        ERROR_UNSUPPORTED_TYPE => Err(format!("the value is not {want}")),
        rc => Err(os_error(rc)),
    }
}

/// A string value (REG_SZ, or REG_EXPAND_SZ with its variables expanded).
pub fn string(hive: Hive, key: &str, value: &str) -> Read<String> {
    let (key, value) = (wide(key), wide(value));
    let mut len = 0u32;
    let mut buffer: Vec<u16> = Vec::new();
    // Bounded: the value may grow between the two calls, so a few tries.
    for _ in 0..3 {
        let rc = get(
            hive,
            &key,
            &value,
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            &mut len,
        );
        if rc != 0 {
            return failure(rc, "a string");
        }
        buffer = vec![0u16; (len as usize).div_ceil(2)];
        let rc = get(
            hive,
            &key,
            &value,
            RRF_RT_REG_SZ,
            buffer.as_mut_ptr().cast(),
            &mut len,
        );
        if rc == 0 {
            let end = buffer.iter().position(|c| *c == 0).unwrap_or(buffer.len());
            return Ok(Some(String::from_utf16_lossy(&buffer[..end])));
        }
    }
    Err(format!(
        "the value kept changing ({} bytes)",
        buffer.len() * 2
    ))
}

/// A number value (REG_DWORD).
pub fn dword(hive: Hive, key: &str, value: &str) -> Read<u32> {
    let (key, value) = (wide(key), wide(value));
    let mut number = 0u32;
    let mut len = 4u32;
    let buffer = (&mut number as *mut u32).cast();
    let rc = get(hive, &key, &value, RRF_RT_REG_DWORD, buffer, &mut len);
    if rc != 0 {
        return failure(rc, "a number (REG_DWORD)");
    }
    Ok(Some(number))
}

/// Writes a REG_SZ value, creating the key when it does not exist.
pub fn set_string(hive: Hive, key: &str, value: &str, data: &str) -> Result<(), String> {
    let (key, value, data) = (wide(key), wide(value), wide(data));
    let bytes = u32::try_from(data.len() * 2).map_err(|_| "the value is too long".to_string())?;
    // SAFETY: the strings end with NUL; `data` holds `bytes` bytes.
    let rc = unsafe {
        RegSetKeyValueW(
            hive.handle(),
            key.as_ptr(),
            value.as_ptr(),
            REG_SZ,
            data.as_ptr().cast(),
            bytes,
        )
    };
    if rc == 0 { Ok(()) } else { Err(os_error(rc)) }
}

/// Removes a value; `false` when there was none.
pub fn delete(hive: Hive, key: &str, value: &str) -> Result<bool, String> {
    let (key, value) = (wide(key), wide(value));
    // SAFETY: the strings end with NUL.
    let rc = unsafe { RegDeleteKeyValueW(hive.handle(), key.as_ptr(), value.as_ptr()) };
    match rc {
        0 => Ok(true),
        rc if absent(rc) => Ok(false),
        rc => Err(os_error(rc)),
    }
}
