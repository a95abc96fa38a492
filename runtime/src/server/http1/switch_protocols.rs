//! The end of an HTTP/1 connection's request loop when the upstream switched protocols: the 101
//! head is written, and the connection becomes one side of a tunnel
//! ([`crate::forward::upgrade::tunnel`]) until the tunnel closes. No further request is read.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::client_body::ClientConn;
use crate::forward::upgrade::switched_response::encode_switch_head;
use crate::forward::upgrade::tunnel::run_tunnel;
use crate::forward::ResponseBody;
use crate::server::gateway_response::GatewayResponse;

/// Answers 101 and runs the tunnel; `response` must carry a switched body (anything else is
/// left unanswered and the connection closes).
pub async fn switch_protocols<I>(conn: &mut ClientConn<I>, response: GatewayResponse)
where
    I: AsyncRead + AsyncWrite + Unpin + Send,
{
    let GatewayResponse { headers, body, .. } = response;
    let ResponseBody::Switched(switched) = body else {
        return;
    };
    encode_switch_head(&mut conn.write, &headers, &switched.protocol);
    drop(headers);
    if conn.io.write_all(&conn.write).await.is_err() || conn.io.flush().await.is_err() {
        return;
    }
    // What the client sent after its request head already belongs to the new protocol.
    let early = conn.read.split();
    run_tunnel(&mut conn.io, early, *switched).await;
}
