//! Which process holds a loopback TCP connection, from the system's TCP table. On Windows
//! OpenVPN's management interface is TCP: the helper listens on 127.0.0.1 and accepts only the
//! connection that the OpenVPN it started holds; any other local process that dials in first is
//! turned away. The table's decoding and the lookup are plain functions, tested everywhere on
//! rows as Windows returns them; the call itself is Windows-only.

use std::net::{Ipv4Addr, SocketAddrV4};

/// One row of the TCP table (`MIB_TCPROW_OWNER_PID`), decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRow {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub pid: u32,
}

/// Decodes a row's fields as the table gives them: addresses and ports in network byte order,
/// a port in the low 16 bits of its field.
pub fn decode_row(
    local_addr: u32,
    local_port: u32,
    remote_addr: u32,
    remote_port: u32,
    pid: u32,
) -> TcpRow {
    let address = |raw: u32| Ipv4Addr::from(raw.to_ne_bytes());
    let port = |raw: u32| u16::from_be((raw & 0xffff) as u16);
    TcpRow {
        local: SocketAddrV4::new(address(local_addr), port(local_port)),
        remote: SocketAddrV4::new(address(remote_addr), port(remote_port)),
        pid,
    }
}

/// The process at the other end of the connection the helper accepted: the row whose local
/// end is the peer's address and whose remote end is the helper's.
pub fn peer_process(rows: &[TcpRow], peer: SocketAddrV4, ours: SocketAddrV4) -> Option<u32> {
    rows.iter()
        .find(|r| r.local == peer && r.remote == ours)
        .map(|r| r.pid)
}

#[cfg(windows)]
#[allow(unsafe_code, reason = "the system's TCP table: one Win32 call")]
pub fn tcp_connections() -> std::io::Result<Vec<TcpRow>> {
    use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
    use windows_sys::Win32::NetworkManagement::IpHelper::{
        GetExtendedTcpTable, MIB_TCPROW_OWNER_PID, MIB_TCPTABLE_OWNER_PID,
        TCP_TABLE_OWNER_PID_CONNECTIONS,
    };
    use windows_sys::Win32::Networking::WinSock::AF_INET;

    // The table grows between the call that sizes it and the one that fills it: a few tries.
    let mut size: u32 = 0;
    for _ in 0..4 {
        // u64s: the table's alignment (its rows are u32s) is met.
        let mut buffer = vec![0u64; (size as usize).div_ceil(8).max(1)];
        // SAFETY: `buffer` holds `size` bytes (at least) and outlives the call; the system
        // writes at most `size` bytes and says how many it needs otherwise.
        let status = unsafe {
            GetExtendedTcpTable(
                buffer.as_mut_ptr().cast(),
                &mut size,
                0,
                u32::from(AF_INET),
                TCP_TABLE_OWNER_PID_CONNECTIONS,
                0,
            )
        };
        if status == ERROR_INSUFFICIENT_BUFFER {
            continue;
        }
        if status != NO_ERROR {
            return Err(std::io::Error::from_raw_os_error(status as i32));
        }
        let table = buffer.as_ptr().cast::<MIB_TCPTABLE_OWNER_PID>();
        // SAFETY: the call succeeded, so the buffer holds a table of `dwNumEntries` rows.
        let rows = unsafe {
            let count = (*table).dwNumEntries as usize;
            std::slice::from_raw_parts(
                std::ptr::addr_of!((*table).table).cast::<MIB_TCPROW_OWNER_PID>(),
                count,
            )
        };
        return Ok(rows
            .iter()
            .map(|r| {
                decode_row(
                    r.dwLocalAddr,
                    r.dwLocalPort,
                    r.dwRemoteAddr,
                    r.dwRemotePort,
                    r.dwOwningPid,
                )
            })
            .collect());
    }
    Err(std::io::Error::other("the TCP table kept growing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 127.0.0.1 as its bytes lie in memory, read as a little-endian u32; ports 50123 and 50321
    // the same way (in the low 16 bits).
    const LOOPBACK: u32 = 0x0100_007f;
    const PORT_50123: u32 = 0x0000_cbc3;
    const PORT_50321: u32 = 0x0000_91c4;

    #[test]
    fn rows_are_decoded_from_network_byte_order() {
        let row = decode_row(LOOPBACK, PORT_50123, LOOPBACK, PORT_50321, 4242);
        assert_eq!(row.local, "127.0.0.1:50123".parse().unwrap());
        assert_eq!(row.remote, "127.0.0.1:50321".parse().unwrap());
        assert_eq!(row.pid, 4242);
    }

    #[test]
    fn the_peer_is_the_process_holding_the_other_end_of_our_connection() {
        let ours: SocketAddrV4 = "127.0.0.1:50321".parse().unwrap();
        let openvpn: SocketAddrV4 = "127.0.0.1:50123".parse().unwrap();
        let rows = [
            // The helper's own end of the same connection.
            TcpRow {
                local: ours,
                remote: openvpn,
                pid: 100,
            },
            TcpRow {
                local: openvpn,
                remote: ours,
                pid: 4242,
            },
            // Someone else talking to the helper from another port.
            TcpRow {
                local: "127.0.0.1:50999".parse().unwrap(),
                remote: ours,
                pid: 666,
            },
        ];
        assert_eq!(peer_process(&rows, openvpn, ours), Some(4242));
        assert_eq!(
            peer_process(&rows, "127.0.0.1:50999".parse().unwrap(), ours),
            Some(666)
        );
        // A connection the table does not list (gone already) has no owner: refused.
        assert_eq!(
            peer_process(&rows, "127.0.0.1:51000".parse().unwrap(), ours),
            None
        );
    }

    #[cfg(windows)]
    #[test]
    fn this_processs_own_connection_is_in_the_table_at_its_ports() {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = match listener.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let _client = TcpStream::connect(ours).unwrap();
        let (_accepted, peer) = listener.accept().unwrap();
        let peer = match peer {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let rows = tcp_connections().unwrap();
        let holder = peer_process(&rows, peer, ours).unwrap_or_else(|| {
            panic!("the connection {peer} -> {ours} is not in the table: {rows:?}")
        });
        // Windows names the process; wine names none (0), where the proof decides alone.
        assert!(
            holder == std::process::id() || holder == 0,
            "the table names process {holder} for this process's own connection"
        );
    }
}
