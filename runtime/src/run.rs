//! `meshd run` and `meshd sidecar`: load the program, bind the admin listener and the gateway's
//! (or a sidecar's inbound and outbound) listeners, start the control thread (admin, reload
//! triggers, health checks, access-log flushing, demo upstreams) and the workers; at the end,
//! drain ([`RunningServer::drain_connections`]) and stop ([`RunningServer::shutdown`]). Both roles
//! share this start, drain and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::access_log::AccessLog;
use crate::admin::{serve_admin, AdminContext};
use crate::admit::{
    AdmitOptions, SharedCounter, SharedLimitStore, SharedStoreCollector, SharedStoreError,
};
use crate::forward::pool::PoolSettings;
use crate::load::remote::{FetchStatusCollector, RemoteSetupError, RemoteSource};
use crate::load::{InputError, ProgramInput, SignatureError, VerifyKey};
use crate::mesh::demo_mesh::{DemoMesh, DemoPlan};
use crate::mesh::sidecar::{bind_sidecar, SidecarContext, SidecarError};
use crate::mesh::workload_identity::{WorkloadIdentity, WorkloadIdentityError};
use crate::metrics::ejected_endpoints::EjectedEndpointsCollector;
use crate::metrics::Metrics;
use crate::reload::{
    file_watch::watch_files, poll_url::poll_url, LoadFailure, Reloader, StateCell,
};
use crate::server::connection::ConnectionTimeouts;
use crate::server::drain::{
    run_drain, DrainCollector, DrainHooks, DrainPlan, DrainReport, DrainState,
};
use crate::server::listeners::handover::give::{answer_handovers, offered_sockets, Giver};
use crate::server::listeners::handover::take::take_over;
use crate::server::listeners::{bind_listeners, BindError, InheritedSockets};
use crate::server::workers::spawn_workers;
use crate::server::Shared;
use crate::state::StateScope;
use crate::stream::{KafkaMetrics, KafkaOptions, KafkaRuntime, KafkaSettingError};
use crate::trace::SpanExporter;

pub use crate::run_options::{
    RunOptions, DEFAULT_DRAIN_DELAY, DEFAULT_DRAIN_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
};

