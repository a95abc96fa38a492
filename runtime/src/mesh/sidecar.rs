//! `meshd sidecar`: meshd beside one instance of a service. It loads the same bundle as every
//! other meshd, serves none of its gateways, and opens two listeners on the server's workers:
//! the inbound one at the service's endpoint address (the address other services and gateways
//! call), and the outbound one on loopback for the app. Its workload certificate comes from a
//! directory (`meshd ca issue`, SPIRE or cert-manager) and rotates by file watch.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::forward::pool::PoolSettings;
use crate::forward::ServiceBuildError;
use crate::metrics::Metrics;
use crate::reload::StateCell;
use crate::server::drain::Side;
use crate::server::listeners::{bind_sockets, BoundListener, InheritedSockets};
use crate::server::ListenerRole;
use crate::state::RuntimeState;

use super::app_service::AppService;
use super::identity::{IdentityMetrics, IdentityStore};
use super::inbound::InboundSide;
use super::outbound::OutboundSide;
use super::service_host::ServiceHosts;
use super::tcp_outbound::TcpOutboundSide;

/// The outbound listener's address when none is given: Linkerd's outbound port, on loopback.
pub const DEFAULT_OUTBOUND: &str = "127.0.0.1:4140";

/// How long a tcp service's connection may carry nothing before it is closed: an hour, Envoy's
/// `tcp_proxy` default (database pools keep connections idle on purpose).
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// What `meshd sidecar` is told besides the bundle.
#[derive(Debug, Clone)]
pub struct SidecarOptions {
    /// The service this sidecar stands beside.
    pub service: String,
    /// The local app's address (plain HTTP, usually loopback).
    pub app: String,
    /// The workload certificate directory.
    pub certs: PathBuf,
    /// The inbound listener's address; by default the service's only endpoint.
    pub inbound: Option<String>,
    /// The outbound listener's address (loopback for the app).
    pub outbound: String,
    /// A listener per `protocol tcp` service the app connects to: (service, address).
    pub tcp: Vec<(String, String)>,
    /// Which `Host` names which service on the outbound listener (the DNS search domains).
    pub hosts: ServiceHosts,
    /// A tcp service's connection (either side) on which neither end sends anything for this
    /// long is closed.
    pub tcp_idle_timeout: Duration,
}

