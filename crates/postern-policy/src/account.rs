//! The name of the account this process runs as, from the system's user database (not from
//! `$USER`, which the process's caller chooses): it selects the user's managed preferences.

#![allow(unsafe_code, reason = "getpwuid_r through libc")]

use std::ffi::CStr;

pub fn user_name() -> Option<String> {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    // SAFETY: passwd is plain data; all zeroes is a valid (empty) value.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let mut buffer = vec![0 as libc::c_char; 4096];
    // Bounded: a few doublings cover any real entry.
    for _ in 0..4 {
        // SAFETY: every pointer is valid for the call; the buffer holds `buffer.len()` bytes.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE {
            buffer.resize(buffer.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded, so pw_name points at a NUL-terminated name in `buffer`.
        let name = unsafe { CStr::from_ptr(entry.pw_name) };
        return name.to_str().ok().map(str::to_owned);
    }
    None
}
