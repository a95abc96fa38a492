//! The example's mesh, in one command: `meshd run PROGRAM --demo-upstreams` on a program whose
//! mesh has a `trust_domain` starts, beside the gateway, a throwaway CA (a temporary directory),
//! a certificate for every service and for the gateway, a sidecar on every loopback endpoint of
//! every service (its inbound listener at the endpoint, as in production) and a demo app beside
//! each sidecar, on the endpoint's port + 100 when that port is free. The gateway calls the
//! sidecars over mutual TLS with its own certificate; each app calls other services through its
//! sidecar (`/call/SERVICE/PATH`), and a `protocol tcp` service through the `--tcp` listener its
//! sidecar opens for every tcp service (`/tcp/SERVICE`); a tcp service's own app is a line
//! server ([`crate::demo_tcp`]). The sidecars run in this process, each with its own workers,
//! admin listener and reloads, exactly as `meshd sidecar` would run them one per process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use meshwork_bundle::Bundle;

use crate::ca::{init_ca, issue_workload_cert, KeyAlgorithm, MeshCa, WorkloadRequest};
use crate::demo_tcp::serve_demo_line_app;
use crate::demo_upstreams::{serve_demo_app, DemoApp};
use crate::run::{start, RunOptions, RunningServer};
use crate::server::listeners::reuse_port_listener;

use super::identity::{SpiffeId, TrustDomain};
use super::service_host::ServiceHosts;
use super::sidecar::SidecarOptions;

/// How long the throwaway CA and its certificates live.
const CA_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const CERT_TTL: Duration = Duration::from_secs(24 * 3600);
/// A demo app listens on its endpoint's port plus this, when free.
const APP_PORT_OFFSET: u16 = 100;

/// The CA and certificates, made before the gateway starts (it needs its certificate).
#[derive(Debug)]
pub struct DemoPlan {
    dir: PathBuf,
    services: Vec<DemoService>,
    gateway_certs: PathBuf,
}

/// A service of the demo: its name, endpoints and whether it speaks tcp.
#[derive(Debug)]
struct DemoService {
    name: String,
    endpoints: Vec<String>,
    tcp: bool,
}

/// One sidecar of the demo and the app beside it.
#[derive(Debug)]
pub struct DemoSidecar {
    /// The service.
    pub service: String,
    /// Its inbound listener (the endpoint).
    pub inbound: SocketAddr,
    /// Its outbound listener (the app calls through it).
    pub outbound: SocketAddr,
    /// The demo app.
    pub app: SocketAddr,
    /// The sidecar's admin listener.
    pub admin: SocketAddr,
    /// Its `--tcp` listeners, by tcp service.
    pub tcp: Vec<(String, SocketAddr)>,
    server: RunningServer,
}

/// The running demo mesh; its CA directory is removed when it stops.
#[derive(Debug)]
pub struct DemoMesh {
    /// The sidecars, by service then endpoint.
    pub sidecars: Vec<DemoSidecar>,
    dir: PathBuf,
}

impl DemoPlan {
    /// Creates the CA and the certificates when the program's mesh has a trust domain (`None`:
    /// the plain demo upstreams serve it).
    pub fn prepare(bundle: &Bundle) -> Result<Option<DemoPlan>, String> {
        let Some(domain) = &bundle.mesh.trust_domain else {
            return Ok(None);
        };
        let domain = TrustDomain::new(domain).map_err(|e| e.to_string())?;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "meshd-demo-ca-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let ca_dir = dir.join("ca");
        init_ca(&ca_dir, &domain, KeyAlgorithm::default(), CA_TTL, true)
            .map_err(|e| e.to_string())?;
        let ca = MeshCa::open(&ca_dir).map_err(|e| e.to_string())?;
        let mut services = Vec::new();
        for service in &bundle.services {
            let Some(identity) = &service.identity else {
                continue;
            };
            issue(&ca, identity, &dir.join("services").join(&service.name))?;
            services.push(DemoService {
                name: service.name.clone(),
                endpoints: service.endpoints.clone(),
                tcp: service.protocol.is_tcp(),
            });
        }
        let gateway = bundle
            .gateways
            .iter()
            .find_map(|g| g.identity.as_ref().map(|id| (g.name.clone(), id.clone())));
        let gateway_certs = match gateway {
            Some((name, identity)) => {
                let out = dir.join("gateways").join(name);
                issue(&ca, &identity, &out)?;
                out
            }
            None => return Err("the program's gateways have no identity".into()),
        };
        tracing::info!(
            ca = %ca_dir.display(),
            trust_domain = %domain,
            "demo mesh: throwaway CA created; certificates issued for every service and the gateway"
        );
        Ok(Some(DemoPlan {
            dir,
            services,
            gateway_certs,
        }))
    }

