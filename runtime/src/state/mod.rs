//! The runtime state built from one bundle, off the request path: route tables, compiled routes,
//! services with their endpoints and pools, listener TLS. Requests read it through
//! [`crate::reload::StateCell`]; a reload builds a new one and swaps it in whole.

pub mod gateway_state;
pub mod route_state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use meshwork_bundle::matcher::{MatcherError, RouteTable};
use meshwork_bundle::{Bundle, Gateway, Route};
use prometheus_client::metrics::counter::Counter;

use crate::admit::{AdmitBuildError, AdmitOptions, GatewayAdmission};
use crate::forward::ejection_counters::EjectionCounters;
use crate::forward::fault_injection::{FaultBuildError, FaultInjection};
use crate::forward::mirror::Mirror;
use crate::forward::pool::PoolSettings;
use crate::forward::upgrade::UpgradePolicy;
use crate::forward::{ForwardPlan, ServiceBuildError, ServiceState, UpstreamTls};
use crate::load::secrets::{SecretStore, SecretsError};
use crate::mesh::identity::{IdentityMetrics, OutboundTls, SpiffeId, SpiffeIdError};
use crate::mesh::mesh_state::{MeshRuleError, MeshState};
use crate::mesh::pair_mirrors::PairMirrors;
use crate::metrics::{Metrics, NO_ROUTE};
use crate::server::tls_config::{server_config, TlsSetupError};
use crate::stream::{
    KafkaLoadError, KafkaRuntime, ProduceSettings, ServeSettings, StreamPlan, TopicSchemas,
};

pub use gateway_state::{GatewayState, ListenerState};
pub use route_state::{FixedResponse, RouteAction, RouteState};

/// Why a bundle cannot become runtime state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A gateway's routes cannot be matched.
    #[error("gateway `{gateway}`: {source}")]
    Routes {
        /// The gateway.
        gateway: String,
        /// The matcher's error.
        source: MatcherError,
    },
    /// A service cannot be built.
    #[error(transparent)]
    Service(#[from] ServiceBuildError),
    /// A route's faults cannot be built.
    #[error("gateway `{gateway}`: {source}")]
    Fault {
        /// The gateway.
        gateway: String,
        /// What is wrong.
        source: FaultBuildError,
    },
    /// A route forwards to a service the bundle does not define.
    #[error("gateway `{gateway}`, route `{route}`: unknown service `{service}`")]
    UnknownService {
        /// The gateway.
        gateway: String,
        /// The route.
        route: String,
        /// The missing service.
        service: String,
    },
    /// A `respond` route with an unusable status or content type.
    #[error("gateway `{gateway}`, route `{route}`: {message}")]
    BadResponse {
        /// The gateway.
        gateway: String,
        /// The route.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// Secrets (`env()`, `file()`) that cannot be read.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// A route's admission cannot be built.
    #[error("gateway `{gateway}`: {source}")]
    Admission {
        /// The gateway.
        gateway: String,
        /// The admission error (boxed: it is large and rare).
        source: Box<AdmitBuildError>,
    },
    /// Kafka cannot serve the bundle (broker, topics, a stream or a produce route).
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaLoadError),
    /// A produce route in a process without Kafka.
    #[error(
        "gateway `{gateway}`, route `{route}`: produces to Kafka, which this process does not run"
    )]
    NoKafka {
        /// The gateway.
        gateway: String,
        /// The route.
        route: String,
    },
    /// A mesh rule's condition does not compile.
    #[error(transparent)]
    MeshRule(#[from] MeshRuleError),
    /// A mesh pair's fault cannot be built.
    #[error("mesh: {0}")]
    PairFault(FaultBuildError),
    /// A service's identity is not a SPIFFE ID (mutual TLS cannot expect it).
    #[error("service `{service}`: identity {source}")]
    ServiceIdentity {
        /// The service.
        service: String,
        /// Why.
        source: SpiffeIdError,
    },
    /// The outbound TLS configuration of a service cannot be built.
    #[error("service `{service}`: mutual TLS: {message}")]
    ServiceTls {
        /// The service.
        service: String,
        /// rustls' error.
        message: String,
    },
    /// A sidecar's service is not in the bundle.
    #[error("the bundle has no service `{service}`, which this sidecar serves{}", suggestion(.known, .service))]
    SidecarServiceMissing {
        /// The service the sidecar was started for.
        service: String,
        /// The services the bundle has.
        known: Vec<String>,
    },
    /// A TLS listener's certificate or key.
    #[error("gateway `{gateway}`, listener {address}: {source}")]
    Tls {
        /// The gateway.
        gateway: String,
        /// The listener address.
        address: String,
        /// The TLS error.
        source: TlsSetupError,
    },
}

