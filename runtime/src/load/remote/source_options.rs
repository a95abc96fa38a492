//! How meshd gets its bundles over HTTP, and whether it may roll back: the `meshd run` flags
//! ([`SourceArgs`]) and the options they become ([`SourceOptions`]).

use std::path::PathBuf;
use std::time::Duration;

use super::poll_schedule::PollSchedule;

/// Bundle-source settings of one meshd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// The wait between polls of a bundle URL.
    pub poll_interval: Duration,
    /// A random extra wait in `[0, jitter]` per poll; `None` for a fifth of the interval.
    pub poll_jitter: Option<Duration>,
    /// The longest wait between polls while the server fails.
    pub poll_max_backoff: Duration,
    /// The deadline of one GET (connect, TLS, request, whole body).
    pub fetch_timeout: Duration,
    /// The largest bundle accepted over HTTP.
    pub max_bundle_bytes: usize,
    /// Where the last accepted bundle is kept.
    pub cache_dir: Option<PathBuf>,
    /// The CA certificates (PEM) that `https://` bundle servers must chain to, instead of the
    /// system's trust store.
    pub bundle_ca: Option<PathBuf>,
    /// Accept a bundle whose serial is lower than the one served.
    pub allow_rollback: bool,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            poll_interval: Duration::from_secs(30),
            poll_jitter: None,
            poll_max_backoff: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(10),
            max_bundle_bytes: 512 << 20,
            cache_dir: None,
            bundle_ca: None,
            allow_rollback: false,
        }
    }
}

impl SourceOptions {
    /// The polling rhythm.
    pub fn schedule(&self) -> PollSchedule {
        PollSchedule {
            interval: self.poll_interval,
            jitter: self.poll_jitter.unwrap_or(self.poll_interval / 5),
            max_backoff: self.poll_max_backoff,
        }
    }
}

/// The `meshd run` flags for bundles served over HTTP and for rollbacks.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// With a bundle URL: the wait between polls (conditional GETs), e.g. `30s`, `1s`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// A random extra wait of up to this much per poll, so a fleet does not poll in step
    /// (default: a fifth of the interval).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub poll_jitter: Option<Duration>,
    /// The longest wait between polls while the server fails or serves a refused bundle (the
    /// wait doubles per failure from the interval up to this).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub poll_max_backoff: Duration,
    /// The deadline of one GET of the bundle or its signature.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub fetch_timeout: Duration,
    /// Keep each accepted bundle here (last known good) and start from it when the bundle
    /// server is unreachable. One directory per meshd.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Trust only these CA certificates (PEM) for an `https://` bundle URL, instead of the
    /// system's.
    #[arg(long, value_name = "FILE")]
    pub bundle_ca: Option<PathBuf>,
    /// Accept a bundle whose serial is lower than the one served (a deliberate rollback);
    /// otherwise it is refused, so a stale mirror cannot roll the fleet back.
    #[arg(long)]
    pub allow_rollback: bool,
}

impl From<SourceArgs> for SourceOptions {
    fn from(args: SourceArgs) -> Self {
        SourceOptions {
            poll_interval: args.poll_interval.max(Duration::from_millis(10)),
            poll_jitter: args.poll_jitter,
            poll_max_backoff: args.poll_max_backoff,
            fetch_timeout: args.fetch_timeout.max(Duration::from_millis(1)),
            cache_dir: args.cache_dir,
            bundle_ca: args.bundle_ca,
            allow_rollback: args.allow_rollback,
            ..SourceOptions::default()
        }
    }
}
