//! The new meshd's side of a hand-over: ask the meshd at the hand-over socket for its listening
//! sockets before binding anything, and tell it to drain once this one serves. Blocking: it runs
//! during start-up.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::super::inherited::{InheritedSocket, InheritedSockets};
use super::fd_passing::receive_with_fds;
use super::{Draining, HandoverError, Hello, Offer, Ready, PROTOCOL_VERSION};

/// How long the old meshd may take to answer a step.
const ANSWER_PATIENCE: Duration = Duration::from_secs(10);

/// Sockets taken from an old meshd, which drains once [`TakenListeners::finish`] says this one
/// serves.
#[derive(Debug)]
pub struct TakenListeners {
    /// The sockets, to be matched to this program's listeners.
    pub sockets: InheritedSockets,
    /// The old process.
    pub old_pid: u32,
    session: UnixStream,
    path: String,
}

/// Takes the listening sockets of the meshd answering at `path`, if one does; a failure is logged
/// and this meshd binds its own sockets (`SO_REUSEPORT` lets it share the gateway ports, not the
/// admin one).
pub fn take_over(path: &Path) -> Option<TakenListeners> {
    match take_listeners(path) {
        Ok(Some(taken)) => {
            tracing::info!(
                pid = taken.old_pid,
                sockets = taken.sockets.len(),
                "taking the listening sockets of the running meshd"
            );
            Some(taken)
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "no hand-over; binding new sockets");
            None
        }
    }
}

/// Takes the listening sockets of the meshd answering at `path`; `Ok(None)` when none answers
/// there (the first meshd on this host).
pub fn take_listeners(path: &Path) -> Result<Option<TakenListeners>, HandoverError> {
    let shown = path.display().to_string();
    let io = |source| HandoverError::Io {
        path: shown.clone(),
        source,
    };
    let session = match UnixStream::connect(path) {
        Ok(session) => session,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(io(error)),
    };
    session
        .set_read_timeout(Some(ANSWER_PATIENCE))
        .map_err(io)?;
    let hello = Hello {
        meshd_handover: PROTOCOL_VERSION,
        pid: std::process::id(),
    };
    send_line(&session, &hello).map_err(io)?;
    let (offer, fds) = receive_offer(&session, &shown)?;
    if let Some(reason) = offer.refused {
        return Err(HandoverError::Refused {
            path: shown,
            reason,
        });
    }
    let sockets = offer
        .sockets
        .into_iter()
        .zip(fds)
        .map(|(offered, fd)| {
            let socket = TcpListener::from(fd);
            socket.set_nonblocking(true)?;
            // The meshd handing it over may be closing its copy: new connections are ours.
            super::super::syn_gate::open(socket.as_fd())?;
            Ok(InheritedSocket {
                role: offered.role,
                configured: offered.configured,
                address: socket.local_addr()?,
                socket,
            })
        })
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io)?;
    Ok(Some(TakenListeners {
        sockets: InheritedSockets::new(sockets),
        old_pid: offer.pid,
        session,
        path: shown,
    }))
}

/// Reads the offer line and as many descriptors as it announces.
fn receive_offer(session: &UnixStream, path: &str) -> Result<(Offer, Vec<OwnedFd>), HandoverError> {
    let protocol = |reason: String| HandoverError::Protocol {
        path: path.to_string(),
        reason,
    };
    let mut bytes = Vec::new();
    let mut fds = Vec::new();
    let mut offer: Option<Offer> = None;
    let mut buffer = [0u8; 4096];
    loop {
        if offer.is_none() {
            if let Some(end) = bytes.iter().position(|&b| b == b'\n') {
                let parsed: Offer = serde_json::from_slice(&bytes[..end])
                    .map_err(|e| protocol(format!("unreadable offer: {e}")))?;
                if parsed.meshd_handover != PROTOCOL_VERSION {
                    return Err(protocol(format!(
                        "the old meshd speaks hand-over protocol {}, this one {PROTOCOL_VERSION}",
                        parsed.meshd_handover
                    )));
                }
                offer = Some(parsed);
            }
        }
        if let Some(offer) = &offer {
            if offer.refused.is_some() || fds.len() >= offer.sockets.len() {
                break;
            }
        }
        let read = receive_with_fds(session, &mut buffer, &mut fds).map_err(|source| {
            HandoverError::Io {
                path: path.to_string(),
                source,
            }
        })?;
        if read == 0 {
            return Err(protocol(
                "the old meshd closed the connection mid-offer".into(),
            ));
        }
        bytes.extend_from_slice(&buffer[..read]);
    }
    let offer = offer.ok_or_else(|| protocol("no offer".into()))?;
    if fds.len() != offer.sockets.len() && offer.refused.is_none() {
        return Err(protocol(format!(
            "{} sockets announced, {} received",
            offer.sockets.len(),
            fds.len()
        )));
    }
    Ok((offer, fds))
}

impl TakenListeners {
    /// Tells the old meshd that this one serves; it answers that it drains. Returns its pid.
    pub fn finish(self) -> Result<u32, HandoverError> {
        let io = |source| HandoverError::Io {
            path: self.path.clone(),
            source,
        };
        send_line(&self.session, &Ready { ready: true }).map_err(io)?;
        let mut lines = BufReader::new(&self.session);
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).map_err(io)? == 0 {
                return Err(HandoverError::Protocol {
                    path: self.path.clone(),
                    reason: "the old meshd closed the connection before draining".into(),
                });
            }
            if !line.trim().is_empty() {
                break;
            }
        }
        let draining: Draining =
            serde_json::from_str(&line).map_err(|e| HandoverError::Protocol {
                path: self.path.clone(),
                reason: format!("unreadable answer: {e}"),
            })?;
        Ok(draining.pid)
    }
}

fn send_line(session: &UnixStream, message: &impl serde::Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    line.push(b'\n');
    (&*session).write_all(&line)
}
