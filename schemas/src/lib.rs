//! The Meshwork bundle contract, shared by `meshc` (which writes it) and `meshd` (which runs it).

/// The bundle (placeholder until the contract lands).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Bundle {
    pub digest: String,
}

impl Bundle {
    /// Pretty JSON.
    pub fn to_pretty_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
