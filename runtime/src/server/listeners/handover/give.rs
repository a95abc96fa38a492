//! The old meshd's side of a hand-over: answer at the hand-over socket, give the listening
//! sockets to the meshd that asks, and start draining once it serves.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::Interest;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};

use super::super::{BoundListener, SocketRole};
use super::fd_passing::send_with_fds;
use super::{
    Draining, Hello, Offer, OfferedSocket, Ready, FDS_PER_MESSAGE, PROTOCOL_VERSION, READY_PATIENCE,
};

/// How long a caller at the hand-over socket may take to say hello (a new meshd says it at once).
const HELLO_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// A meshd's answering side: its hand-over socket and what it offers there.
#[derive(Debug)]
pub struct Giver {
    socket: HandoverSocket,
    offer: Arc<HandoverOffer>,
}

impl Giver {
    /// The offer (withdrawn before the listeners close).
    pub fn offer(&self) -> Arc<HandoverOffer> {
        Arc::clone(&self.offer)
    }

    /// Withdraws the offer and removes the socket file, unless a newer meshd's is there.
    pub fn close(self) {
        self.offer.withdraw();
        self.socket.remove();
    }
}

/// Answers hand-over requests at `path` (on `runtime`) with copies of `sockets`, until one
/// succeeds; then runs `handed_over` with the new process's id.
pub fn answer_handovers(
    path: &Path,
    sockets: Vec<(OfferedSocket, TcpListener)>,
    runtime: &tokio::runtime::Handle,
    handed_over: impl FnOnce(u32) + Send + 'static,
) -> std::io::Result<Giver> {
    let (socket, listener) = {
        let _entered = runtime.enter();
        HandoverSocket::bind(path)?
    };
    let offer = HandoverOffer::new(sockets);
    runtime.spawn(serve_handover(listener, Arc::clone(&offer), handed_over));
    Ok(Giver { socket, offer })
}

/// Copies of the admin socket (`(configured address, bound address, copy)`) and of every
/// gateway socket, as a hand-over gives them.
pub fn offered_sockets(
    admin: (&str, SocketAddr, TcpListener),
    bound: &[BoundListener],
) -> std::io::Result<Vec<(OfferedSocket, TcpListener)>> {
    let (configured, address, socket) = admin;
    let mut offered = vec![(
        OfferedSocket {
            role: SocketRole::Admin,
            configured: configured.to_string(),
            address,
        },
        socket,
    )];
    for listener in bound {
        for socket in &listener.sockets {
            offered.push((
                OfferedSocket {
                    role: SocketRole::Gateway,
                    configured: listener.configured.clone(),
                    address: listener.address,
                },
                socket.try_clone()?,
            ));
        }
    }
    Ok(offered)
}

/// The sockets this meshd would hand over: copies of its listening sockets, kept until its
/// listeners close. (They must go before the listeners close: a copy left open would keep a
/// socket listening with no one accepting, and the connections queued on it would be reset at
/// exit.)
#[derive(Debug, Default)]
pub struct HandoverOffer {
    sockets: Mutex<Option<Vec<(OfferedSocket, TcpListener)>>>,
}

impl HandoverOffer {
    /// An offer of `sockets` (copies; the originals stay with the workers and the admin).
    pub fn new(sockets: Vec<(OfferedSocket, TcpListener)>) -> Arc<Self> {
        Arc::new(HandoverOffer {
            sockets: Mutex::new(Some(sockets)),
        })
    }

    /// Closes the copies: nothing can be handed over any more. Called before the listeners
    /// close.
    pub fn withdraw(&self) {
        let mut sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        sockets.take();
    }

    /// Fresh copies of the sockets to send, or `None` once withdrawn.
    fn copies(&self) -> Option<std::io::Result<Vec<(OfferedSocket, TcpListener)>>> {
        let sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let sockets = sockets.as_ref()?;
        // From here the sockets may listen in another process too: they must close ungated.
        super::super::syn_gate::mark_shared();
        Some(
            sockets
                .iter()
                .map(|(offered, socket)| Ok((offered.clone(), socket.try_clone()?)))
                .collect(),
        )
    }
}

/// The hand-over socket this meshd answers on.
#[derive(Debug)]
pub struct HandoverSocket {
    path: PathBuf,
    inode: u64,
}

impl HandoverSocket {
    /// Listens at `path`, replacing whatever is there in one step (a meshd being replaced keeps
    /// its own socket open, unreachable; the socket file is only ever the live one's). Only the
    /// owner may connect: the sockets it hands out are the service's.
    pub fn bind(path: &Path) -> std::io::Result<(Self, UnixListener)> {
        let staging = path.with_extension(format!("{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&staging);
        let listener = std::os::unix::net::UnixListener::bind(&staging)?;
        let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&staging, path))
            .and_then(|()| std::fs::metadata(path));
        let metadata = match placed {
            Ok(metadata) => metadata,
            Err(error) => {
                let _ = std::fs::remove_file(&staging);
                return Err(error);
            }
        };
        listener.set_nonblocking(true)?;
        let listener = UnixListener::from_std(listener)?;
        Ok((
            HandoverSocket {
                path: path.to_path_buf(),
                inode: metadata.ino(),
            },
            listener,
        ))
    }