fn suggestion(known: &[String], service: &str) -> String {
    let close = known.iter().find(|k| {
        k.eq_ignore_ascii_case(service)
            || (k.len().abs_diff(service.len()) <= 2
                && k.starts_with(&service[..service.len().min(2)]))
    });
    match (close, known.is_empty()) {
        (_, true) => "; the bundle has no services".to_string(),
        (Some(close), _) => format!("; did you mean `{close}`? (services: {})", known.join(", ")),
        (None, _) => format!(" (services: {})", known.join(", ")),
    }
}

/// What a process serves from each bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateScope {
    /// Every gateway of the bundle (`meshd run`).
    #[default]
    Gateways,
    /// One service's sidecar (`meshd sidecar`): no gateways; every service, to call them.
    Sidecar {
        /// The service the sidecar stands beside.
        service: String,
    },
}

/// How this process calls mesh workloads: its outbound mutual TLS (its workload certificate),
/// and where failed handshakes are counted.
#[derive(Debug, Clone)]
pub struct MeshTlsSetup {
    /// One client config per destination identity, offering HTTP/1.1 by ALPN.
    pub outbound: Arc<OutboundTls>,
    /// The same for services that speak HTTP/2 (`protocol h2c|h2`), offering `h2`.
    pub outbound_h2: Arc<OutboundTls>,
    /// Handshake failure counters.
    pub metrics: IdentityMetrics,
}

/// What the admin listener reports about the bundle being served.
#[derive(Debug, Clone)]
pub struct BundleInfo {
    /// `sha256:…`.
    pub digest: String,
    /// The compiler's name and version.
    pub compiler: String,
    /// The bundle format version.
    pub format_version: u32,
    /// The bundle's serial (0: none); a lower one is refused unless rollbacks are allowed.
    pub serial: u64,
    /// When this state was built.
    pub loaded_at: SystemTime,
    /// How many routes over all gateways.
    pub routes: usize,
}

/// Everything requests need from one bundle.
#[derive(Debug)]
pub struct RuntimeState {
    /// The bundle's identity.
    pub info: BundleInfo,
    /// What this process serves of the bundle.
    pub scope: StateScope,
    /// Gateways, sorted by name (as in the bundle); none in a sidecar.
    pub gateways: Vec<GatewayState>,
    /// Services by name.
    pub services: HashMap<String, Arc<ServiceState>>,
    /// The mesh policy and identities.
    pub mesh: MeshState,
    /// The bundle's streams, checked; started when the state is installed.
    pub streams: StreamPlan,
}

/// What building a state needs besides the bundle: process settings (admission's, Kafka, what
/// the process serves, its mesh certificate) and the state being replaced.
#[derive(Debug, Clone, Default)]
pub struct AdmissionSetup {
    /// What this process serves.
    pub scope: StateScope,
    /// Mutual TLS to mesh workloads, when this process has a workload certificate.
    pub mesh_tls: Option<MeshTlsSetup>,
    /// Settings of the process (`--redis`).
    pub options: AdmitOptions,
    /// The directory `file("…")` secrets are relative to.
    pub secrets_dir: PathBuf,
    /// The state being replaced, whose unchanged rate limits keep their buckets.
    pub previous: Option<Arc<RuntimeState>>,
    /// The process's Kafka (produce routes and streams), if it runs one.
    pub kafka: Option<Arc<KafkaRuntime>>,
}