/// Why a sidecar cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// The certificate is not the service's.
    #[error(
        "the certificate in {dir} is for {presented}, but service `{service}` is {expected} in \
         the bundle; issue one for it (meshd ca issue CA --service {service} --out {dir})"
    )]
    WrongIdentity {
        /// The certificate directory.
        dir: String,
        /// The service.
        service: String,
        /// Its identity in the bundle.
        expected: String,
        /// The certificate's.
        presented: String,
    },
    /// The service has no identity, so nothing can call it over mTLS.
    #[error(
        "service `{service}` has no identity: give it `identity \"spiffe://…\"` or set the mesh's \
         `trust_domain`"
    )]
    NoIdentity {
        /// The service.
        service: String,
    },
    /// The service has several endpoints and `--inbound` does not say which is this one.
    #[error(
        "service `{service}` has {count} endpoints ({endpoints}); say which one this sidecar \
         serves with --inbound ADDR"
    )]
    WhichEndpoint {
        /// The service.
        service: String,
        /// How many.
        count: usize,
        /// Them.
        endpoints: String,
    },
    /// An address that does not resolve.
    #[error("{what} `{address}` is not an address")]
    Address {
        /// Which flag.
        what: &'static str,
        /// As given.
        address: String,
    },
    /// The app's service state.
    #[error(transparent)]
    App(#[from] ServiceBuildError),
    /// rustls refused the inbound configuration.
    #[error("the inbound TLS configuration: {0}")]
    Tls(String),
    /// A `--tcp` listener names no tcp service of the bundle.
    #[error("--tcp {service}=…: {why}")]
    TcpService {
        /// The service named.
        service: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A listener cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Everything a sidecar's listeners need from the process.
#[derive(Debug)]
pub struct SidecarContext<'a> {
    /// The options.
    pub options: &'a SidecarOptions,
    /// The state at start.
    pub state: &'a RuntimeState,
    /// The cell later states are read from.
    pub cell: &'a Arc<StateCell>,
    /// The workload certificate in force.
    pub store: &'a IdentityStore,
    /// Handshake failure counters.
    pub identity_metrics: &'a IdentityMetrics,
    /// The process's metrics.
    pub metrics: &'a Metrics,
    /// Worker threads and how their upstream connection pools keep idle connections.
    pub pools: PoolSettings,
    /// Where background tasks (the app pool's sweep) run.
    pub control: &'a tokio::runtime::Handle,
}

/// Checks the certificate against the bundle and binds the inbound and outbound listeners
/// (taking the sockets a replaced sidecar handed over first).
pub fn bind_sidecar(
    context: &SidecarContext<'_>,
    inherited: &mut InheritedSockets,
) -> Result<Vec<BoundListener>, SidecarError> {
    let options = context.options;
    let name = options.service.as_str();
    let bundle_service = context.state.services.get(name);
    let expected = context
        .state
        .services
        .get(name)
        .and_then(|s| s.tls.as_ref())
        .map(|tls| tls.expected.to_string())
        .ok_or_else(|| SidecarError::NoIdentity {
            service: name.to_string(),
        })?;
    let presented = context.store.current().identity.to_string();
    if presented != expected {
        return Err(SidecarError::WrongIdentity {
            dir: options.certs.display().to_string(),
            service: name.to_string(),
            expected,
            presented,
        });
    }
    let (inbound_configured, inbound_address) =
        inbound_address(options, bundle_service.map(|s| s.endpoints.as_slice()))?;
    let app = Arc::new(AppService::build(
        name,
        &options.app,
        bundle_service.is_some_and(|s| s.speaks_h2),
        bundle_service.map(|s| s.timeout.as_millis() as u64),
        context.pools,
        context.metrics,
    )?);
    let swept = Arc::clone(&app);
    crate::forward::pool_sweep::spawn_pool_sweep(
        move || vec![swept.current()],
        context.pools,
        context.control,
    );
    let inbound = InboundSide::new(
        name,
        context.store,
        app,
        Arc::clone(context.cell),
        context.identity_metrics.clone(),
        options.tcp_idle_timeout,
    )
    .map_err(|error| SidecarError::Tls(error.to_string()))?;
    if let Some(domain) = options.hosts.mesh_domain() {
        tracing::info!(
            mesh_domain = %domain,
            "outbound calls name a service by its name or in the mesh domain (riker.{domain}, \
             or shorter as the DNS search domains complete it)"
        );
    }
    let outbound = OutboundSide::new(name, &presented, options.hosts.clone());
    let outbound_address = resolve("--outbound", &options.outbound)?;
    let mut bind = |configured: &str, address: SocketAddr| {
        bind_sockets(configured, address, context.pools.workers, inherited)
            .map_err(|source| SidecarError::Bind { address, source })
    };
    let (inbound_bound, inbound_sockets) = bind(&inbound_configured, inbound_address)?;
    let (outbound_bound, outbound_sockets) = bind(&options.outbound, outbound_address)?;
    let mut tcp_listeners = Vec::with_capacity(options.tcp.len());
    for (destination, configured) in &options.tcp {
        let why = match context.state.services.get(destination.as_str()) {
            None => Some("the bundle has no such service"),
            Some(service) if !service.tcp => {
                Some("the service does not speak tcp (it needs `protocol tcp`)")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            return Err(SidecarError::TcpService {
                service: destination.clone(),
                why,
            });
        }
        let address = resolve("--tcp", configured)?;
        let (bound, sockets) = bind(configured, address)?;
        let side = TcpOutboundSide {
            service: name.into(),
            identity: presented.clone(),
            destination: destination.as_str().into(),
            idle_timeout: options.tcp_idle_timeout,
        };
        tcp_listeners.push(BoundListener {
            role: ListenerRole::MeshTcpOutbound(Arc::new(side)),
            name: destination.clone(),
            address: bound,
            tls: false,
            side: Side::Outbound,
            configured: configured.clone(),
            sockets,
        });
    }
    let mut listeners = vec![
        BoundListener {
            role: ListenerRole::MeshInbound(Arc::new(inbound)),
            name: name.to_string(),
            address: inbound_bound,
            tls: true,
            side: Side::Inbound,
            configured: inbound_configured,
            sockets: inbound_sockets,
        },
        BoundListener {
            role: ListenerRole::MeshOutbound(Arc::new(outbound)),
            name: name.to_string(),
            address: outbound_bound,
            tls: false,
            // The app's calls are served until the sidecar exits: the app drains first.
            side: Side::Outbound,
            configured: options.outbound.clone(),
            sockets: outbound_sockets,
        },
    ];
    listeners.extend(tcp_listeners);
    Ok(listeners)
}

/// `--inbound`, or the service's only endpoint: as written, and resolved. An address that is not
/// one of the endpoints is accepted (`0.0.0.0:9101` behind `10.0.0.5:9101`) with a warning.
fn inbound_address(
    options: &SidecarOptions,
    endpoints: Option<&[Arc<crate::forward::endpoint::Endpoint>]>,
) -> Result<(String, SocketAddr), SidecarError> {
    let endpoints = endpoints.unwrap_or(&[]);
    let address = match (&options.inbound, endpoints) {
        (Some(given), _) => given.clone(),
        (None, [only]) => only.address.to_string(),
        (None, many) => {
            return Err(SidecarError::WhichEndpoint {
                service: options.service.clone(),
                count: many.len(),
                endpoints: many
                    .iter()
                    .map(|e| e.address.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    let resolved = resolve("--inbound", &address)?;
    let known = endpoints
        .iter()
        .any(|e| e.socket_addr == resolved || *e.address == *address);
    if !known {
        tracing::warn!(
            service = %options.service,
            inbound = %address,
            "the inbound address is not one of the service's endpoints; callers reach this sidecar only if an endpoint routes here"
        );
    }
    Ok((address, resolved))
}

fn resolve(what: &'static str, address: &str) -> Result<SocketAddr, SidecarError> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .ok_or_else(|| SidecarError::Address {
            what,
            address: address.to_string(),
        })
}
