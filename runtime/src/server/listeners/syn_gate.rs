//! Closing a listening socket without resetting a connection. Linux resets every connection left
//! in the accept queue of a socket it closes, and a client can complete a handshake between the
//! last `accept` and the `close`: a request the drain promised to answer is then reset (one in
//! about 12 000 reconnections in `tests/drain.rs` under a client that reconnects at once).
//! Before its last `accept`s a closing listener drops new SYNs with a socket filter (classic BPF:
//! a segment with SYN and without ACK), so no new connection can join the queue; a client whose
//! SYN is dropped sends it again a second later and is refused by then, as after any close.
//! Handshakes already under way finish (their ACKs pass; under load the kernel may finish one
//! milliseconds later) and are taken in a short grace before the close (`server::workers`).
//!
//! Only a listener nobody else listens beside is gated ([`others_listen_on`]): a new meshd bound
//! to the same port with `SO_REUSEPORT` takes the SYNs once this one closes, and dropping them
//! meanwhile would delay those clients by a second each.
//!
//! A listening socket handed over to the next meshd is the same socket in both processes: a
//! filter the old process attached would stop the new one's connections too. So a process whose
//! sockets were ever copied to another ([`mark_shared`], before the hand-over offer is withdrawn,
//! which is before any listener closes) closes them without the gate, as before; and the process
//! that takes sockets removes any filter from them ([`open`]).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(target_os = "linux")]
use socket2::{SockFilter, SockRef};

/// Whether copies of this process's listening sockets went to another process. Process-wide:
/// in a test process running several servers, one hand-over turns the gate off for all of them,
/// which only brings back the behaviour without it.
static SHARED: AtomicBool = AtomicBool::new(false);

/// Records that copies of the listening sockets are being given to another process.
pub fn mark_shared() {
    SHARED.store(true, Ordering::SeqCst);
}

/// Whether [`mark_shared`] was called: the sockets may be listening in another process too.
pub fn is_shared() -> bool {
    SHARED.load(Ordering::SeqCst)
}

/// Drops segments with SYN set and ACK clear: new connections. The filter sees the TCP header
/// at offset 0 (the kernel runs a TCP socket's filter on the segment, the IP header pulled).
#[cfg(target_os = "linux")]
const DROP_NEW_CONNECTIONS: [SockFilter; 5] = [
    // A = the flags byte of the TCP header.
    bpf(libc::BPF_LD | libc::BPF_B | libc::BPF_ABS, 0, 0, 13),
    // A &= SYN | ACK
    bpf(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, 0, 0, 0x12),
    // SYN alone: drop (return 0 bytes); anything else: keep the whole segment.
    bpf(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, 0x02),
    bpf(libc::BPF_RET | libc::BPF_K, 0, 0, 0),
    bpf(libc::BPF_RET | libc::BPF_K, 0, 0, u32::MAX),
];

#[cfg(target_os = "linux")]
const fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter::new(code as u16, jt, jf, k)
}

/// Whether a socket of another process listens on `address`'s port (`/proc/net/tcp`, `tcp6`):
/// a new meshd bound beside this one with `SO_REUSEPORT`. Its socket takes the SYNs once this
/// one closes, so this one must not drop them meanwhile (with `net.ipv4.tcp_migrate_req` the
/// kernel even moves the queued connections over). `true` when it cannot tell.
pub fn others_listen_on(address: SocketAddr) -> bool {
    let ours: HashSet<u64> = match std::fs::read_dir("/proc/self/fd") {
        Ok(entries) => entries
            .filter_map(|entry| {
                let target = std::fs::read_link(entry.ok()?.path()).ok()?;
                let target = target.to_str()?;
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect(),
        Err(_) => return true,
    };
    let table = if address.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let Ok(text) = std::fs::read_to_string(table) else {
        return true;
    };
    let port = format!(":{:04X}", address.port());
    text.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl, local_address, rem_address, st (0A: LISTEN), …, inode (the tenth).
        fields.len() > 9
            && fields[1].ends_with(&port)
            && fields[3] == "0A"
            && fields[9]
                .parse::<u64>()
                .is_ok_and(|inode| !ours.contains(&inode))
    })
}