impl RuntimeState {
    /// Builds the state of `bundle`, its upstream connection pools laid out as `pools`.
    pub fn build(
        bundle: &Bundle,
        pools: PoolSettings,
        metrics: &Metrics,
        admission: &AdmissionSetup,
    ) -> Result<RuntimeState, StateError> {
        if let StateScope::Sidecar { service } = &admission.scope {
            if !bundle.services.iter().any(|s| &s.name == service) {
                return Err(StateError::SidecarServiceMissing {
                    service: service.clone(),
                    known: bundle.services.iter().map(|s| s.name.clone()).collect(),
                });
            }
        }
        // Secrets belong to gateways (keys, JWT keys, listener certificates): a sidecar builds
        // none, so it neither needs nor holds them.
        let secrets = match admission.scope {
            StateScope::Gateways => SecretStore::load(bundle, &admission.secrets_dir)?,
            StateScope::Sidecar { .. } => SecretStore::new(),
        };
        let streams = match &admission.kafka {
            Some(kafka) => kafka.prepare(bundle)?,
            None => StreamPlan::from_bundle(bundle).map_err(KafkaLoadError::from)?,
        };
        let schemas =
            Arc::new(TopicSchemas::compile(&bundle.topics).map_err(KafkaLoadError::from)?);
        let mut mesh = MeshState::build(bundle, &metrics.mesh)?;
        if let StateScope::Sidecar { service } = &admission.scope {
            mesh = mesh
                .with_pair_faults(service, admission.options.fault_seed, &metrics.mesh)
                .map_err(StateError::PairFault)?;
        }
        let mut services = HashMap::new();
        for service in &bundle.services {
            let mesh_tls = admission.mesh_tls.as_ref();
            let tls = upstream_tls(service, mesh_tls, service.protocol.is_http2())?;
            // An HTTP/1.1 service's sidecars are spoken to with HTTP/2 unless the mesh says
            // `between_sidecars http1`; its app still gets HTTP/1.1 from its own sidecar.
            let upgrade = bundle.mesh.between_sidecars == meshwork_bundle::SidecarHop::H2
                && service.protocol == meshwork_bundle::Protocol::Http1;
            let sidecar_h2 = match upgrade {
                true => upstream_tls(service, mesh_tls, true)?,
                false => None,
            };
            let mut state = ServiceState::build_with_tls(
                service,
                pools,
                |s, e| metrics.upstream_latency(s, e),
                |s| metrics.retry_budget_exhausted(s),
                tls,
                sidecar_h2,
            )?;
            if let Some(breaker) = &service.circuit_breaker {
                // Only the detectors the breaker has get a series.
                let counters = EjectionCounters::new(|detector| {
                    let configured = match detector {
                        "failure_percentage" => breaker.failure_percentage.is_some(),
                        "success_rate" => breaker.success_rate.is_some(),
                        "latency" => breaker.latency.is_some(),
                        _ => true,
                    };
                    if configured {
                        metrics.outlier_ejections(&service.name, detector)
                    } else {
                        Counter::default()
                    }
                });
                state = state.with_ejection_counters(counters);
            }
            if state.max_requests.is_some() {
                state =
                    state.with_max_requests_counter(metrics.max_requests_refused(&service.name));
            }
            services.insert(service.name.clone(), Arc::new(state));
        }
        if let StateScope::Sidecar { service } = &admission.scope {
            let mirrors = PairMirrors::build(service, &bundle.mesh.mirrors, &services, metrics);
            mesh = mesh.with_pair_mirrors(mirrors);
        }
        let gateways = match admission.scope {
            StateScope::Gateways => bundle
                .gateways
                .iter()
                .map(|gateway| {
                    build_gateway(gateway, &services, metrics, &secrets, admission, &schemas)
                })
                .collect::<Result<_, _>>()?,
            StateScope::Sidecar { .. } => Vec::new(),
        };
        Ok(RuntimeState {
            info: BundleInfo {
                digest: bundle.digest.clone(),
                compiler: format!("{} {}", bundle.compiler.name, bundle.compiler.version),
                format_version: bundle.format_version,
                serial: bundle.serial,
                loaded_at: SystemTime::now(),
                routes: bundle.route_count(),
            },
            scope: admission.scope.clone(),
            gateways,
            services,
            mesh,
            streams,
        })
    }

    /// Each gateway's listeners as `(gateway, [(address, is_tls)])`: what a reload may not change.
    pub fn listener_layout(&self) -> Vec<(String, Vec<(String, bool)>)> {
        self.gateways
            .iter()
            .map(|g| {
                let listeners = g
                    .listeners
                    .iter()
                    .map(|l| (l.address.clone(), l.tls.is_some()))
                    .collect();
                (g.name.to_string(), listeners)
            })
            .collect()
    }