    /// The gateway's certificate directory.
    pub fn gateway_certs(&self) -> &Path {
        &self.gateway_certs
    }

    /// Starts a sidecar and an app for every loopback endpoint; `options` are the gateway's
    /// (the sidecars load the same program).
    pub fn start(
        mut self,
        options: &RunOptions,
        runtime: &tokio::runtime::Handle,
    ) -> Result<DemoMesh, String> {
        // The directory is the running demo's to remove from here on.
        let dir = std::mem::take(&mut self.dir);
        let mut mesh = DemoMesh {
            sidecars: Vec::new(),
            dir: dir.clone(),
        };
        // Every endpoint is held (SO_REUSEPORT, as the sidecars bind) until all sidecars are up,
        // so that no sidecar's outbound, admin or app socket is given a later sidecar's endpoint
        // port by the kernel; the sidecars join each hold, which is then let go.
        let _held: Vec<std::net::TcpListener> = self
            .services
            .iter()
            .flat_map(|service| &service.endpoints)
            .filter_map(|endpoint| endpoint.parse::<SocketAddr>().ok())
            .filter(|address| address.ip().is_loopback())
            .filter_map(|address| reuse_port_listener(address).ok())
            .collect();
        let tcp_services: Vec<&str> = self
            .services
            .iter()
            .filter(|s| s.tcp)
            .map(|s| s.name.as_str())
            .collect();
        for demo in &self.services {
            let service = &demo.name;
            // An HTTP app's sidecar opens a `--tcp` listener for every tcp service; a tcp
            // service's app (a line server) calls nothing.
            let calls: &[&str] = if demo.tcp { &[] } else { &tcp_services };
            for endpoint in &demo.endpoints {
                let Ok(address) = endpoint.parse::<SocketAddr>() else {
                    tracing::warn!(service = %service, endpoint = %endpoint, "demo mesh: not a loopback address, no sidecar started");
                    continue;
                };
                if !address.ip().is_loopback() {
                    tracing::warn!(service = %service, endpoint = %endpoint, "demo mesh: not a loopback address, no sidecar started");
                    continue;
                }
                let certs = dir.join("services").join(service);
                let sidecar = start_sidecar(options, runtime, (demo, address), calls, certs)?;
                mesh.sidecars.push(sidecar);
            }
        }
        Ok(mesh)
    }
}

/// A plan that never started (the gateway failed to start) removes its CA directory.
impl Drop for DemoPlan {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl DemoMesh {
    /// The sidecars of `service`.
    pub fn sidecars_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a DemoSidecar> {
        self.sidecars.iter().filter(move |s| s.service == service)
    }

