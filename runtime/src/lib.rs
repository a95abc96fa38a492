//! `meshd`: the Meshwork runtime. Loads a bundle and executes its gateway, mesh and Kafka rules.

pub mod admit;
pub mod load;