/// Why meshd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The inputs are not a bundle or sources.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The bundle URL cannot be polled (TLS set-up, cache directory).
    #[error(transparent)]
    Remote(#[from] RemoteSetupError),
    /// The TLS client of an `https://` OTLP collector could not be set up.
    #[error("--otlp-endpoint: {0}")]
    OtlpTls(#[from] crate::load::remote::TlsClientError),
    /// The `--redis` URL is unusable.
    #[error(transparent)]
    Redis(#[from] SharedStoreError),
    /// The verification key cannot be read.
    #[error("the --verify-key file is unusable")]
    VerifyKey(#[source] SignatureError),
    /// The program cannot be loaded.
    #[error(transparent)]
    Load(#[from] LoadFailure),
    /// A gateway listener cannot be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The admin listener cannot be bound.
    #[error("cannot listen on the admin address {address}")]
    Admin {
        /// The address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--kafka` settings are refused.
    #[error(transparent)]
    Kafka(#[from] KafkaSettingError),
    /// A thread or runtime could not be started.
    #[error("cannot start meshd's threads")]
    Threads(#[source] std::io::Error),
    /// The workload certificate is refused or cannot be watched.
    #[error(transparent)]
    Identity(#[from] WorkloadIdentityError),
    /// The sidecar cannot serve its service.
    #[error(transparent)]
    Sidecar(#[from] SidecarError),
    /// The demo mesh (throwaway CA, sidecars, apps) cannot be set up.
    #[error("the demo mesh: {0}")]
    Demo(String),
    /// The hand-over socket cannot be listened on.
    #[error("cannot listen on the hand-over socket {path}")]
    Handover {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A bound listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerAddress {
    /// The gateway, or the sidecar's service.
    pub gateway: String,
    /// `gateway`, `inbound` or `outbound`.
    pub kind: &'static str,
    /// Where it listens.
    pub address: SocketAddr,
    /// Whether it is TLS.
    pub tls: bool,
}

/// A running meshd.
#[derive(Debug)]
pub struct RunningServer {
    /// The gateway listeners.
    pub listeners: Vec<ListenerAddress>,
    /// The admin listener.
    pub admin: SocketAddr,
    /// Demo upstreams started (with `--demo-upstreams`).
    pub demo_upstreams: Vec<SocketAddr>,
    /// The digest of the bundle served at start.
    pub digest: String,
    access_log: Arc<AccessLog>,
    kafka: Arc<KafkaRuntime>,
    drain: Arc<DrainState>,
    drain_plan: DrainPlan,
    handover: Option<Giver>,
    handed_over: watch::Receiver<Option<u32>>,
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    /// The workload identity, watched for rotation while the server runs.
    identity: Option<WorkloadIdentity>,
    /// `--demo-upstreams` on a mesh program: its sidecars, apps and throwaway CA.
    demo_mesh: Option<DemoMesh>,
}

impl RunningServer {
    /// The address of the first listener of `gateway`.
    pub fn listener(&self, gateway: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.gateway == gateway)
            .map(|l| l.address)
    }

    /// The address of the first listener of `kind` (`gateway`, `inbound`, `outbound`).
    pub fn listener_of_kind(&self, kind: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.address)
    }

    /// The demo mesh started by `--demo-upstreams`, if any.
    pub fn demo_mesh(&self) -> Option<&DemoMesh> {
        self.demo_mesh.as_ref()
    }

    /// The workload identity (a sidecar's, or the gateway's with `--mesh-certs`).
    pub fn identity(&self) -> Option<&WorkloadIdentity> {
        self.identity.as_ref()
    }

    /// The process's Kafka: its bootstrap servers, its streams, the embedded broker.
    pub fn kafka(&self) -> &KafkaRuntime {
        &self.kafka
    }

    /// The drain state its listeners and connections follow.
    pub fn drain_state(&self) -> &Arc<DrainState> {
        &self.drain
    }

    /// The drain plan it was started with.
    pub fn drain_plan(&self) -> DrainPlan {
        self.drain_plan
    }

    /// Resolves once a new meshd has taken the listening sockets over and serves: this one
    /// should drain now. Returns the new process's id.
    pub async fn handed_over(&self) -> u32 {
        let mut handed_over = self.handed_over.clone();
        loop {
            if let Some(pid) = *handed_over.borrow_and_update() {
                return pid;
            }
            if handed_over.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Drains the connections by `plan` (see [`crate::server::drain`]): `/readyz` turns 503 at
    /// once, inbound listeners close after the delay, requests in flight run until the timeout,
    /// or until `interrupt` resolves (a second signal). Shortly before the timeout, produce
    /// requests still waiting for Kafka are answered 503. Call [`Self::shutdown`] after it.
    pub async fn drain_connections(
        &self,
        plan: DrainPlan,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> DrainReport {
        let kafka = Arc::clone(&self.kafka);
        let serving = Arc::clone(&self.kafka);
        let offer = self.handover.as_ref().map(Giver::offer);
        let hooks = DrainHooks {
            before_close: move || {
                if let Some(offer) = offer {
                    offer.withdraw();
                }
                serving.end_serve_streams();
            },
            last_call: move || kafka.last_call(),
        };
        let report = run_drain(&self.drain, plan, hooks, interrupt).await;
        report.log();
        report
    }

    /// Flushes the access log now (before an exit that skips [`Self::shutdown`]).
    pub fn flush_access_log(&self) {
        self.access_log.flush();
    }

    /// Stops: streams stop and commit, the producer flushes, every thread ends, the access log
    /// is flushed. Connections still open are dropped: drain them first.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // The demo's sidecars first: the gateway's forwards would fail without them anyway. Its
        // CA's files go last, once nothing watches them.
        let mut demo = self.demo_mesh.take();
        if let Some(demo) = demo.as_mut() {
            demo.stop_sidecars();
        }
        // Streams first: their HTTP deliveries run on the control thread stopped below.
        self.kafka.shutdown();
        let _ = self.shutdown.send(true);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.kafka.close();
        if let Some(giver) = self.handover.take() {
            giver.close();
        }
        self.access_log.flush();
        drop(demo);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts meshd; returns once every listener is accepting.
pub fn start(options: RunOptions) -> Result<RunningServer, StartError> {
    let workers = if options.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.workers
    };
    let input = ProgramInput::classify(&options.inputs)?;
    let verify_key = options
        .verify_key
        .as_deref()
        .map(VerifyKey::read)
        .transpose()
        .map_err(StartError::VerifyKey)?
        .map(|key| key.accepting_first_format(options.accept_v1_signatures));
    let redis = options
        .redis
        .as_deref()
        .map(SharedLimitStore::open)
        .transpose()?;
    if let Some(store) = &redis {
        tracing::info!(
            redis = store.url(),
            "shared rate limits are counted in Redis"
        );
    }
    let mut kafka_options = KafkaOptions::from_flags(options.brokers.clone(), &options.kafka)?;
    kafka_options.streams = options.streams.clone();
    kafka_options.embedded_broker = options.embedded_broker.clone();
    let remote = RemoteSource::for_input(&input, &options.source, verify_key.is_some())?;
    let metrics = Metrics::new(workers);
    if let Some(store) = &redis {
        let collector = SharedStoreCollector(Arc::clone(store));
        metrics.register(|registry| registry.register_collector(Box::new(collector)));
    }
    let admission = AdmitOptions {
        shared_store: redis.map(|store| store as Arc<dyn SharedCounter>),
        fault_seed: options.fault_seed,
        ..AdmitOptions::default()
    };
    if let Some(remote) = &remote {
        let collector = FetchStatusCollector(Arc::clone(&remote.status));
        metrics.register(|registry| registry.register_collector(Box::new(collector)));
    }
    // A mesh program's demo needs a throwaway CA before the gateway's state is built: the
    // gateway calls the demo's sidecars with a certificate issued here.
    let demo_plan = match (&options.sidecar, options.demo_upstreams) {
        (None, true) => {
            let loaded = input.load(verify_key.as_ref())?;
            DemoPlan::prepare(&loaded.bundle).map_err(StartError::Demo)?
        }
        _ => None,
    };
    let identity_dir = match (&options.sidecar, &demo_plan) {
        (Some(sidecar), _) => Some(sidecar.certs.clone()),
        (None, Some(plan)) => Some(plan.gateway_certs().to_path_buf()),
        (None, None) => options.mesh_certs.clone(),
    };
    let identity = identity_dir
        .map(|dir| WorkloadIdentity::load(&dir, &metrics))
        .transpose()?;
    let drain = DrainState::new(workers);
    metrics.register(|registry| {
        registry.register_collector(Box::new(DrainCollector(Arc::clone(&drain))));
    });
    let cell = Arc::new(StateCell::default());
    let ejected = EjectedEndpointsCollector(Arc::clone(&cell));
    metrics.register(|registry| registry.register_collector(Box::new(ejected)));
    let access_log = Arc::new(AccessLog::new(workers, options.access_log));
    let (shutdown, shutdown_rx) = watch::channel(false);

    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Threads)?;
    let handle = control.handle().clone();
    // Before binding anything: the sockets of the meshd this one replaces, if one answers.
    let mut taken = options.handover_socket.as_deref().and_then(take_over);
    let mut inherited = taken
        .as_mut()
        .map(|taken| std::mem::take(&mut taken.sockets))
        .unwrap_or_else(InheritedSockets::none);
    let admin_error = |source| StartError::Admin {
        address: options.admin.clone(),
        source,
    };
    let admin_socket = match inherited.take_admin(&options.admin) {
        Some(socket) => socket,
        None => std::net::TcpListener::bind(&options.admin).map_err(admin_error)?,
    };
    let admin_copy = admin_socket.try_clone().map_err(admin_error)?;
    let admin_listener = {
        let _entered = handle.enter();
        admin_socket
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(admin_socket))
            .map_err(admin_error)?
    };
    let admin_address = admin_listener.local_addr().map_err(admin_error)?;
    let admin = Arc::new(AdminContext {
        state: Arc::clone(&cell),
        metrics: Arc::clone(&metrics),
        reloader: std::sync::OnceLock::new(),
        drain: Arc::clone(&drain),
    });
    let admin_task = handle.spawn(serve_admin(admin_listener, Arc::clone(&admin)));
    let mut control_shutdown = shutdown_rx.clone();
    let control_thread = std::thread::Builder::new()
        .name("meshd-control".into())
        .spawn(move || {
            control.block_on(async move {
                while !*control_shutdown.borrow_and_update() {
                    if control_shutdown.changed().await.is_err() {
                        break;
                    }
                }
            });
        })
        .map_err(StartError::Threads)?;
    let mut threads = vec![control_thread];
    let stop_early = |threads: Vec<JoinHandle<()>>| {
        let _ = shutdown.send(true);
        for thread in threads {
            let _ = thread.join();
        }
    };

    let sidecar_service = options.sidecar.as_ref().map(|s| s.service.as_str());
    let exporter = SpanExporter::from_flags(&options.trace, sidecar_service, &metrics, &handle)?;
    kafka_options.streams.exporter = exporter.clone();
    let mut kafka_metrics = None;
    metrics.register(|registry| kafka_metrics = Some(KafkaMetrics::register(registry)));
    let kafka = Arc::new(KafkaRuntime::new(
        kafka_options,
        kafka_metrics.unwrap_or_default(),
        handle.clone(),
    ));
    let scope = match &options.sidecar {
        Some(sidecar) => StateScope::Sidecar {
            service: sidecar.service.clone(),
        },
        None => StateScope::Gateways,
    };
    let pools = PoolSettings {
        workers,
        idle_timeout: options.upstream_idle_timeout,
    };
    let mut reloader = Reloader::new(
        input,
        verify_key,
        pools,
        Arc::clone(&metrics),
        Arc::clone(&cell),
        handle.clone(),
        admission,
    )
    .with_scope(scope)
    .with_mesh_tls(identity.as_ref().map(|identity| identity.tls.clone()))
    .with_remote(remote)
    .allowing_rollback(options.source.allow_rollback);
    if options.sidecar.is_none() {
        // A sidecar serves no produce route and runs no stream: its Kafka never starts.
        reloader = reloader.with_kafka(Arc::clone(&kafka));
    }
    let reloader = Arc::new(reloader);
    let state = match reloader.load_initial() {
        Ok(state) => state,
        Err(failure) => {
            stop_early(threads);
            return Err(failure.into());
        }
    };
    let _ = admin.reloader.set(Arc::clone(&reloader));
    let served = Arc::clone(&cell);
    crate::forward::pool_sweep::spawn_pool_sweep(
        move || {
            served
                .load()
                .map_or_else(Vec::new, |state| state.services.values().cloned().collect())
        },
        pools,
        &handle,
    );
    let demo_upstreams =
        if options.demo_upstreams && demo_plan.is_none() && options.sidecar.is_none() {
            crate::demo_upstreams::start_demo_upstreams(&state, &handle)
        } else {
            Vec::new()
        };
    let bound = match (&options.sidecar, &identity) {
        (Some(sidecar), Some(identity)) => bind_sidecar(
            &SidecarContext {
                options: sidecar,
                state: &state,
                cell: &cell,
                store: &identity.store,
                identity_metrics: &identity.metrics,
                metrics: &metrics,
                pools,
                control: &handle,
            },
            &mut inherited,
        )
        .map_err(StartError::from),
        _ => {
            crate::mesh::gateway_identity::warn_about_gateway_identity(&state, identity.as_ref());
            bind_listeners(&state, workers, &mut inherited).map_err(StartError::from)
        }
    };
    let bound = match bound {
        Ok(bound) => bound,
        Err(error) => {
            stop_early(threads);
            return Err(error);
        }
    };
    if !inherited.is_empty() {
        tracing::info!(
            sockets = inherited.len(),
            "handed-over sockets this program does not listen on are left to the old meshd"
        );
    }
    drop(inherited);
    let offered = match options.handover_socket {
        Some(_) => offered_sockets((&options.admin, admin_address, admin_copy), &bound),
        None => Ok(Vec::new()),
    };
    let offered = match offered {
        Ok(offered) => offered,
        Err(source) => {
            stop_early(threads);
            return Err(StartError::Threads(source));
        }
    };
    let listeners: Vec<ListenerAddress> = bound
        .iter()
        .map(|b| ListenerAddress {
            gateway: b.name.clone(),
            kind: b.role.kind(),
            address: b.address,
            tls: b.tls,
        })
        .collect();
    let shared = Arc::new(Shared {
        state: Arc::clone(&cell),
        metrics: Arc::clone(&metrics),
        access_log: Arc::clone(&access_log),
        exporter: exporter.clone(),
    });
    let timeouts = ConnectionTimeouts {
        head: options.head_timeout,
        idle: options.idle_timeout,
        send: options.send_timeout,
    };
    let streams = options.http2_max_streams;
    match spawn_workers(
        bound,
        &shared,
        workers,
        timeouts,
        streams,
        &drain,
        &shutdown_rx,
    ) {
        Ok(worker_threads) => threads.extend(worker_threads),
        Err(error) => {
            stop_early(threads);
            return Err(StartError::Threads(error));
        }
    }
    let (handed_over_tx, handed_over) = watch::channel(None);
    let handover = match &options.handover_socket {
        None => None,
        Some(path) => {
            let admin_accepting = admin_task.abort_handle();
            let handed_over = move |pid| {
                // The new meshd serves the admin socket from now on.
                admin_accepting.abort();
                tracing::info!(pid, "a new meshd took the listening sockets over; draining");
                let _ = handed_over_tx.send(Some(pid));
            };
            match answer_handovers(path, offered, &handle, handed_over) {
                Ok(giver) => Some(giver),
                Err(source) => {
                    stop_early(threads);
                    return Err(StartError::Handover {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        }
    };
    if let Some(taken) = taken {
        match taken.finish() {
            Ok(pid) => tracing::info!(pid, "took the listening sockets over; the old meshd drains"),
            Err(error) => tracing::warn!(%error, "the old meshd did not confirm it drains"),
        }
    }
    if reloader.remote().is_some() {
        handle.spawn(poll_url(Arc::clone(&reloader)));
    } else {
        handle.spawn(watch_files(Arc::clone(&reloader), options.watch_interval));
    }
    if options.reload_on_sighup {
        handle.spawn(reload_on_sighup(Arc::clone(&reloader)));
    }
    let flushing = Arc::clone(&access_log);
    handle.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            flushing.flush();
        }
    });
    let demo_mesh = match demo_plan.map(|plan| plan.start(&options, &handle)) {
        None => None,
        Some(Ok(demo)) => Some(demo),
        Some(Err(error)) => {
            stop_early(threads);
            return Err(StartError::Demo(error));
        }
    };
    Ok(RunningServer {
        listeners,
        admin: admin_address,
        demo_upstreams,
        digest: state.info.digest.clone(),
        access_log,
        kafka,
        drain,
        drain_plan: options.drain,
        handover,
        handed_over,
        shutdown,
        threads,
        identity,
        demo_mesh,
    })
}

#[cfg(unix)]
async fn reload_on_sighup(reloader: Arc<Reloader>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!(
            "cannot listen for SIGHUP; reload with POST /reload or by editing the files"
        );
        return;
    };
    while hangups.recv().await.is_some() {
        let _ = reloader.reload("signal").await;
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_reloader: Arc<Reloader>) {}