    /// Stops the sidecars. The CA's directory stays until the demo is dropped: the gateway
    /// watches its own certificate there until it stops too.
    pub fn stop_sidecars(&mut self) {
        for sidecar in self.sidecars.drain(..) {
            sidecar.server.shutdown();
        }
    }
}

impl Drop for DemoMesh {
    fn drop(&mut self) {
        self.stop_sidecars();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn issue(ca: &MeshCa, identity: &str, out: &Path) -> Result<(), String> {
    let identity = SpiffeId::parse(identity).map_err(|e| e.to_string())?;
    let request = WorkloadRequest {
        identity,
        ttl: CERT_TTL,
        dns: Vec::new(),
        ips: Vec::new(),
        algorithm: KeyAlgorithm::default(),
    };
    issue_workload_cert(ca, &request, out)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The app's socket first (its address is the sidecar's `--app`), then the sidecar (its outbound
/// address is the app's way out, and it has a `--tcp` listener for each of `tcp_calls`), then
/// the app's server: the HTTP demo app, or a tcp service's line server.
fn start_sidecar(
    options: &RunOptions,
    runtime: &tokio::runtime::Handle,
    (demo, inbound): (&DemoService, SocketAddr),
    tcp_calls: &[&str],
    certs: PathBuf,
) -> Result<DemoSidecar, String> {
    let service = demo.name.as_str();
    let app_socket = bind_app(inbound).map_err(|e| format!("demo app for {service}: {e}"))?;
    let app = app_socket.local_addr().map_err(|e| e.to_string())?;
    let mut sidecar_options = RunOptions::new(options.inputs.clone());
    sidecar_options.admin = "127.0.0.1:0".to_string();
    sidecar_options.verify_key = options.verify_key.clone();
    sidecar_options.accept_v1_signatures = options.accept_v1_signatures;
    sidecar_options.access_log = options.access_log;
    // `meshd run --fault-seed` seeds the demo sidecars' pair faults too.
    sidecar_options.fault_seed = options.fault_seed;
    sidecar_options.workers = 1;
    sidecar_options.watch_interval = options.watch_interval;
    sidecar_options.sidecar = Some(SidecarOptions {
        service: service.to_string(),
        app: app.to_string(),
        certs,
        inbound: Some(inbound.to_string()),
        outbound: "127.0.0.1:0".to_string(),
        tcp: tcp_calls
            .iter()
            .map(|name| (name.to_string(), "127.0.0.1:0".to_string()))
            .collect(),
        // The demo's apps call services by their names.
        hosts: ServiceHosts::default(),
        tcp_idle_timeout: super::sidecar::DEFAULT_TCP_IDLE_TIMEOUT,
    });
    let server = start(sidecar_options).map_err(|e| {
        format!(
            "sidecar for {service} on {inbound}: {}",
            crate::reload::error_chain(&e)
        )
    })?;
    let outbound = server
        .listener_of_kind("outbound")
        .ok_or_else(|| format!("sidecar for {service}: no outbound listener"))?;
    let tcp: Vec<(String, SocketAddr)> = server
        .listeners
        .iter()
        .filter(|l| l.kind == "tcp-outbound")
        .map(|l| (l.gateway.clone(), l.address))
        .collect();
    if demo.tcp {
        serve_demo_line_app(app_socket, service, &inbound.to_string(), runtime)
    } else {
        let demo = DemoApp {
            service: service.to_string(),
            endpoint: inbound.to_string(),
            outbound: Some(outbound),
            tcp: tcp.clone(),
        };
        serve_demo_app(app_socket, demo, runtime)
    }
    .map_err(|e| e.to_string())?;
    if demo.tcp {
        tracing::info!(
            service = %service,
            inbound = %inbound,
            app = %app,
            admin = %server.admin,
            "demo mesh: sidecar (mTLS) at the endpoint of a tcp service, a line server beside it; other apps reach it with curl -d LINE APP/tcp/{service}"
        );
    } else {
        let calls = tcp
            .iter()
            .map(|(name, address)| format!("{name}={address}"))
            .collect::<Vec<_>>()
            .join(" ");
        tracing::info!(
            service = %service,
            inbound = %inbound,
            app = %app,
            outbound = %outbound,
            tcp = %calls,
            admin = %server.admin,
            "demo mesh: sidecar (mTLS) at the endpoint, app beside it; the app calls other services through the outbound listener (curl {app}/call/SERVICE/PATH) and tcp services through the tcp listeners (curl -d LINE {app}/tcp/SERVICE)"
        );
    }
    Ok(DemoSidecar {
        service: service.to_string(),
        inbound,
        outbound,
        app,
        admin: server.admin,
        tcp,
        server,
    })
}

/// The app's listener: the endpoint's port + 100 when free, else any free port.
fn bind_app(inbound: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let preferred = inbound
        .port()
        .checked_add(APP_PORT_OFFSET)
        .map(|port| SocketAddr::new(inbound.ip(), port));
    let socket = match preferred.map(std::net::TcpListener::bind) {
        Some(Ok(socket)) => socket,
        _ => std::net::TcpListener::bind(SocketAddr::new(inbound.ip(), 0))?,
    };
    socket.set_nonblocking(true)?;
    Ok(socket)
}
