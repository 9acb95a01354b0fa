//! Windows named pipes, the Windows form of Postern's two sockets.
//!
//! - The server creates the pipe as its first instance (so a pipe that another process made
//!   first is an error, never shared), rejects remote clients, and gives it a DACL naming whom it
//!   admits and an owner naming itself (`O:` in the SDDL). Only SYSTEM or an administrator can
//!   make a pipe owned by another account, so a client that checks the owner cannot be led to a
//!   squatter's pipe.
//! - The server learns who a client is from the client's token, read while impersonating it at
//!   identification level (the client's process cannot name itself), and its pid.
//!
//! SDDL and access decisions are plain functions, tested everywhere; the rest is thin calls into
//! Win32, tested under Windows (and wine, which implements these calls but enforces no ACLs
//! between users, since it runs everything as one).

/// LocalSystem, which Windows services run as.
pub const SYSTEM: &str = "S-1-5-18";
/// BUILTIN\Administrators.
pub const ADMINISTRATORS: &str = "S-1-5-32-544";

/// What a pipe's clients may do: FILE_GENERIC_READ and FILE_GENERIC_WRITE (READ_CONTROL
/// included, which a client needs to check the owner) without FILE_APPEND_DATA, which on a pipe
/// is FILE_CREATE_PIPE_INSTANCE: with it a client could serve instances of the pipe itself and
/// receive other clients' requests.
pub const CLIENT_ACCESS: &str = "0x12019b";

/// The security descriptor of a pipe owned by `owner` (a SID string) that SYSTEM and `owner` may
/// use fully and each of `clients` may read and write ([`CLIENT_ACCESS`]). Protected (`P`):
/// nothing is inherited.
pub fn pipe_sddl(owner: &str, clients: &[&str]) -> String {
    let mut sddl = format!("O:{owner}D:P(A;;GA;;;{SYSTEM})");
    if owner != SYSTEM {
        sddl.push_str(&format!("(A;;GA;;;{owner})"));
    }
    for client in clients.iter().filter(|c| **c != owner && **c != SYSTEM) {
        sddl.push_str(&format!("(A;;{CLIENT_ACCESS};;;{client})"));
    }
    sddl
}

/// Whether a pipe's owner is the expected server: the helper's pipe belongs to SYSTEM (a pipe
/// an administrator made while setting up belongs to Administrators), the agent's to its user.
pub fn trusted_owner(owner: &str, expected: &str) -> bool {
    if expected == SYSTEM {
        owner == SYSTEM || owner == ADMINISTRATORS
    } else {
        owner == expected
    }
}

#[cfg(windows)]
pub use win32::{
    PipeListener, client_peer, connect, current_user, directory_security, group_sid, pipe_owner,
    pipe_security, protect_directory,
};

#[cfg(windows)]
#[allow(
    unsafe_code,
    reason = "thin calls into the Win32 pipe and security APIs"
)]
mod win32 {
    use std::ffi::{OsStr, c_void};
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::AsRawHandle;
    use std::ptr::{null, null_mut};
    use std::time::Duration;