    /// What the operator should know about the admission of this state (logged at load).
    pub fn admission_warnings(&self) -> Vec<String> {
        self.gateways
            .iter()
            .flat_map(|g| g.admission.warnings().map(str::to_string))
            .collect()
    }

    /// Starts active health checks of every service that declares them; a sidecar checks only
    /// the services its own may call (the others' sidecars would refuse its probes).
    pub fn start_health_checks(&self, runtime: &tokio::runtime::Handle) {
        for service in self.services.values() {
            if let StateScope::Sidecar { service: own } = &self.scope {
                if !self.mesh.may_call(own, &service.name) {
                    continue;
                }
            }
            crate::forward::health_check::spawn_health_checks(service, runtime);
        }
    }
}

/// Mutual TLS to `service` when this process has a workload certificate and the service an
/// identity: its endpoints must then present that identity.
fn upstream_tls(
    service: &meshwork_bundle::Service,
    mesh_tls: Option<&MeshTlsSetup>,
    h2: bool,
) -> Result<Option<UpstreamTls>, StateError> {
    let (Some(setup), Some(identity)) = (mesh_tls, &service.identity) else {
        return Ok(None);
    };
    let expected = SpiffeId::parse(identity).map_err(|source| StateError::ServiceIdentity {
        service: service.name.clone(),
        source,
    })?;
    let outbound = if h2 {
        &setup.outbound_h2
    } else {
        &setup.outbound
    };
    let config = outbound
        .client_config(&expected)
        .map_err(|error| StateError::ServiceTls {
            service: service.name.clone(),
            message: error.to_string(),
        })?;
    Ok(Some(UpstreamTls::new(
        config,
        expected,
        setup.metrics.clone(),
    )))
}