/// Makes `socket` (listening) drop new connections; those already queued or under way stay.
pub fn close_gate(socket: BorrowedFd<'_>) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    SockRef::from(&socket).attach_filter(&DROP_NEW_CONNECTIONS)?;
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
    Ok(())
}

/// Removes the filter [`close_gate`] attached, if any: for a socket taken over from a meshd
/// that was closing it.
pub fn open(socket: BorrowedFd<'_>) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    match SockRef::from(&socket).detach_filter() {
        // ENOENT: there was no filter.
        Err(error) if error.raw_os_error() != Some(libc::ENOENT) => return Err(error),
        _ => {}
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::os::fd::{AsFd, AsRawFd};

    use socket2::{Domain, Socket, Type};

    use super::*;

    /// The state of a client socket (`TCP_INFO`): on loopback the kernel runs the whole
    /// handshake inside `connect`, so right after it the socket is established, or still
    /// waiting for a SYN-ACK if the SYN was dropped.
    fn tcp_state(socket: &Socket) -> u8 {
        // SAFETY: tcp_info is plain integers, for which all zeros is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` is a writable tcp_info of `len` bytes.
        let result = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                std::ptr::from_mut(&mut info).cast(),
                &mut len,
            )
        };
        assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
        info.tcpi_state
    }

    fn connect_nonblocking(listener: &TcpListener) -> Socket {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        let _ = socket.connect(&listener.local_addr().unwrap().into());
        socket
    }

    const ESTABLISHED: u8 = 1;
    const SYN_SENT: u8 = 2;

    #[test]
    fn a_closed_gate_drops_new_connections_and_keeps_queued_ones() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let queued = TcpStream::connect(listener.local_addr().unwrap()).unwrap();

        close_gate(listener.as_fd()).unwrap();
        let refused = connect_nonblocking(&listener);
        assert_eq!(tcp_state(&refused), SYN_SENT, "the SYN was not dropped");
        // The connection queued before the gate closed is still there, and talks.
        let (mut accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(false).unwrap();
        std::io::Write::write_all(&mut accepted, b"x").unwrap();
        let mut byte = [0u8];
        std::io::Read::read_exact(&mut &queued, &mut byte).unwrap();
        assert_eq!(&byte, b"x");
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "the dropped SYN made a connection"
        );

        open(listener.as_fd()).unwrap();
        let admitted = connect_nonblocking(&listener);
        assert_eq!(tcp_state(&admitted), ESTABLISHED);
        // Opening a socket without a filter is not an error.
        open(listener.as_fd()).unwrap();
    }

    #[test]
    fn a_listener_of_another_process_on_the_port_is_seen_and_our_own_are_not() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let _second_of_ours = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(
            !others_listen_on(address),
            "our own listener counted as another's"
        );

        // Another process listens beside it, as a new meshd would with SO_REUSEPORT.
        let ours = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        ours.set_reuse_port(true).unwrap();
        ours.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        ours.listen(8).unwrap();
        let port = ours.local_addr().unwrap().as_socket().unwrap().port();
        let script = format!(
            "import socket, sys\n\
             s = socket.socket()\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n\
             s.bind(('127.0.0.1', {port}))\n\
             s.listen(8)\n\
             print('listening', flush=True)\n\
             sys.stdin.read()\n"
        );
        let mut other = std::process::Command::new("python3")
            .args(["-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(other.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "listening");
        let seen = others_listen_on(SocketAddr::from(([127, 0, 0, 1], port)));
        drop(other.stdin.take());
        other.wait().unwrap();
        assert!(
            seen,
            "the other process's listener on port {port} was not seen"
        );
        assert!(!others_listen_on(SocketAddr::from(([127, 0, 0, 1], port))));
    }
}
