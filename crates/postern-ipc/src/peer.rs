//! Who is on the other end of a local connection, as the OS reports it when the connection was
//! made, never as the peer claims: on Linux the socket's SO_PEERCRED and SO_PEERGROUPS, on macOS
//! its LOCAL_PEERCRED (the peer's uid and groups) and LOCAL_PEERPID, on Windows the named-pipe
//! client's token (`pipe::client_peer`).

/// A user: a uid on Unix, a SID (`S-1-5-21-…`) on Windows.
#[cfg(unix)]
pub type UserId = u32;
#[cfg(windows)]
pub type UserId = String;

/// A group: a gid on Unix, a SID on Windows.
#[cfg(unix)]
pub type GroupId = u32;
#[cfg(windows)]
pub type GroupId = String;

/// The peer of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub user: UserId,
    /// Every group the peer's process held: its primary and supplementary gids on Unix, the
    /// enabled groups of its token on Windows (deny-only groups left out).
    pub groups: Vec<GroupId>,
    pub pid: Option<u32>,
}

impl Peer {
    pub fn is_in(&self, group: &GroupId) -> bool {
        self.groups.contains(group)
    }
}

#[cfg(unix)]
pub use unix::{group_named, of_unix_stream, user_groups};

#[cfg(unix)]
#[allow(
    unsafe_code,
    reason = "thin calls into the socket and group APIs of libc"
)]
mod unix {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;

    use tokio::net::UnixStream;

    use super::{GroupId, Peer};