    use tokio::net::windows::named_pipe::{
        ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
    };
    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_INSUFFICIENT_BUFFER, ERROR_PIPE_BUSY, HANDLE, LocalFree,
    };
    use windows_sys::Win32::Security::Authorization::{
        ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
        ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW,
        GetSecurityInfo, SDDL_REVISION_1, SE_FILE_OBJECT, SE_KERNEL_OBJECT, SetNamedSecurityInfoW,
    };
    use windows_sys::Win32::Security::{
        ACL, DACL_SECURITY_INFORMATION, GetSecurityDescriptorDacl, GetSecurityDescriptorOwner,
        GetTokenInformation, LookupAccountNameW, OWNER_SECURITY_INFORMATION,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, RevertToSelf,
        SECURITY_ATTRIBUTES, SID_NAME_USE, SidTypeAlias, SidTypeGroup, SidTypeWellKnownGroup,
        TOKEN_GROUPS, TOKEN_INFORMATION_CLASS, TOKEN_QUERY, TOKEN_USER, TokenGroups, TokenUser,
    };
    use windows_sys::Win32::System::Pipes::{
        GetNamedPipeClientProcessId, ImpersonateNamedPipeClient,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetCurrentThread, OpenProcessToken, OpenThreadToken,
    };

    use crate::peer::Peer;

    // A group's attributes in a token (winnt.h).
    const SE_GROUP_ENABLED: u32 = 0x4;
    const SE_GROUP_USE_FOR_DENY_ONLY: u32 = 0x10;

    fn wide(s: &OsStr) -> Vec<u16> {
        s.encode_wide().chain(Some(0)).collect()
    }

    fn check(ok: i32) -> io::Result<()> {
        if ok == 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// A handle closed when dropped.
    struct Owned(HANDLE);
    impl Drop for Owned {
        fn drop(&mut self) {
            // SAFETY: the handle was opened by us and is closed once.
            unsafe { CloseHandle(self.0) };
        }
    }

    /// Memory the system allocated with LocalAlloc, freed when dropped.
    struct Local(*mut c_void);
    impl Drop for Local {
        fn drop(&mut self) {
            // SAFETY: the pointer came from a Win32 call that says to free it with LocalFree.
            unsafe { LocalFree(self.0) };
        }
    }

    /// A pipe name's listening instances: one always waits, so a client never finds none.
    pub struct PipeListener {
        name: std::ffi::OsString,
        sddl: Vec<u16>,
        waiting: NamedPipeServer,
    }

    impl PipeListener {
        /// Creates the pipe's first instance; fails (access denied) when any process already
        /// has a pipe of that name. Windows refuses that itself (FILE_FLAG_FIRST_PIPE_INSTANCE);
        /// a pipe that answers a client first is refused before that, which also holds where
        /// the flag is not enforced (wine).
        pub fn bind(name: &OsStr, sddl: &str) -> io::Result<Self> {
            match ClientOptions::new().open(name) {
                Err(e) if e.raw_os_error() != Some(ERROR_PIPE_BUSY as i32) => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "a pipe of that name exists",
                    ));
                }
            }
            let (name, sddl) = (name.to_os_string(), wide(OsStr::new(sddl)));
            let waiting = create(&name, &sddl, true)?;
            Ok(Self {
                name,
                sddl,
                waiting,
            })
        }

        /// The next connected instance; a new one waits in its place.
        pub async fn accept(&mut self) -> io::Result<NamedPipeServer> {
            self.waiting.connect().await?;
            let next = create(&self.name, &self.sddl, false)?;
            Ok(std::mem::replace(&mut self.waiting, next))
        }
    }

    /// The security descriptor an SDDL string (NUL-terminated) describes.
    fn descriptor_of(sddl: &[u16]) -> io::Result<Local> {
        let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
        // SAFETY: `sddl` is NUL-terminated; the descriptor is freed by `Local`.
        check(unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                null_mut(),
            )
        })?;
        Ok(Local(descriptor))
    }

    /// The parts `what` of a security descriptor, as SDDL.
    fn sddl_of(descriptor: &Local, what: u32) -> io::Result<String> {
        let mut text: *mut u16 = null_mut();
        // SAFETY: a valid descriptor; the string is freed by `Local`.
        check(unsafe {
            ConvertSecurityDescriptorToStringSecurityDescriptorW(
                descriptor.0,
                SDDL_REVISION_1,
                what,
                &mut text,
                null_mut(),
            )
        })?;
        let _text = Local(text.cast());
        Ok(wide_string(text))
    }

    fn create(name: &OsStr, sddl: &[u16], first: bool) -> io::Result<NamedPipeServer> {
        let descriptor = descriptor_of(sddl)?;
        let mut attributes = SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor.0,
            bInheritHandle: 0,
        };
        // SAFETY: the attributes and their descriptor outlive the call.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(first)
                .reject_remote_clients(true)
                .create_with_security_attributes_raw(name, (&raw mut attributes).cast::<c_void>())
        }
    }

    /// Who the connected client is: its token's user and enabled groups (read at identification
    /// level, the most a client grants by default) and its pid.
    pub fn client_peer(pipe: &NamedPipeServer) -> io::Result<Peer> {
        let handle = pipe.as_raw_handle() as HANDLE;
        let mut pid = 0u32;
        // SAFETY: a live pipe handle and an out-parameter.
        check(unsafe { GetNamedPipeClientProcessId(handle, &mut pid) })?;
        // SAFETY: impersonation is undone below before anything else runs on this thread.
        check(unsafe { ImpersonateNamedPipeClient(handle) })?;
        let mut token: HANDLE = null_mut();
        // SAFETY: the current thread's impersonation token, checked against our own rights.
        let opened =
            check(unsafe { OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, 1, &mut token) });
        // SAFETY: ends the impersonation begun above; it cannot fail for a thread that began one.
        let reverted = check(unsafe { RevertToSelf() });
        opened?;
        let token = Owned(token);
        reverted?;
        Ok(Peer {
            user: token_user(&token)?,
            groups: token_groups(&token)?,
            pid: Some(pid),
        })
    }

    /// This process's user.
    pub fn current_user() -> io::Result<String> {
        let mut token: HANDLE = null_mut();
        // SAFETY: the pseudo-handle of this process and an out-parameter.
        check(unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) })?;
        token_user(&Owned(token))
    }

    /// The parts `what` names of a handle's security descriptor, freed when dropped, and its
    /// owner (null unless the owner was asked for; it points into the descriptor).
    fn security_of(handle: &impl AsRawHandle, what: u32) -> io::Result<(Local, PSID)> {
        let mut owner: PSID = null_mut();
        let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
        // SAFETY: a live handle and out-parameters; the descriptor is handed to `Local`.
        let rc = unsafe {
            GetSecurityInfo(
                handle.as_raw_handle() as HANDLE,
                SE_KERNEL_OBJECT,
                what,
                &mut owner,
                null_mut(),
                null_mut(),
                null_mut(),
                &mut descriptor,
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        Ok((Local(descriptor), owner))
    }

    /// The owner of the pipe at the other end of a client connection.
    pub fn pipe_owner(pipe: &NamedPipeClient) -> io::Result<String> {
        let (_descriptor, owner) = security_of(pipe, OWNER_SECURITY_INFORMATION)?;
        sid_string(owner)
    }

    /// The pipe's owner and DACL as SDDL, read back from the object (for tests and diagnostics).
    pub fn pipe_security(pipe: &impl AsRawHandle) -> io::Result<String> {
        let what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
        let (descriptor, _) = security_of(pipe, what)?;
        sddl_of(&descriptor, what)
    }

    /// Replaces a directory's DACL with the one in `sddl` (e.g. `O:BAD:P(A;OICI;FA;;;SY)`),
    /// protected, so nothing is inherited from its parent, and its owner when `sddl` names one
    /// (so whoever made the folder first keeps no right over it); what is made inside inherits
    /// the DACL.
    pub fn protect_directory(path: &std::path::Path, sddl: &str) -> io::Result<()> {
        let descriptor = descriptor_of(&wide(OsStr::new(sddl)))?;
        let (mut present, mut defaulted) = (0, 0);
        let mut dacl: *mut ACL = null_mut();
        // SAFETY: a valid descriptor; the DACL points into it and lives as long.
        check(unsafe {
            GetSecurityDescriptorDacl(descriptor.0, &mut present, &mut dacl, &mut defaulted)
        })?;
        if present == 0 || dacl.is_null() {
            return Err(io::Error::other("the descriptor has no DACL"));
        }
        let mut owner: PSID = null_mut();
        // SAFETY: a valid descriptor; the owner points into it and lives as long.
        check(unsafe { GetSecurityDescriptorOwner(descriptor.0, &mut owner, &mut defaulted) })?;
        let mut what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
        if !owner.is_null() {
            what |= OWNER_SECURITY_INFORMATION;
        }
        let name = wide(path.as_os_str());
        // SAFETY: a NUL-terminated path, an owner and a DACL that outlive the call.
        let rc = unsafe {
            SetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                what,
                owner,
                null_mut(),
                dacl,
                null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        Ok(())
    }

    /// A file's or directory's DACL as SDDL, read back from the file system.
    pub fn directory_security(path: &std::path::Path) -> io::Result<String> {
        let name = wide(path.as_os_str());
        let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
        // SAFETY: a NUL-terminated path and out-parameters; the descriptor goes to `Local`.
        let rc = unsafe {
            GetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                &mut descriptor,
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        sddl_of(&Local(descriptor), DACL_SECURITY_INFORMATION)
    }

    /// Opens a client connection, waiting (bounded) while every instance is busy.
    pub async fn connect(name: &OsStr) -> io::Result<NamedPipeClient> {
        let mut attempts = 0;
        loop {
            match ClientOptions::new().open(name) {
                Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) && attempts < 40 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                other => return other,
            }
        }
    }

    /// A local or domain group's SID by name; `None` when there is no such account.
    pub fn group_sid(name: &str) -> Option<String> {
        let name = wide(OsStr::new(name));
        let (mut sid_len, mut domain_len, mut kind) = (0u32, 0u32, SID_NAME_USE::default());
        // SAFETY: asking for the sizes only.
        unsafe {
            LookupAccountNameW(
                null(),
                name.as_ptr(),
                null_mut(),
                &mut sid_len,
                null_mut(),
                &mut domain_len,
                &mut kind,
            )
        };
        if sid_len == 0 {
            return None;
        }
        let mut sid = vec![0u8; sid_len as usize];
        let mut domain = vec![0u16; domain_len as usize + 1];
        // SAFETY: both buffers have the sizes the first call asked for.
        let found = unsafe {
            LookupAccountNameW(
                null(),
                name.as_ptr(),
                sid.as_mut_ptr().cast(),
                &mut sid_len,
                domain.as_mut_ptr(),
                &mut domain_len,
                &mut kind,
            )
        };
        // A user (or a computer) of that name is not the group: only groups count.
        if found == 0 || ![SidTypeGroup, SidTypeAlias, SidTypeWellKnownGroup].contains(&kind) {
            return None;
        }
        sid_string(sid.as_mut_ptr().cast()).ok()
    }

    /// A token's information of one class, in a buffer aligned for the structure it holds.
    fn token_information(token: &Owned, class: TOKEN_INFORMATION_CLASS) -> io::Result<Vec<u64>> {
        let mut len = 0u32;
        // SAFETY: asking for the size only.
        let sized = unsafe { GetTokenInformation(token.0, class, null_mut(), 0, &mut len) };
        let error = io::Error::last_os_error();
        if sized == 0 && error.raw_os_error() != Some(ERROR_INSUFFICIENT_BUFFER as i32) {
            return Err(error);
        }
        let mut buffer = vec![0u64; (len as usize).div_ceil(8)];
        // SAFETY: the buffer holds `len` bytes.
        check(unsafe {
            GetTokenInformation(token.0, class, buffer.as_mut_ptr().cast(), len, &mut len)
        })?;
        Ok(buffer)
    }

    fn token_user(token: &Owned) -> io::Result<String> {
        let buffer = token_information(token, TokenUser)?;
        // SAFETY: GetTokenInformation(TokenUser) wrote a TOKEN_USER at the buffer's start.
        let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
        sid_string(user.User.Sid)
    }

    fn token_groups(token: &Owned) -> io::Result<Vec<String>> {
        let buffer = token_information(token, TokenGroups)?;
        // SAFETY: GetTokenInformation(TokenGroups) wrote a TOKEN_GROUPS with GroupCount entries.
        let groups = unsafe {
            let groups = &*buffer.as_ptr().cast::<TOKEN_GROUPS>();
            std::slice::from_raw_parts(groups.Groups.as_ptr(), groups.GroupCount as usize)
        };
        groups
            .iter()
            .filter(|g| {
                g.Attributes & SE_GROUP_ENABLED != 0
                    && g.Attributes & SE_GROUP_USE_FOR_DENY_ONLY == 0
            })
            .map(|g| sid_string(g.Sid))
            .collect()
    }

    fn sid_string(sid: PSID) -> io::Result<String> {
        let mut text: *mut u16 = null_mut();
        // SAFETY: a valid SID; the string is freed by `Local`.
        check(unsafe { ConvertSidToStringSidW(sid, &mut text) })?;
        let _text = Local(text.cast());
        Ok(wide_string(text))
    }

    /// A NUL-terminated UTF-16 string the system returned.
    fn wide_string(text: *const u16) -> String {
        // SAFETY: the callers pass strings Win32 returned NUL-terminated.
        let len = (0..).take_while(|i| unsafe { *text.add(*i) } != 0).count();
        // SAFETY: `len` UTF-16 units precede the NUL.
        let units = unsafe { std::slice::from_raw_parts(text, len) };
        String::from_utf16_lossy(units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_admits_system_its_owner_and_the_named_clients_only() {
        let me = "S-1-5-21-1-2-3-1001";
        assert_eq!(
            pipe_sddl(me, &[]),
            "O:S-1-5-21-1-2-3-1001D:P(A;;GA;;;S-1-5-18)(A;;GA;;;S-1-5-21-1-2-3-1001)"
        );
        assert_eq!(
            pipe_sddl(SYSTEM, &[ADMINISTRATORS, "S-1-5-21-9-1010", SYSTEM]),
            "O:S-1-5-18D:P(A;;GA;;;S-1-5-18)(A;;0x12019b;;;S-1-5-32-544)(A;;0x12019b;;;S-1-5-21-9-1010)"
        );
    }

    #[test]
    fn only_the_expected_owner_is_trusted() {
        assert!(trusted_owner(SYSTEM, SYSTEM));
        assert!(trusted_owner(ADMINISTRATORS, SYSTEM));
        assert!(!trusted_owner("S-1-5-21-1-2-3-1001", SYSTEM));
        assert!(trusted_owner("S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-1001"));
        assert!(!trusted_owner("S-1-5-21-1-2-3-1002", "S-1-5-21-1-2-3-1001"));
        assert!(!trusted_owner(SYSTEM, "S-1-5-21-1-2-3-1001"));
    }

    #[cfg(windows)]
    #[tokio::test]
    async fn a_client_reaches_the_pipe_names_its_owner_and_is_named_by_the_server() {
        let me = current_user().unwrap();
        assert!(me.starts_with("S-1-5-"), "{me}");
        let name = format!(r"\\.\pipe\postern-test-{}", std::process::id());
        let mut listener = PipeListener::bind(name.as_ref(), &pipe_sddl(&me, &[])).unwrap();
        assert!(
            PipeListener::bind(name.as_ref(), &pipe_sddl(&me, &[])).is_err(),
            "a second server of the same name is refused"
        );
        let (server, client) = tokio::join!(listener.accept(), connect(name.as_ref()));
        let (server, client) = (server.unwrap(), client.unwrap());
        assert_eq!(pipe_owner(&client).unwrap(), me);
        // What the pipe really carries, read back: this user owns it, and only SYSTEM and this
        // user are granted anything.
        let security = pipe_security(&server).unwrap();
        assert!(security.starts_with(&format!("O:{me}D:")), "{security}");
        let granted: Vec<&str> = security
            .split('(')
            .skip(1)
            .map(|ace| ace.trim_end_matches(')').rsplit(';').next().unwrap())
            // Windows writes well-known SIDs by their alias.
            .map(|sid| if sid == "SY" { SYSTEM } else { sid })
            .collect();
        assert_eq!(granted, vec![SYSTEM, me.as_str()], "{security}");
        let peer = client_peer(&server).unwrap();
        assert_eq!(peer.user, me);
        assert_eq!(peer.pid, Some(std::process::id()));
        // Another client connects while the first is still open: an instance was waiting.
        let (second, _) = tokio::join!(listener.accept(), connect(name.as_ref()));
        second.unwrap();
    }

    #[cfg(windows)]
    #[test]
    fn a_protected_directory_grants_only_what_its_sddl_names_and_its_files_inherit_it() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private");
        std::fs::create_dir(&private).unwrap();
        protect_directory(&private, "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)").unwrap();
        assert!(protect_directory(&dir.path().join("missing"), "D:P(A;;FA;;;SY)").is_err());
        if std::env::var_os("WINEPREFIX").is_some() {
            // Wine keeps no DACL on files (it derives one from the Unix mode bits): what the
            // directory carries is checked on Windows only.
            return;
        }
        let security = directory_security(&private).unwrap();
        assert!(security.starts_with("D:P"), "not protected: {security}");
        let trustees: Vec<&str> = security
            .split('(')
            .skip(1)
            .map(|ace| ace.trim_end_matches(')').rsplit(';').next().unwrap())
            .collect();
        assert_eq!(trustees, vec!["SY", "BA"], "{security}");
        std::fs::write(private.join("profile.ovpn"), "x").unwrap();
        let file = directory_security(&private.join("profile.ovpn")).unwrap();
        assert!(
            file.contains(";;;SY)") && file.contains(";;;BA)") && !file.contains(";;;BU)"),
            "{file}"
        );
    }
}
