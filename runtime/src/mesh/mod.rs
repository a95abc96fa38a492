//! The service mesh: meshd beside a workload (sidecar) and the gateway joining the mesh.
//!
//! - [`identity`]: who a workload is and how it proves it (certificates, mTLS configs, rotation);
//! - [`mesh_state`]: one bundle's mesh, compiled (rules and their conditions, identities), asked
//!   through the bundle crate's shared decision;
//! - [`inbound`] + [`inbound_chain`]: calls to the sidecar's service (identify → authorise →
//!   forward to the app → record); [`outbound`] + [`outbound_chain`]: the app's calls (match by
//!   `Host` → copy to the pair's [`pair_mirrors`] → forward over mTLS → record). Both run on the server's workers and connections
//!   ([`crate::server::ListenerRole`]) and forward with [`crate::forward`];
//! - [`sidecar`]: `meshd sidecar`, its options and listeners; [`app_service`]: the app behind
//!   it, spoken to as the bundle in force says; [`demo_mesh`]: the example's
//!   throwaway CA, sidecars and demo apps;
//! - [`tcp_outbound`] + [`tcp_inbound`] + [`tcp_pipe`]: `protocol tcp` services, a byte stream
//!   between the app's `--tcp` listener and the service's sidecar inside mutual TLS, decided on
//!   the caller's identity alone;
//! - [`mesh_metrics`], [`mesh_record`], [`mesh_denial`]: what a call leaves behind.

pub mod app_service;
pub mod demo_mesh;
pub mod gateway_identity;
pub mod identity;
pub mod inbound;
pub mod inbound_chain;
pub mod mesh_denial;
pub mod mesh_metrics;
pub mod mesh_record;
pub mod mesh_spans;
pub mod mesh_state;
pub mod outbound;
pub mod outbound_chain;
pub mod pair_mirrors;
/// Which service a call's `Host` names: the mesh policy's, shared with `meshc explain`.
pub use meshwork_bundle::mesh_policy::service_host;
pub mod sidecar;
pub mod tcp_inbound;
pub mod tcp_outbound;
pub mod tcp_pipe;
pub mod workload_identity;
