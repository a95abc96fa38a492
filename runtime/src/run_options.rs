//! What `meshd run` and `meshd sidecar` are told ([`RunOptions`]) and the defaults of its
//! timeouts.

use std::path::PathBuf;
use std::time::Duration;

use crate::forward::pool::DEFAULT_UPSTREAM_IDLE_TIMEOUT;
use crate::load::remote::SourceOptions;
use crate::mesh::sidecar::SidecarOptions;
use crate::server::drain::DrainPlan;
use crate::stream::{BrokerProgram, StreamOptions};
use crate::trace::TraceArgs;

/// How long a client connection may stay idle between requests by default: 60 s (nginx's
/// `keepalive_timeout` is 75 s; most clients close idle connections well before either).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a client may take nothing of a response by default: 60 s, nginx's `send_timeout`.
/// An HTTP/1.1 connection is then closed, an HTTP/2 stream reset, and the upstream exchange
/// behind it ends.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long inbound listeners keep accepting after SIGTERM by default: 5 s, for load balancers
/// and Kubernetes endpoints to stop sending (Istio's default drain duration; a common preStop
/// sleep).
pub const DEFAULT_DRAIN_DELAY: Duration = Duration::from_secs(5);

/// How long a drain may take from the signal by default: 20 s. Kafka's flush and the streams'
/// last commits follow (at most 5 s), so meshd is done within Kubernetes' default 30 s
/// `terminationGracePeriodSeconds`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything `meshd run` is told.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// A bundle file, or `.mesh` files and directories.
    pub inputs: Vec<PathBuf>,
    /// The admin listener's address.
    pub admin: String,
    /// Kafka bootstrap servers; `None` starts the embedded broker. Passed to the Kafka side untouched.
    pub brokers: Option<String>,
    /// librdkafka settings (`key=value`), passed to the Kafka side untouched.
    pub kafka: Vec<(String, String)>,
    /// What runs the embedded broker: meshd itself, unless a program that embeds meshd's
    /// library (a test) names a meshd executable.
    pub embedded_broker: BrokerProgram,
    /// The Redis that counts `shared` rate limits; without it they are counted per process.
    pub redis: Option<String>,
    /// The public key bundles must be signed with.
    pub verify_key: Option<PathBuf>,
    /// Whether signatures of the first format are accepted too (`--accept-v1-signatures`).
    pub accept_v1_signatures: bool,
    /// Whether to write the access log.
    pub access_log: bool,
    /// Whether to start demo upstreams on the services' loopback endpoints.
    pub demo_upstreams: bool,
    /// Worker threads; 0 means one per CPU this process may run on.
    pub workers: usize,
    /// How often the program's files' metadata is compared (the safety net beside inotify, which
    /// sees changes at once; see [`crate::reload::file_watch`]).
    pub watch_interval: Duration,
    /// Whether SIGHUP reloads (the binary: yes; tests running several servers in one process: no).
    pub reload_on_sighup: bool,
    /// How long a client may take to send a request head.
    pub head_timeout: Duration,
    /// How long a client connection may stay idle between requests before it is closed.
    pub idle_timeout: Duration,
    /// How long a client may take nothing of a response (`--send-timeout`).
    pub send_timeout: Duration,
    /// How long a kept-alive upstream connection may stay idle before meshd closes it.
    pub upstream_idle_timeout: Duration,
    /// The streams one HTTP/2 client connection may have open at once (`--http2-max-streams`).
    pub http2_max_streams: u32,
    /// The gateway's workload certificate directory: forwards to services that are mesh
    /// workloads go over mutual TLS with it (`--mesh-certs`).
    pub mesh_certs: Option<PathBuf>,
    /// Run as one service's sidecar instead of the gateways (`meshd sidecar`).
    pub sidecar: Option<SidecarOptions>,
    /// Polling, caching and rollback settings for bundles (a bundle URL).
    pub source: SourceOptions,
    /// Stream tuning (commit window, session and transaction timeouts).
    pub streams: StreamOptions,
    /// How a drain runs (SIGTERM; SIGINT and SIGQUIT drain without the delay).
    pub drain: DrainPlan,
    /// The unix socket through which a new meshd takes this one's listening sockets (and this
    /// one takes those of the meshd already answering there).
    pub handover_socket: Option<PathBuf>,
    /// Seeds routes' `fault` draws (`--fault-seed`): the same seed faults the same requests.
    pub fault_seed: Option<u64>,
    /// Where spans go (`--otlp-endpoint`, `--otlp-service-name`).
    pub trace: TraceArgs,
}

impl RunOptions {
    /// Defaults for `inputs`: admin on 127.0.0.1:9901, access log on, auto workers, a 1 s
    /// safety-net poll beside the file watcher, 30 s for a request head, 60 s idle between
    /// requests (60 s for upstream connections), 60 s for a client taking nothing of a response,
    /// drains of 5 s delay and 20 s timeout.
    pub fn new(inputs: Vec<PathBuf>) -> Self {
        RunOptions {
            inputs,
            admin: "127.0.0.1:9901".to_string(),
            brokers: None,
            kafka: Vec::new(),
            embedded_broker: BrokerProgram::this_executable(),
            redis: None,
            verify_key: None,
            accept_v1_signatures: false,
            access_log: true,
            demo_upstreams: false,
            workers: 0,
            watch_interval: Duration::from_secs(1),
            reload_on_sighup: false,
            head_timeout: Duration::from_secs(30),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            upstream_idle_timeout: DEFAULT_UPSTREAM_IDLE_TIMEOUT,
            http2_max_streams: crate::http2_settings::MAX_CONCURRENT_STREAMS,
            mesh_certs: None,
            sidecar: None,
            source: SourceOptions::default(),
            streams: StreamOptions::default(),
            drain: DrainPlan {
                delay: DEFAULT_DRAIN_DELAY,
                timeout: DEFAULT_DRAIN_TIMEOUT,
            },
            handover_socket: None,
            fault_seed: None,
            trace: TraceArgs::default(),
        }
    }
}
