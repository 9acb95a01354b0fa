//! A client makes sure it reached the real server before it sends a byte. On Unix the kernel
//! names the process listening on the socket (SO_PEERCRED), and the directory holding the socket
//! must be one only the server's user can change; on Windows the pipe's owner must be the
//! server's account (only SYSTEM or an administrator can make a pipe owned by another). A socket
//! path taken from the environment (`POSTERN_HELPER_SOCKET`, `XDG_RUNTIME_DIR`) therefore cannot
//! lead to a stand-in.

use std::path::Path;

/// The two servers a client talks to, and whom each must run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The privileged helper: root.
    Helper,
    /// The per-user agent: the caller's own user.
    Agent,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Helper => "the Postern VPN helper",
            Server::Agent => "the Postern agent",
        }
    }

    /// The uid the server must run as, and own its socket's directory.
    #[cfg(unix)]
    pub fn expected_uid(self) -> u32 {
        match self {
            Server::Helper => 0,
            Server::Agent => effective_uid(),
        }
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// This process's effective uid (the agent runs as its user).
#[cfg(unix)]
#[allow(unsafe_code, reason = "one libc call with no arguments")]
fn effective_uid() -> u32 {
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

fn who(uid: u32) -> String {
    if uid == 0 {
        "root".into()
    } else {
        format!("uid {uid}")
    }
}

/// Why a socket was not trusted. Nothing was sent to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedSocket {
    #[error(
        "The socket {socket} is in {dir}, which belongs to {}, not {}: it is not where {server} listens, so nothing was sent to it.",
        who(*owner), who(*expected)
    )]
    DirectoryOwner {
        server: Server,
        socket: String,
        dir: String,
        owner: u32,
        expected: u32,
    },
    #[error(
        "The socket {socket} is in {dir}, which other users may change (mode {mode:o}): {server} only listens in a directory its owner alone can write, so nothing was sent to it."
    )]
    DirectoryWritable {
        server: Server,
        socket: String,
        dir: String,
        mode: u32,
    },
    #[error(
        "The program listening at {socket} runs as {}, not {}: it is not {server}, so nothing was sent to it.",
        who(*uid), who(*expected)
    )]
    WrongPeer {
        server: Server,
        socket: String,
        uid: u32,
        expected: u32,
    },
    #[error(
        "The pipe {pipe} belongs to {owner}, not {expected}: it is not {server}, so nothing was sent to it."
    )]
    PipeOwner {
        server: Server,
        pipe: String,
        owner: String,
        expected: String,
    },
    #[error("Could not check who listens at {socket} ({detail}), so nothing was sent to it.")]
    Unverifiable { socket: String, detail: String },
}

/// A connection to a local server, checked to be the server it should be.
pub type LocalStream = Box<dyn crate::server::Duplex>;

/// Why a local server could not be reached.
#[derive(Debug)]
pub enum Unreachable {
    /// Nothing listens there.
    NotRunning,
    /// The OS refused this user (the socket's mode, the pipe's DACL).
    NoPermission,
    Untrusted(UntrustedSocket),
    Other(std::io::Error),
}

impl From<std::io::Error> for Unreachable {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => Unreachable::NoPermission,
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                Unreachable::NotRunning
            }
            _ => Unreachable::Other(e),
        }
    }
}

/// Connects to `server` at `path` (a unix socket, or a pipe name on Windows) and checks who
/// listens there before anything is written.
pub async fn open(path: &Path, server: Server) -> Result<LocalStream, Unreachable> {
    #[cfg(unix)]
    {
        let stream = tokio::net::UnixStream::connect(path).await?;
        verify(&stream, path, server).map_err(Unreachable::Untrusted)?;
        Ok(Box::new(stream))
    }
    #[cfg(windows)]
    {
        let pipe = crate::pipe::connect(path.as_os_str()).await?;
        verify_pipe(&pipe, path, server).map_err(Unreachable::Untrusted)?;
        Ok(Box::new(pipe))
    }
}

/// The error for a check that could not be made at `socket`: nothing is sent there.
fn unverifiable(socket: &Path) -> impl Fn(std::io::Error) -> UntrustedSocket + '_ {
    move |e| UntrustedSocket::Unverifiable {
        socket: socket.display().to_string(),
        detail: e.to_string(),
    }
}

/// Checks a connected pipe before anything is written to it: its owner must be the server's
/// account (SYSTEM for the helper, this user for the agent).
#[cfg(windows)]
pub fn verify_pipe(
    pipe: &tokio::net::windows::named_pipe::NamedPipeClient,
    name: &Path,
    server: Server,
) -> Result<(), UntrustedSocket> {
    let unverifiable = unverifiable(name);
    let expected = match server {
        Server::Helper => crate::pipe::SYSTEM.to_string(),
        Server::Agent => crate::pipe::current_user().map_err(&unverifiable)?,
    };
    let owner = crate::pipe::pipe_owner(pipe).map_err(&unverifiable)?;
    if crate::pipe::trusted_owner(&owner, &expected) {
        Ok(())
    } else {
        Err(UntrustedSocket::PipeOwner {
            server,
            pipe: name.display().to_string(),
            owner,
            expected,
        })
    }
}

