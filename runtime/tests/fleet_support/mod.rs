//! Real parts for the fleet tests: meshd processes, an nginx serving bundles, a CI-like
//! publisher, and scratch directories.
#![allow(dead_code)]

pub mod meshd_process;
pub mod nginx;
pub mod noida;
pub mod publish;
pub mod redis_server;

#[allow(unused_imports)] // not every test of a crate that includes this module uses it
pub use crate::scratch::Scratch;
