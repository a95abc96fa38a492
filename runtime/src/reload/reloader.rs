//! Loading and reloading: build the new state off the request path, check that it can replace the
//! old one, swap it in, and start what runs beside it (health checks). A bundle that fails any
//! check is refused, logged and counted, and the old state keeps serving.
//!
//! Listener addresses (and whether a listener is TLS) are fixed for the life of the process: a
//! bundle that adds, removes or moves a listener is refused on reload (restart meshd to change
//! them). Everything else may change, including TLS certificates, which new connections pick up.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::admit::AdmitOptions;
use crate::load::{InputError, ProgramInput, VerifyKey};
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
    workers: usize,
    metrics: Arc<Metrics>,
    cell: Arc<StateCell>,
    control: tokio::runtime::Handle,
    admission: AdmitOptions,
    kafka: Option<Arc<KafkaRuntime>>,
    scope: StateScope,
    mesh_tls: Option<MeshTlsSetup>,
    files: Mutex<Vec<PathBuf>>,
    serial: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader for `input`; health checks run on `control`; `admission` holds the process's
    /// admission settings (`--redis`), the same for every bundle.
    pub fn new(
        input: ProgramInput,
        verify_key: Option<VerifyKey>,
        workers: usize,
        metrics: Arc<Metrics>,
        cell: Arc<StateCell>,
        control: tokio::runtime::Handle,
        admission: AdmitOptions,
    ) -> Self {
        Reloader {
            input,
            verify_key,
            workers,
            metrics,
            cell,
            control,
            admission,
            kafka: None,
            scope: StateScope::Gateways,
            mesh_tls: None,
            files: Mutex::new(Vec::new()),
            serial: tokio::sync::Mutex::new(()),
        }
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

    /// Loads and builds a state without swapping it in.
    fn build(&self) -> Result<(RuntimeState, Vec<PathBuf>, String), LoadFailure> {
        let loaded = self.input.load(self.verify_key.as_ref());
        let built = loaded.map_err(LoadFailure::from).and_then(|loaded| {
            let setup = AdmissionSetup {
                scope: self.scope.clone(),
                mesh_tls: self.mesh_tls.clone(),
                options: self.admission.clone(),
                // `file("…")` secrets are relative to the program's directory (bundle contract).
                secrets_dir: self.input.base_dir(),
                previous: self.cell.load(),
                kafka: self.kafka.clone(),
            };
            let state = RuntimeState::build(&loaded.bundle, self.workers, &self.metrics, &setup)?;
            let mut warnings = loaded.warnings;
            for warning in state.admission_warnings() {
                warnings.push_str(&warning);
                warnings.push('\n');
            }
            Ok((state, loaded.files, warnings))
        });
        super::memory_trim::trim_heap();
        built
    }

    /// The first load (blocking; called before serving starts).
    pub fn load_initial(&self) -> Result<Arc<RuntimeState>, LoadFailure> {
        match self.build() {
            Ok((state, files, warnings)) => Ok(self.install(state, files, &warnings)),
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
        let _one_at_a_time = self.serial.lock().await;
        let this = Arc::clone(self);
        let built = tokio::task::spawn_blocking(move || this.build())
            .await
            .map_err(|e| LoadFailure::Task(e.to_string()))
            .and_then(|built| built);
        let result =
            built.and_then(|(state, files, warnings)| self.accept(state, files, &warnings));
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

    /// Checks a freshly built state against the served one and swaps it in.
    fn accept(
        &self,
        state: RuntimeState,
        files: Vec<PathBuf>,
        warnings: &str,
    ) -> Result<ReloadOutcome, LoadFailure> {
        if let Some(current) = self.cell.load() {
            let (now, new) = (current.listener_layout(), state.listener_layout());
            if now != new {
                return Err(LoadFailure::ListenersChanged {
                    now: format!("{now:?}"),
                    new: format!("{new:?}"),
                });
            }
            if current.info.digest == state.info.digest {
                *self.files.lock().unwrap_or_else(|p| p.into_inner()) = files;
                return Ok(ReloadOutcome {
                    digest: state.info.digest,
                    changed: false,
                });
            }
        }
        let installed = self.install(state, files, warnings);
        Ok(ReloadOutcome {
            digest: installed.info.digest.clone(),
            changed: true,
        })
    }

    fn install(
        &self,
        state: RuntimeState,
        files: Vec<PathBuf>,
        warnings: &str,
    ) -> Arc<RuntimeState> {
        if !warnings.trim().is_empty() {
            tracing::warn!("the program compiled with warnings:\n{warnings}");
        }
        let state = Arc::new(state);
        state.start_health_checks(&self.control);
        if let Some(kafka) = &self.kafka {
            kafka.apply(&state.streams);
        }
        self.metrics
            .bundle_loaded(&state.info.digest, &state.info.compiler);
        *self.files.lock().unwrap_or_else(|p| p.into_inner()) = files;
        self.cell.swap(Arc::clone(&state));
        state
    }
}

/// An error and its causes on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
