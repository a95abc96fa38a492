//! HTTP/2 settings for meshd's connections to upstreams and for its listeners: flow-control
//! windows, and how many streams one connection carries.
//!
//! One HTTP/2 connection carries many streams: meshd's connection to an upstream carries the
//! requests of every client of that service, and a sidecar's mesh connection carries every caller
//! behind the peer sidecar. When a client stops reading, meshd stops reading that stream from the
//! upstream, so its data waits, unread, in the stream's receive window. The data also counts against
//! the connection's window. If the connection window is only a few stream windows wide (hyper's
//! defaults: 5 MiB against 2 MiB for clients, 1 MiB against 1 MiB for servers), a few stalled
//! readers use it all. Every other stream on the connection then stops too, including other
//! clients' streams.
//!
//! So meshd controls flow per stream only, as nginx and Apache httpd do. The connection window is
//! the protocol's largest, and each stream's window bounds what a stalled stream can hold. What
//! meshd buffers for stalled streams is at most the stream window times the streams open on the
//! connection. The upstream's `SETTINGS_MAX_CONCURRENT_STREAMS` limits those streams on meshd's
//! connections to it, and [`MAX_CONCURRENT_STREAMS`] limits them on meshd's listeners.

/// The largest flow-control window HTTP/2 allows (RFC 9113 §6.9.1): the connection's.
pub const CONNECTION_WINDOW: u32 = (1 << 31) - 1;

/// What one stream from an upstream may have in flight before meshd reads it: 1 MiB, 1 GB/s at a
/// millisecond's round trip. A stream whose client stalled holds at most this much.
pub const UPSTREAM_STREAM_WINDOW: u32 = 1024 * 1024;

/// What one stream from a client may have in flight before meshd reads it (a request body meshd
/// is waiting to pass upstream): 256 KiB, 250 MB/s at a millisecond's round trip.
pub const LISTENER_STREAM_WINDOW: u32 = 256 * 1024;

/// The streams a client may have open at once on one connection to a meshd listener, unless
/// `--http2-max-streams` says otherwise (Envoy's advice for edge proxies). With the connection
/// window at its largest, this and [`LISTENER_STREAM_WINDOW`] bound what one client connection
/// can make meshd hold: 25 MiB.
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// The streams meshd opens at once on one connection to an upstream endpoint; the next stream
/// goes on another connection. RFC 9113 §6.5.2 advises servers to allow at least 100, so a
/// server that follows the advice never makes a request wait for a stream to end elsewhere. A
/// long-lived stream (a gRPC subscription, a WebSocket over HTTP/2) would otherwise hold its slot
/// until it ends, however long that is.
pub const STREAMS_PER_UPSTREAM_CONNECTION: usize = 100;

/// How often meshd pings each of its HTTP/2 connections, to upstreams and from clients, idle or
/// not. A connection whose peer vanished without a reset (a host that lost power, a NAT or
/// firewall that forgot the flow) would otherwise take requests into silence, or hold a quiet
/// long-lived stream (a subscription) and the upstream stream behind it, until TCP gives up,
/// some fifteen minutes after meshd next sends on it, or never when nothing is sent. The pings
/// also keep such middleboxes from forgetting an idle connection.
pub const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a ping may go unanswered before meshd closes the connection, resetting its streams;
/// towards an upstream, the next request opens another. A dead connection is found within 15 s.
pub const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
