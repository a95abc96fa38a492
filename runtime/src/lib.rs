//! `meshd`: the Meshwork runtime. Loads a bundle and executes its gateway, mesh and Kafka rules.
//!
//! Data flows one way: [`load`] (bundle or sources) → [`state`] (compiled once per bundle) →
//! [`server`] (listeners, the request path) → [`forward`] (upstreams). [`reload`] swaps states,
//! [`admin`] and [`metrics`] observe, [`access_log`] records.

pub mod access_log;
pub mod admin;
pub mod admit;
pub mod ca;
pub mod crypto_provider;
pub mod demo_tcp;
pub mod demo_upstreams;
pub mod forward;
pub mod http2_settings;
pub mod load;
pub mod mesh;
pub mod metrics;
pub mod open_files;
pub mod reload;
pub mod run;
pub mod run_options;
pub mod server;
pub mod state;
pub mod stream;
pub mod trace;
pub mod varint;

pub use run::{start, ListenerAddress, RunOptions, RunningServer, StartError};
