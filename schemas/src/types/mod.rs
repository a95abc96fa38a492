//! The serde types of the bundle, one file per part of the program.

mod admission_step_reader;
#[cfg(test)]
mod admission_step_tests;
pub(crate) mod bounded;
pub mod bundle;
pub mod gateway;
pub mod graph;
pub(crate) mod map_only;
pub mod mesh;
pub mod route;
pub mod service;
pub mod stream;
mod tagged;
