//! Bundles pulled over HTTP(S): `meshd run https://…/edge.json` polls the URL with conditional
//! GETs (`If-None-Match` / `If-Modified-Since`) every interval plus random jitter, backing off
//! exponentially while the server fails; a new bundle is checked (schema, digest, the detached
//! signature at `<url>.sig` when `--verify-key` is given, and its serial against the one served)
//! before it replaces the running one, and is then kept in a last-known-good cache directory so
//! a meshd that starts while the server is down serves it. Any static HTTP server or object
//! store serves bundles; there is no control plane.
//!
//! Reading order: [`bundle_url`] → [`http_get`] (the client) → [`fetcher`] (one poll) →
//! [`bundle_cache`] (last known good) → [`poll_schedule`] (interval, jitter, backoff) →
//! [`fetch_status`] and [`fetch_metrics`] (what the admin endpoint and Prometheus show).
//! The reloader drives them (`reload::remote_reload`, `reload::poll_url`).

pub mod bundle_cache;
pub mod bundle_url;
pub mod fetch_metrics;
pub mod fetch_status;
pub mod fetcher;
pub mod http_get;
pub mod poll_schedule;
pub mod source_options;

use std::path::PathBuf;
use std::sync::Arc;

use meshwork_bundle::signature::SignedBundle;
use meshwork_bundle::Bundle;

pub use bundle_cache::{BundleCache, CacheError, CacheRecord, CachedBundle};
pub use bundle_url::{BundleUrl, BundleUrlError};
pub use fetch_metrics::FetchStatusCollector;
pub use fetch_status::{FetchOutcome, FetchSnapshot, FetchStatus};
pub use fetcher::{BundleFetcher, Fetch, FetchError, FetchedBundle};
pub use http_get::{tls_client_config, GetError, HttpGetter, TlsClientError, Validators};
pub use poll_schedule::PollSchedule;
pub use source_options::{SourceArgs, SourceOptions};

use super::bundle_check::{check_bundle_bytes_to_serve, check_signed_bytes_to_serve};
use super::input::{InputError, ProgramInput};
use super::signature::VerifyKey;

/// Why a bundle URL cannot be polled.
#[derive(Debug, thiserror::Error)]
pub enum RemoteSetupError {
    /// The `https://` client could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsClientError),
    /// The cache directory cannot be created.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Everything needed to poll one bundle URL.
#[derive(Debug)]
pub struct RemoteSource {
    /// The bundle URL.
    pub url: BundleUrl,
    /// The poller (one poll at a time).
    pub fetcher: tokio::sync::Mutex<BundleFetcher>,
    /// The last-known-good cache, when `--cache-dir` is given.
    pub cache: Option<BundleCache>,
    /// What the admin endpoint and metrics show.
    pub status: Arc<FetchStatus>,
    /// When to poll.
    pub schedule: PollSchedule,
}

impl RemoteSource {
    /// Polling for `input` when it is a bundle URL, else `None`.
    pub fn for_input(
        input: &ProgramInput,
        options: &SourceOptions,
        want_signature: bool,
    ) -> Result<Option<RemoteSource>, RemoteSetupError> {
        match input {
            ProgramInput::Remote(url) => Self::new(url.clone(), options, want_signature).map(Some),
            _ => Ok(None),
        }
    }

    /// Sets up polling of `url`; `want_signature` fetches `<url>.sig` with each new bundle.
    pub fn new(
        url: BundleUrl,
        options: &SourceOptions,
        want_signature: bool,
    ) -> Result<RemoteSource, RemoteSetupError> {
        let tls = if url.is_https() {
            Some(tls_client_config(options.bundle_ca.as_deref())?)
        } else {
            None
        };
        let getter = HttpGetter::new(tls, options.fetch_timeout, options.max_bundle_bytes);
        let cache = options
            .cache_dir
            .as_deref()
            .map(BundleCache::open)
            .transpose()?;
        let status = Arc::new(FetchStatus::new(
            url.as_str(),
            cache.as_ref().map(|c| c.dir().display().to_string()),
        ));
        Ok(RemoteSource {
            fetcher: tokio::sync::Mutex::new(BundleFetcher::new(
                url.clone(),
                getter,
                want_signature,
            )),
            url,
            cache,
            status,
            schedule: options.schedule(),
        })
    }
}

/// Checks bundle bytes from `origin` (the URL, or the cache file) to serve them and, with a key,
/// their signature: what a bundle file gets, for bytes that did not come from a file (the
/// program graph checked, not kept).
pub fn check_fetched(
    bytes: &[u8],
    signature: Option<&str>,
    key: Option<&VerifyKey>,
    origin: &str,
) -> Result<Bundle, InputError> {
    let path = PathBuf::from(origin);
    let Some(key) = key else {
        return check_bundle_bytes_to_serve(bytes)
            .map_err(|source| InputError::Bundle { path, source });
    };
    // The signature first, on its own: the bytes are then read no further than what it vouches
    // for (a hostile server's zstd bomb costs no more than the bundle its operator signed).
    let signature_origin = PathBuf::from(format!("{origin}.sig"));
    let read = |signed: Option<&SignedBundle>| check_signed_bytes_to_serve(bytes, signed);
    key.read_under(&signature_origin, signature, read)
        .map_err(|error| InputError::signed_read(&path, error))
}
