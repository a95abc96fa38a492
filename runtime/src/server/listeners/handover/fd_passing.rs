//! Bytes with file descriptors beside them over a unix stream socket (`SCM_RIGHTS`), through
//! rustix's safe `sendmsg`/`recvmsg`. Descriptors arrive close-on-exec.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use super::FDS_PER_MESSAGE;

/// Sends `bytes` (at least one) with `fds` (at most [`FDS_PER_MESSAGE`]) in one message; returns
/// how many bytes went out (the descriptors went with the first).
pub fn send_with_fds(
    socket: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<usize> {
    debug_assert!(!bytes.is_empty() && fds.len() <= FDS_PER_MESSAGE);
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_MESSAGE))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other(
            "too many descriptors for one message",
        ));
    }
    Ok(sendmsg(
        socket,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

/// Receives into `buffer`; returns the bytes read (0 at the end of the stream) and appends the
/// descriptors that came with them to `fds`.
pub fn receive_with_fds(
    socket: impl AsFd,
    buffer: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> std::io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_MESSAGE))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = recvmsg(
        socket,
        &mut [IoSliceMut::new(buffer)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if received.flags.contains(rustix::net::ReturnFlags::CTRUNC) {
        return Err(std::io::Error::other("descriptors were cut off in transit"));
    }
    Ok(received.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn listening_sockets_cross_with_their_queue() {
        let (left, right) = UnixStream::pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        // A connection queued before the hand-over is accepted from the received copy.
        let _client = std::net::TcpStream::connect(address).unwrap();
        let sent = send_with_fds(left.as_fd(), b"x", &[listener.as_fd()]).unwrap();
        assert_eq!(sent, 1);
        drop(listener);
        let mut buffer = [0u8; 8];
        let mut fds = Vec::new();
        assert_eq!(receive_with_fds(&right, &mut buffer, &mut fds).unwrap(), 1);
        assert_eq!(fds.len(), 1);
        let received = std::net::TcpListener::from(fds.pop().unwrap());
        assert_eq!(received.local_addr().unwrap(), address);
        let (_accepted, _) = received.accept().unwrap();
    }
}