fn build_gateway(
    gateway: &Gateway,
    services: &HashMap<String, Arc<ServiceState>>,
    metrics: &Metrics,
    secrets: &SecretStore,
    setup: &AdmissionSetup,
    schemas: &Arc<TopicSchemas>,
) -> Result<GatewayState, StateError> {
    let previous = setup
        .previous
        .as_ref()
        .and_then(|state| state.gateways.iter().find(|g| *g.name == *gateway.name));
    let admission = match previous {
        Some(previous) => {
            GatewayAdmission::rebuild(gateway, secrets, &setup.options, &previous.admission)
        }
        None => GatewayAdmission::build(gateway, secrets, &setup.options),
    }
    .map_err(|source| StateError::Admission {
        gateway: gateway.name.clone(),
        source: Box::new(source),
    })?;
    let table =
        RouteTable::with_path_policy(&gateway.routes, &gateway.path_policy).map_err(|source| {
            StateError::Routes {
                gateway: gateway.name.clone(),
                source,
            }
        })?;
    let listeners = gateway
        .listeners
        .iter()
        .map(|listener| {
            let tls = match &listener.tls {
                None => None,
                Some(tls) => Some(server_config(&listener.address, tls, secrets).map_err(
                    |source| StateError::Tls {
                        gateway: gateway.name.clone(),
                        address: listener.address.clone(),
                        source,
                    },
                )?),
            };
            Ok(ListenerState {
                address: listener.address.clone(),
                tls,
            })
        })
        .collect::<Result<_, StateError>>()?;
    let routes = gateway
        .routes
        .iter()
        .enumerate()
        .map(|(index, route)| {
            let body_limit = admission.route(index).and_then(|a| a.body_limit());
            let kafka = setup
                .kafka
                .as_deref()
                .map(|kafka| (kafka, body_limit, schemas));
            build_route(
                gateway,
                route,
                services,
                metrics,
                kafka,
                setup.options.fault_seed,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(GatewayState {
        name: gateway.name.as_str().into(),
        identity: gateway.identity.clone(),
        listeners,
        table,
        routes,
        admission,
        unmatched_metric_id: metrics.requests.route_id(&gateway.name, NO_ROUTE),
        method_mismatch: gateway.method_mismatch,
        tracing: gateway.tracing,
    })
}

fn build_route(
    gateway: &Gateway,
    route: &Route,
    services: &HashMap<String, Arc<ServiceState>>,
    metrics: &Metrics,
    kafka: Option<(&KafkaRuntime, Option<u64>, &Arc<TopicSchemas>)>,
    fault_seed: Option<u64>,
) -> Result<RouteState, StateError> {
    use meshwork_bundle::RouteAction as Bundled;
    let action = match &route.action {
        Bundled::Forward {
            targets,
            strip_prefix,
            rewrite,
            timeout_ms,
            idempotent,
            mirror,
            websocket,
        } => {
            let targets = targets
                .iter()
                .map(|t| {
                    let service =
                        services
                            .get(&t.service)
                            .ok_or_else(|| StateError::UnknownService {
                                gateway: gateway.name.clone(),
                                route: route.name.clone(),
                                service: t.service.clone(),
                            })?;
                    Ok((Arc::clone(service), t.weight))
                })
                .collect::<Result<_, StateError>>()?;
            let mut plan = ForwardPlan::new(
                targets,
                strip_prefix.as_deref(),
                rewrite.as_deref(),
                *timeout_ms,
            );
            plan.idempotent = *idempotent;
            plan.upgrades = UpgradePolicy::from_bundle(websocket.as_ref());
            if let Some(bundled) = mirror {
                let service =
                    services
                        .get(&bundled.service)
                        .ok_or_else(|| StateError::UnknownService {
                            gateway: gateway.name.clone(),
                            route: route.name.clone(),
                            service: bundled.service.clone(),
                        })?;
                plan.mirror = Some(Mirror::new(
                    bundled,
                    Arc::clone(service),
                    metrics.mirror_counters(&gateway.name, &route.name, &bundled.service),
                ));
            }
            RouteAction::Forward(plan)
        }
        Bundled::Respond {
            status,
            body,
            content_type,
        } => {
            let bad = |message: String| StateError::BadResponse {
                gateway: gateway.name.clone(),
                route: route.name.clone(),
                message,
            };
            RouteAction::Respond(FixedResponse {
                status: StatusCode::from_u16(*status)
                    .map_err(|_| bad(format!("status {status} is not valid")))?,
                body: Bytes::from(body.clone()),
                content_type: HeaderValue::from_str(content_type).map_err(|_| {
                    bad(format!(
                        "content type {content_type:?} is not a valid header value"
                    ))
                })?,
            })
        }
        Bundled::Produce {
            topic,
            key,
            value,
            headers,
            acks,
            mode,
            timeout_ms,
        } => {
            let (kafka, body_limit, schemas) = kafka.ok_or_else(|| StateError::NoKafka {
                gateway: gateway.name.clone(),
                route: route.name.clone(),
            })?;
            let settings = ProduceSettings {
                topic,
                key: key.as_deref(),
                value: *value,
                headers,
                acks: *acks,
                mode: *mode,
                timeout: timeout_ms.map(std::time::Duration::from_millis),
            };
            RouteAction::Produce(Box::new(kafka.produce_route(
                &route.name,
                settings,
                body_limit,
                schemas,
            )?))
        }
        Bundled::Serve {
            topic,
            when,
            buffer,
            buffer_bytes,
            clients,
            keepalive_ms,
        } => {
            let (kafka, _, _) = kafka.ok_or_else(|| StateError::NoKafka {
                gateway: gateway.name.clone(),
                route: route.name.clone(),
            })?;
            let settings = ServeSettings {
                topic,
                when: when.as_deref(),
                buffer: *buffer,
                buffer_bytes: *buffer_bytes,
                clients: *clients,
                keepalive: std::time::Duration::from_millis(*keepalive_ms),
            };
            RouteAction::Serve(Box::new(kafka.serve_route(&route.name, &settings)?))
        }
    };
    let source = format!(
        "{}:{}:{}",
        route.source.file, route.source.line, route.source.column
    );
    let faults = FaultInjection::build(&route.name, &route.admission, fault_seed, |kind| {
        metrics.fault_counter(&gateway.name, &route.name, kind)
    })
    .map_err(|source| StateError::Fault {
        gateway: gateway.name.clone(),
        source,
    })?;
    Ok(RouteState {
        name: route.name.as_str().into(),
        source: source.into(),
        metric_id: metrics.requests.route_id(&gateway.name, &route.name),
        action,
        faults,
    })
}
