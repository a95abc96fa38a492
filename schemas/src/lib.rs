//! The Meshwork bundle contract, shared by `meshc` (which writes it) and `meshd` (which runs it).

/// The bundle (in progress).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Bundle {}
