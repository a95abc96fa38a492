//! Loading and reloading: build the new state off the request path, check that it can replace the
//! old one, swap it in, and start what runs beside it (health checks). A bundle that fails any
//! check is refused, logged and counted, and the old state keeps serving.
//!
//! Listener addresses (and whether a listener is TLS) are fixed for the life of the process: a
//! bundle that adds, removes or moves a listener is refused on reload (restart meshd to change
//! them). Everything else may change, including TLS certificates, which new connections pick up.
//!
//! No silent rollback: a bundle whose serial is lower than the served one's is refused unless the
//! process allows rollbacks (`--allow-rollback`). A bundle URL is fetched rather than read; that
//! path lives in `remote_reload`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;

use crate::admit::AdmitOptions;
use crate::forward::pool::PoolSettings;
use crate::load::remote::{CacheError, FetchError, RemoteSource};
use crate::load::{InputError, LoadedInput, ProgramInput, VerifyKey};
use crate::metrics::Metrics;
use crate::state::{AdmissionSetup, MeshTlsSetup, RuntimeState, StateError, StateScope};
use crate::stream::KafkaRuntime;

use super::state_cell::StateCell;

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailure {
    /// The input did not yield a checked bundle.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The bundle could not become runtime state.
    #[error("the bundle cannot be served")]
    State(#[from] StateError),
    /// The bundle changes the listeners.
    #[error("the bundle changes the listeners (now {now}, new {new}); restart meshd to change listeners")]
    ListenersChanged {
        /// The current layout.
        now: String,
        /// The refused layout.
        new: String,
    },
    /// The build task failed.
    #[error("the load task failed: {0}")]
    Task(String),
    /// The bundle is older than the one served.
    #[error("the bundle's serial {offered} is lower than the served bundle's {serving}: refused as a rollback (meshd --allow-rollback accepts it; or rebuild with a higher --serial)")]
    Rollback {
        /// The serial served.
        serving: u64,
        /// The serial refused.
        offered: u64,
    },
    /// The bundle URL could not be fetched.
    #[error("cannot fetch the bundle")]
    Fetch(#[from] FetchError),
    /// At start: no bundle from the server and none in the cache.
    #[error("no bundle to start with: {url} gave none ({fetch}) and {cache}")]
    NothingToServe {
        /// The bundle URL.
        url: String,
        /// What the fetch gave.
        fetch: String,
        /// What the cache gave.
        cache: String,
    },
    /// The cache could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The result of a successful reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// The digest now served.
    pub digest: String,
    /// False when the new bundle was identical to the one served (nothing was swapped).
    pub changed: bool,
}

/// Loads the program input into the [`StateCell`], at start and on every reload trigger.
#[derive(Debug)]
pub struct Reloader {
    input: ProgramInput,
    verify_key: Option<VerifyKey>,
    pools: PoolSettings,
    pub(super) metrics: Arc<Metrics>,
    cell: Arc<StateCell>,
    control: tokio::runtime::Handle,
    admission: AdmitOptions,
    kafka: Option<Arc<KafkaRuntime>>,
    scope: StateScope,
    mesh_tls: Option<MeshTlsSetup>,
    pub(super) remote: Option<RemoteSource>,
    allow_rollback: bool,
    files: Mutex<Vec<PathBuf>>,
    pub(super) one_at_a_time: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader for `input`; health checks run on `control`; `admission` holds the process's
    /// admission settings (`--redis`), the same for every bundle.
    pub fn new(
        input: ProgramInput,
        verify_key: Option<VerifyKey>,
        pools: PoolSettings,
        metrics: Arc<Metrics>,
        cell: Arc<StateCell>,
        control: tokio::runtime::Handle,
        admission: AdmitOptions,
    ) -> Self {
        Reloader {
            input,
            verify_key,
            pools,
            metrics,
            cell,
            control,
            admission,
            kafka: None,
            scope: StateScope::Gateways,
            mesh_tls: None,
            remote: None,
            allow_rollback: false,
            files: Mutex::new(Vec::new()),
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// Bundles come from this URL (when the input is [`ProgramInput::Remote`]).
    pub fn with_remote(mut self, remote: Option<RemoteSource>) -> Self {
        self.remote = remote;
        self
    }

    /// Whether a bundle with a lower serial than the served one may replace it.
    pub fn allowing_rollback(mut self, allow: bool) -> Self {
        self.allow_rollback = allow;
        self
    }

    /// The bundle URL being polled, if the input is one.
    pub fn remote(&self) -> Option<&RemoteSource> {
        self.remote.as_ref()
    }

    /// Bundles are served with this process's Kafka (produce routes and streams); without it a
    /// bundle that uses Kafka is refused.
    pub fn with_kafka(mut self, kafka: Arc<KafkaRuntime>) -> Self {
        self.kafka = Some(kafka);
        self
    }

    /// Bundles are served for `scope` (a sidecar's service instead of the gateways); a bundle
    /// without the sidecar's service is refused.
    pub fn with_scope(mut self, scope: StateScope) -> Self {
        self.scope = scope;
        self
    }

    /// Services that are mesh workloads are called over mutual TLS with this setup.
    pub fn with_mesh_tls(mut self, mesh_tls: Option<MeshTlsSetup>) -> Self {
        self.mesh_tls = mesh_tls;
        self
    }

    /// The program input.
    pub fn input(&self) -> &ProgramInput {
        &self.input
    }

    /// The files the served bundle came from (for change detection).
    pub fn files(&self) -> Vec<PathBuf> {
        self.files.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// The key bundles must be signed with.
    pub(super) fn verify_key(&self) -> Option<&VerifyKey> {
        self.verify_key.as_ref()
    }

    /// The state being served.
    pub(super) fn cell(&self) -> &StateCell {
        &self.cell
    }

    /// The control runtime.
    pub(super) fn control(&self) -> &tokio::runtime::Handle {
        &self.control
    }

    /// Loads and builds a state without swapping it in.
    fn build(&self) -> Result<(RuntimeState, Vec<PathBuf>, String), LoadFailure> {
        let built = self.build_untrimmed();
        crate::load::memory_trim::trim_heap();
        built
    }

    /// [`Reloader::build`] without the heap trim that follows it.
    fn build_untrimmed(&self) -> Result<(RuntimeState, Vec<PathBuf>, String), LoadFailure> {
        let loaded = self.input.load(self.verify_key.as_ref());
        self.build_from(loaded.map_err(LoadFailure::from))
    }

    /// Builds a state from a checked bundle, without swapping it in.
    pub(super) fn build_loaded(
        &self,
        loaded: Result<LoadedInput, LoadFailure>,
    ) -> Result<(RuntimeState, Vec<PathBuf>, String), LoadFailure> {
        let built = self.build_from(loaded);
        crate::load::memory_trim::trim_heap();
        built
    }

    fn build_from(
        &self,
        loaded: Result<LoadedInput, LoadFailure>,
    ) -> Result<(RuntimeState, Vec<PathBuf>, String), LoadFailure> {
        loaded.and_then(|loaded| {
            let setup = AdmissionSetup {
                scope: self.scope.clone(),
                mesh_tls: self.mesh_tls.clone(),
                options: self.admission.clone(),
                // `file("…")` secrets are relative to the program's directory (bundle contract).
                secrets_dir: self.input.base_dir(),
                previous: self.cell.load(),
                kafka: self.kafka.clone(),
            };
            let state = RuntimeState::build(&loaded.bundle, self.pools, &self.metrics, &setup)?;
            let mut warnings = loaded.warnings;
            for warning in state.admission_warnings() {
                warnings.push_str(&warning);
                warnings.push('\n');
            }
            Ok((state, loaded.files, warnings))
        })
    }

    /// The first load (blocking; called before serving starts).
    pub fn load_initial(&self) -> Result<Arc<RuntimeState>, LoadFailure> {
        if self.remote.is_some() {
            return self.load_initial_remote();
        }
        let built = self.build_untrimmed();
        // The load's temporaries (the bundle text and tree, in an arena of their own) are given
        // back on a thread of their own: the listeners need not wait for it (a tenth of the
        // start of a 100 000-route program).
        let trim = std::thread::Builder::new()
            .name("meshd-trim".into())
            .spawn(crate::load::memory_trim::trim_heap);
        if trim.is_err() {
            crate::load::memory_trim::trim_heap();
        }
        match built {
            Ok((state, files, warnings)) => Ok(self.install(state, files, &warnings, None).0),
            Err(failure) => {
                self.metrics.count_load(false);
                Err(failure)
            }
        }
    }

    /// Reloads after `trigger` (`file`, `signal`, `admin`); serialized with other reloads.
    pub async fn reload(
        self: &Arc<Self>,
        trigger: &'static str,
    ) -> Result<ReloadOutcome, LoadFailure> {
        if self.remote.is_some() {
            return self.reload_remote(trigger).await;
        }
        let _one_at_a_time = self.one_at_a_time.lock().await;
        let this = Arc::clone(self);
        let built = tokio::task::spawn_blocking(move || this.build())
            .await
            .map_err(|e| LoadFailure::Task(e.to_string()))
            .and_then(|built| built);
        let result =
            built.and_then(|(state, files, warnings)| self.accept(state, files, &warnings, None));
        let result = result.map(|(outcome, replaced)| {
            if let Some(replaced) = replaced {
                release_when_unused(replaced, self.metrics.replaced_states());
            }
            outcome
        });
        match &result {
            Ok(outcome) if outcome.changed => {
                tracing::info!(trigger, digest = %outcome.digest, "bundle reloaded");
            }
            Ok(outcome) => {
                tracing::info!(trigger, digest = %outcome.digest, "bundle unchanged");
            }
            Err(failure) => {
                self.metrics.count_load(false);
                tracing::error!(trigger, error = %error_chain(failure), "bundle refused; the previous bundle keeps serving");
            }
        }
        result
    }

    /// Checks a freshly built state against the served one and swaps it in; `etag` is the
    /// bundle's HTTP `ETag` when it was fetched. Returns the state to release: the one it
    /// replaced, or the one it built and did not need (the same bundle as served).
    pub(super) fn accept(
        &self,
        state: RuntimeState,
        files: Vec<PathBuf>,
        warnings: &str,
        etag: Option<&str>,
    ) -> Result<(ReloadOutcome, Option<Arc<RuntimeState>>), LoadFailure> {
        if let Some(current) = self.cell.load() {
            self.check_serial(current.info.serial, state.info.serial)?;
            let (now, new) = (current.listener_layout(), state.listener_layout());
            if now != new {
                return Err(LoadFailure::ListenersChanged {
                    now: format!("{now:?}"),
                    new: format!("{new:?}"),
                });
            }
            if current.info.digest == state.info.digest {
                *self.files.lock().unwrap_or_else(|p| p.into_inner()) = files;
                // The state just built is not needed: released like a replaced one (dropped off
                // the runtime, then the heap trimmed), or a file-watch reload that follows an
                // admin reload of the same bundle would leave a whole state's pages behind.
                return Ok((
                    ReloadOutcome {
                        digest: state.info.digest.clone(),
                        changed: false,
                    },
                    Some(Arc::new(state)),
                ));
            }
        }
        let (installed, replaced) = self.install(state, files, warnings, etag);
        Ok((
            ReloadOutcome {
                digest: installed.info.digest.clone(),
                changed: true,
            },
            replaced,
        ))
    }

    /// Refuses a serial lower than `serving` unless rollbacks are allowed.
    pub(super) fn check_serial(&self, serving: u64, offered: u64) -> Result<(), LoadFailure> {
        if offered < serving && !self.allow_rollback {
            return Err(LoadFailure::Rollback { serving, offered });
        }
        if offered < serving {
            tracing::warn!(
                serving,
                offered,
                "rolling back to a bundle with a lower serial (--allow-rollback)"
            );
        }
        Ok(())
    }

    /// Serves `state`; returns it and the state it replaced.
    pub(super) fn install(
        &self,
        state: RuntimeState,
        files: Vec<PathBuf>,
        warnings: &str,
        etag: Option<&str>,
    ) -> (Arc<RuntimeState>, Option<Arc<RuntimeState>>) {
        if !warnings.trim().is_empty() {
            tracing::warn!("the program compiled with warnings:\n{warnings}");
        }
        let state = Arc::new(state);
        state.start_health_checks(&self.control);
        if let Some(kafka) = &self.kafka {
            kafka.apply(&state.streams);
        }
        self.metrics.bundle_loaded(
            &state.info.digest,
            &state.info.compiler,
            state.info.serial,
            &self.input.describe(),
            etag,
        );
        *self.files.lock().unwrap_or_else(|p| p.into_inner()) = files;
        let replaced = self.cell.swap(Arc::clone(&state));
        (state, replaced)
    }
}

/// How often a replaced state is looked at until the requests that started on it finish.
const RELEASE_POLL: Duration = Duration::from_millis(20);
/// After this long the replaced state is let go anyway (the last request frees it).
const RELEASE_WAIT: Duration = Duration::from_secs(120);

/// Drops a replaced state once no request holds it any more, then gives its memory back to the
/// system: glibc keeps freed pages, and without this trim every reload would leave the process
/// at the size of two states (RSS 2.2× the first load after ten reloads of 10 000 routes).
/// `waiting` (`meshd_replaced_states`) counts the replaced states not yet let go: raised here,
/// before the caller answers, and lowered once the state is freed and the heap trimmed, or let go
/// to its last request after [`RELEASE_WAIT`].
pub(super) fn release_when_unused(replaced: Arc<RuntimeState>, waiting: Gauge) {
    waiting.inc();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
        while Arc::strong_count(&replaced) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(RELEASE_POLL).await;
        }
        // Freeing and trimming hundreds of megabytes takes a while: off the runtime's workers.
        tokio::task::spawn_blocking(move || {
            let last = Arc::strong_count(&replaced) == 1;
            drop(replaced);
            if last {
                crate::load::memory_trim::trim_heap();
            }
            waiting.dec();
        });
    });
}

/// An error and its causes on one line. A cause an error already quotes at its end (`gateway
/// `edge`: {source}`) is not written twice.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod error_chain_tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("the bundle cannot be served")]
    struct Refused(#[source] Quoting);

    #[derive(Debug, thiserror::Error)]
    #[error("gateway `edge`: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let error = Refused(Quoting {
            source: std::io::Error::other("route a: CEL does not compile"),
        });
        assert_eq!(
            error_chain(&error),
            "the bundle cannot be served: gateway `edge`: route a: CEL does not compile"
        );
    }
}