    /// The peer of a connected unix socket.
    pub fn of_unix_stream(stream: &UnixStream) -> std::io::Result<Peer> {
        let cred = stream.peer_cred()?;
        let mut groups = vec![cred.gid()];
        for g in peer_groups(stream.as_raw_fd())? {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        Ok(Peer {
            user: cred.uid(),
            groups,
            pid: cred.pid().and_then(|p| u32::try_from(p).ok()),
        })
    }

    /// The groups the kernel recorded for the peer when it connected (Linux 4.13 and later).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn peer_groups(fd: std::os::fd::RawFd) -> std::io::Result<Vec<GroupId>> {
        // NGROUPS_MAX is 65536; start small and grow to what the kernel asks for.
        let mut groups: Vec<libc::gid_t> = vec![0; 64];
        for _ in 0..2 {
            let mut len = (groups.len() * size_of::<libc::gid_t>()) as libc::socklen_t;
            // SAFETY: the buffer is `len` bytes of gid_t that the kernel fills; `len` is in/out.
            let rc = unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_PEERGROUPS,
                    groups.as_mut_ptr().cast(),
                    &mut len,
                )
            };
            let count = len as usize / size_of::<libc::gid_t>();
            if rc == 0 {
                groups.truncate(count);
                return Ok(groups);
            }
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::ERANGE) {
                return Err(error);
            }
            groups = vec![0; count.max(groups.len() * 2)];
        }
        Err(std::io::Error::other("the peer's group list kept growing"))
    }

    /// The peer's uid and groups as the kernel recorded them at connect time (`struct xucred`:
    /// the first 16 groups, as macOS keeps them for a socket).
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    fn peer_groups(fd: std::os::fd::RawFd) -> std::io::Result<Vec<GroupId>> {
        // SAFETY: xucred is plain data; zero is a valid value for each field.
        let mut cred: libc::xucred = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::xucred>() as libc::socklen_t;
        // SAFETY: the buffer is one xucred of `len` bytes; `len` is in/out.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_LOCAL,
                libc::LOCAL_PEERCRED,
                (&raw mut cred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if cred.cr_version != libc::XUCRED_VERSION {
            return Err(std::io::Error::other("unknown xucred version"));
        }
        let count = (cred.cr_ngroups.max(0) as usize).min(cred.cr_groups.len());
        Ok(cred.cr_groups[..count].to_vec())
    }

    /// Elsewhere only the primary group (from peer_cred) counts.
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios"
    )))]
    fn peer_groups(_fd: std::os::fd::RawFd) -> std::io::Result<Vec<GroupId>> {
        Ok(Vec::new())
    }

    /// A group's id by name, from the system's group database (files, NSS or LDAP on Linux,
    /// Directory Services on macOS); `None` when there is no such group.
    pub fn group_named(name: &str) -> Option<GroupId> {
        let name = CString::new(name).ok()?;
        let mut size = 4096;
        // Bounded: a group's entry (its member list) grows the buffer to at most 1 MiB.
        while size <= 1 << 20 {
            let mut buffer = vec![0 as libc::c_char; size];
            // SAFETY: group is plain data filled by getgrnam_r from our buffer.
            let mut group: libc::group = unsafe { std::mem::zeroed() };
            let mut found: *mut libc::group = std::ptr::null_mut();
            // SAFETY: every pointer is to a live value of the right type; `buffer` has `size` bytes.
            let rc = unsafe {
                libc::getgrnam_r(
                    name.as_ptr(),
                    &mut group,
                    buffer.as_mut_ptr(),
                    size,
                    &mut found,
                )
            };
            if rc == libc::ERANGE {
                size *= 4;
                continue;
            }
            return (rc == 0 && !found.is_null()).then_some(group.gr_gid);
        }
        None
    }

    /// Every group the system's database gives a user now (`getgrouplist`: files, NSS/LDAP on
    /// Linux, Directory Services on macOS), primary group first; empty for an unknown uid. Unlike
    /// a socket's groups, this sees a membership granted since the peer logged in.
    pub fn user_groups(uid: u32) -> Vec<GroupId> {
        let Some((name, gid)) = user_named(uid) else {
            return Vec::new();
        };
        let mut count: libc::c_int = 64;
        // Bounded: grows to what the call asks for, a few times at most.
        for _ in 0..4 {
            let mut groups = vec![0 as GroupListEntry; count as usize];
            let asked = count;
            // SAFETY: `groups` holds `count` entries; `count` is in/out.
            let rc = unsafe {
                libc::getgrouplist(name.as_ptr(), gid as _, groups.as_mut_ptr(), &mut count)
            };
            if rc >= 0 {
                groups.truncate(count.max(0) as usize);
                return groups.into_iter().map(|g| g as GroupId).collect();
            }
            // Too small: glibc says how many it needs; macOS does not, so double.
            count = count.max(asked * 2);
        }
        Vec::new()
    }

    // getgrouplist's entries: gid_t on Linux, int on macOS.
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    type GroupListEntry = libc::c_int;
    #[cfg(not(any(target_os = "macos", target_os = "ios")))]
    type GroupListEntry = libc::gid_t;

    /// A user's login name and primary group, from the system's database.
    fn user_named(uid: u32) -> Option<(CString, u32)> {
        let mut size = 4096;
        while size <= 1 << 20 {
            let mut buffer = vec![0 as libc::c_char; size];
            // SAFETY: passwd is plain data filled by getpwuid_r from our buffer.
            let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: every pointer is to a live value of the right type; `buffer` has `size` bytes.
            let rc =
                unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), size, &mut found) };
            if rc == libc::ERANGE {
                size *= 4;
                continue;
            }
            if rc != 0 || found.is_null() || entry.pw_name.is_null() {
                return None;
            }
            // SAFETY: pw_name points at a NUL-terminated string inside `buffer`, copied here.
            let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }.to_owned();
            return Some((name, entry.pw_gid));
        }
        None
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn own_groups() -> Vec<u32> {
            // SAFETY: asking for the count with an empty buffer, then filling one that big.
            let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
            let mut groups = vec![0; n.max(0) as usize];
            let n = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
            groups.truncate(n.max(0) as usize);
            groups
        }

        #[tokio::test]
        async fn the_peer_of_a_socket_is_this_process_with_its_groups() {
            let (a, _b) = UnixStream::pair().unwrap();
            let peer = of_unix_stream(&a).unwrap();
            // SAFETY: no arguments, no memory.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            assert_eq!(peer.user, uid);
            assert_eq!(peer.groups[0], gid, "the primary group comes first");
            for g in own_groups() {
                assert!(peer.is_in(&g), "group {g} of {:?}", peer.groups);
            }
            assert_eq!(peer.pid, Some(std::process::id()));
        }

        #[test]
        fn a_user_s_groups_come_from_the_system_database() {
            // SAFETY: no arguments, no memory.
            let uid = unsafe { libc::getuid() };
            let groups = user_groups(uid);
            let (_, primary) = user_named(uid).expect("this process's user has an entry");
            assert_eq!(groups.first(), Some(&primary), "{groups:?}");
            assert!(user_groups(0).contains(&0), "root is in group 0");
            assert_eq!(user_groups(0x7fff_fff0), Vec::<u32>::new(), "no such user");
        }

        #[test]
        #[cfg(target_os = "linux")]
        fn groups_are_found_by_name_in_the_system_database() {
            assert_eq!(group_named("root"), Some(0));
            assert_eq!(group_named("no-such-group-postern"), None);
            assert_eq!(group_named("nul\0byte"), None);
        }
    }
}