#[cfg(all(test, unix))]
pub(crate) use unix::private_socket;
#[cfg(unix)]
pub use unix::verify;

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use tokio::net::UnixStream;

    use super::{Server, UntrustedSocket, unverifiable};

    /// Checks a connected socket before anything is written to it: its directory, then its peer.
    pub fn verify(
        stream: &UnixStream,
        socket: &Path,
        server: Server,
    ) -> Result<(), UntrustedSocket> {
        let expected = server.expected_uid();
        verify_directory(socket, server, expected)?;
        let peer = stream.peer_cred().map_err(unverifiable(socket))?;
        judge_peer(peer.uid(), server, socket, expected)
    }

    fn judge_peer(
        uid: u32,
        server: Server,
        socket: &Path,
        expected: u32,
    ) -> Result<(), UntrustedSocket> {
        if uid == expected {
            Ok(())
        } else {
            Err(UntrustedSocket::WrongPeer {
                server,
                socket: socket.display().to_string(),
                uid,
                expected,
            })
        }
    }

    /// The directory that really holds the socket (symlinks resolved) must belong to `expected` and
    /// be writable by nobody else: otherwise someone else could have put a socket there, or swap
    /// it for theirs. Sticky world-writable directories (/tmp) are refused too: anyone may create
    /// a name there first.
    fn verify_directory(
        socket: &Path,
        server: Server,
        expected: u32,
    ) -> Result<(), UntrustedSocket> {
        let unverifiable = unverifiable(socket);
        let real = std::fs::canonicalize(socket).map_err(&unverifiable)?;
        let dir = real.parent().unwrap_or(Path::new("/"));
        let meta = std::fs::metadata(dir).map_err(&unverifiable)?;
        judge_directory(meta.uid(), meta.mode(), expected).map_err(|found| match found {
            Found::Owner(owner) => UntrustedSocket::DirectoryOwner {
                server,
                socket: socket.display().to_string(),
                dir: dir.display().to_string(),
                owner,
                expected,
            },
            Found::Writable(mode) => UntrustedSocket::DirectoryWritable {
                server,
                socket: socket.display().to_string(),
                dir: dir.display().to_string(),
                mode,
            },
        })
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Found {
        Owner(u32),
        Writable(u32),
    }

    /// The rule on the directory's owner and mode bits.
    fn judge_directory(owner: u32, mode: u32, expected: u32) -> Result<(), Found> {
        let mode = mode & 0o7777;
        if owner != expected {
            Err(Found::Owner(owner))
        } else if mode & 0o022 != 0 {
            Err(Found::Writable(mode))
        } else {
            Ok(())
        }
    }

    /// `agent.sock` in a new directory under `dir` that only this user can change: a socket
    /// path a client trusts.
    #[cfg(test)]
    pub(crate) fn private_socket(dir: &Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let private = dir.join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        private.join("agent.sock")
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::os::unix::fs::PermissionsExt;

        #[test]
        fn only_a_directory_of_the_expected_owner_that_nobody_else_can_write_is_trusted() {
            assert_eq!(judge_directory(0, 0o40755, 0), Ok(()));
            assert_eq!(judge_directory(1000, 0o40700, 1000), Ok(()));
            assert_eq!(judge_directory(1000, 0o40755, 0), Err(Found::Owner(1000)));
            assert_eq!(judge_directory(0, 0o40700, 1000), Err(Found::Owner(0)));
            assert_eq!(judge_directory(0, 0o40775, 0), Err(Found::Writable(0o775)));
            assert_eq!(judge_directory(0, 0o40777, 0), Err(Found::Writable(0o777)));
            // /tmp: root's, but anyone may create a name in it first.
            assert_eq!(judge_directory(0, 0o41777, 0), Err(Found::Writable(0o1777)));
        }

        #[test]
        fn the_peer_must_run_as_the_expected_user() {
            let socket = Path::new("/run/postern/helper.sock");
            assert_eq!(judge_peer(0, Server::Helper, socket, 0), Ok(()));
            let refused = judge_peer(65534, Server::Helper, socket, 0).unwrap_err();
            assert_eq!(
                refused.to_string(),
                "The program listening at /run/postern/helper.sock runs as uid 65534, not root: it is not the Postern VPN helper, so nothing was sent to it."
            );
        }

        #[tokio::test]
        async fn a_real_socket_is_judged_by_its_directory_and_its_listener() {
            let me = Server::Agent.expected_uid();
            let dir = tempfile::tempdir().unwrap();
            let socket = private_socket(dir.path());
            let private = socket.parent().unwrap();
            let _listener = tokio::net::UnixListener::bind(&socket).unwrap();
            let stream = UnixStream::connect(&socket).await.unwrap();
            assert_eq!(verify(&stream, &socket, Server::Agent), Ok(()));
            // The same listener, expected to be someone else: refused by the kernel's answer.
            assert!(matches!(
                verify_directory(&socket, Server::Agent, me).and_then(|()| judge_peer(
                    me,
                    Server::Agent,
                    &socket,
                    me.wrapping_add(1)
                )),
                Err(UntrustedSocket::WrongPeer { .. })
            ));

            // A link from a trusted directory to a socket elsewhere is judged where it points.
            let shared = dir.path().join("shared");
            std::fs::create_dir(&shared).unwrap();
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
            let elsewhere = shared.join("agent.sock");
            let _other = tokio::net::UnixListener::bind(&elsewhere).unwrap();
            let link = private.join("link.sock");
            std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
            let stream = UnixStream::connect(&link).await.unwrap();
            match verify(&stream, &link, Server::Agent) {
                Err(UntrustedSocket::DirectoryWritable { dir, mode, .. }) => {
                    assert_eq!(mode, 0o777);
                    assert!(dir.ends_with("shared"), "{dir}");
                }
                other => panic!("a socket in a 0777 directory was trusted: {other:?}"),
            }
        }
    }
}