    /// Removes the socket file, unless another meshd has put its own there since.
    pub fn remove(&self) {
        let ours = std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.inode);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Answers hand-over requests on `listener` until one succeeds; then runs `handed_over` (stop
/// the admin listener, start draining) and stops answering.
pub async fn serve_handover(
    listener: UnixListener,
    offer: Arc<HandoverOffer>,
    handed_over: impl FnOnce(u32),
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        if let Err(refused) = same_user(&stream) {
            tracing::warn!(%refused, "hand-over refused");
            continue;
        }
        match session(stream, &offer).await {
            Ok(Some(pid)) => {
                handed_over(pid);
                return;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "hand-over abandoned; serving on"),
        }
    }
}

/// The sockets go only to a process of this one's user. The socket file is the owner's alone
/// (mode 0600) once placed; this also holds for a connection made before that, or through a
/// umask that left the file open to others.
fn same_user(stream: &UnixStream) -> Result<(), String> {
    let peer = stream.peer_cred().map_err(|e| e.to_string())?;
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let own = unsafe { libc::geteuid() };
    if peer.uid() == own {
        Ok(())
    } else {
        Err(format!(
            "a process of user {} (pid {:?}) is not of this meshd's user {own}",
            peer.uid(),
            peer.pid()
        ))
    }
}

/// One exchange; `Some(pid)` once the new meshd (`pid`) serves. A caller that has not said hello
/// within [`HELLO_PATIENCE`] is let go, so that it cannot hold up the meshd that comes next.
async fn session(stream: UnixStream, offer: &HandoverOffer) -> std::io::Result<Option<u32>> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let first = tokio::time::timeout(HELLO_PATIENCE, lines.next_line())
        .await
        .map_err(|_| std::io::Error::other("the caller said nothing"))??;
    let hello: Hello = match first {
        Some(line) => serde_json::from_str(&line).map_err(std::io::Error::other)?,
        None => return Ok(None),
    };
    if hello.meshd_handover != PROTOCOL_VERSION {
        send_line(
            &mut write,
            &refusal(format!(
                "protocol {} is not {PROTOCOL_VERSION}",
                hello.meshd_handover
            )),
        )
        .await?;
        return Ok(None);
    }
    let Some(copies) = offer.copies() else {
        send_line(
            &mut write,
            &refusal("this meshd's listeners are already closed".into()),
        )
        .await?;
        return Ok(None);
    };
    let copies = copies?;
    tracing::info!(
        pid = hello.pid,
        sockets = copies.len(),
        "handing the listening sockets over"
    );
    let header = Offer {
        meshd_handover: PROTOCOL_VERSION,
        pid: std::process::id(),
        sockets: copies.iter().map(|(offered, _)| offered.clone()).collect(),
        refused: None,
    };
    send_line(&mut write, &header).await?;
    let fds: Vec<BorrowedFd<'_>> = copies.iter().map(|(_, socket)| socket.as_fd()).collect();
    for batch in fds.chunks(FDS_PER_MESSAGE) {
        // One newline carries each batch: the reader skips blank lines.
        let stream: &UnixStream = write.as_ref();
        let sent = stream
            .async_io(Interest::WRITABLE, || {
                send_with_fds(stream.as_fd(), b"\n", batch)
            })
            .await?;
        if sent != 1 {
            return Err(std::io::Error::other("the hand-over socket took no byte"));
        }
    }
    drop(fds);
    drop(copies);
    let ready = tokio::time::timeout(READY_PATIENCE, async {
        loop {
            match lines.next_line().await? {
                None => return Ok::<_, std::io::Error>(None),
                Some(line) if line.trim().is_empty() => continue,
                Some(line) => {
                    let ready: Ready =
                        serde_json::from_str(&line).map_err(std::io::Error::other)?;
                    return Ok(Some(ready.ready));
                }
            }
        }
    })
    .await;
    match ready {
        Ok(Ok(Some(true))) => {
            send_line(
                &mut write,
                &Draining {
                    draining: true,
                    pid: std::process::id(),
                },
            )
            .await?;
            Ok(Some(hello.pid))
        }
        Ok(Ok(_)) => {
            tracing::warn!(
                pid = hello.pid,
                "the new meshd went away before serving; serving on"
            );
            Ok(None)
        }
        Ok(Err(error)) => Err(error),
        Err(_) => {
            tracing::warn!(
                pid = hello.pid,
                "the new meshd did not serve in time; serving on"
            );
            Ok(None)
        }
    }
}

fn refusal(reason: String) -> Offer {
    Offer {
        meshd_handover: PROTOCOL_VERSION,
        pid: std::process::id(),
        sockets: Vec::new(),
        refused: Some(reason),
    }
}

async fn send_line(
    write: &mut OwnedWriteHalf,
    message: &impl serde::Serialize,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await
}
