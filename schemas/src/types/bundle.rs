//! The top of the bundle document and the small types every part shares.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::gateway::Gateway;
use super::graph::Graph;
use super::mesh::Mesh;
use super::service::Service;
use super::stream::{Stream, Topic};

/// The only bundle format this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// One compiled Meshwork program: everything `meshd` needs, already resolved and sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Bundle")]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT_VERSION`].
    #[schemars(range(min = 1, max = 1))]
    #[serde(deserialize_with = "super::bounded::format_version")]
    pub format_version: u32,
    /// The compiler that wrote the bundle.
    pub compiler: CompilerInfo,
    /// Orders bundles of one program over time so a fleet never rolls back by accident: meshd
    /// refuses a bundle whose serial is lower than the one it serves. `meshc build --serial N`
    /// (or `SOURCE_DATE_EPOCH`) sets it; absent means 0, no claim.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub serial: u64,
    /// `sha256:<64 lower-case hex digits>`, see [`crate::digest`]; empty before [`Bundle::seal`].
    #[schemars(regex(pattern = r"^(sha256:[0-9a-f]{64})?$"))]
    #[serde(deserialize_with = "super::bounded::digest_text")]
    pub digest: String,
    /// The source files, sorted by path.
    pub sources: Vec<SourceDigest>,
    /// Gateways, sorted by name.
    pub gateways: Vec<Gateway>,
    /// Services, sorted by name.
    pub services: Vec<Service>,
    /// The service-to-service policy.
    pub mesh: Mesh,
    /// Declared Kafka topics, sorted by name.
    pub topics: Vec<Topic>,
    /// Streams, sorted by name.
    pub streams: Vec<Stream>,
    /// The verified graph of the program, for tools that draw or query it.
    pub graph: Graph,
}

impl Bundle {
    /// An empty, unsealed bundle written by `compiler`.
    pub fn new(compiler: CompilerInfo) -> Self {
        Bundle {
            format_version: FORMAT_VERSION,
            compiler,
            serial: 0,
            digest: String::new(),
            sources: Vec::new(),
            gateways: Vec::new(),
            services: Vec::new(),
            mesh: Mesh::default(),
            topics: Vec::new(),
            streams: Vec::new(),
            graph: Graph::default(),
        }
    }

    /// The number of routes over all gateways.
    pub fn route_count(&self) -> usize {
        self.gateways.iter().map(|g| g.routes.len()).sum()
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The name and version of the compiler that wrote a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "CompilerInfo")]
#[serde(deny_unknown_fields)]
pub struct CompilerInfo {
    /// `meshc`.
    pub name: String,
    /// The compiler's crate version.
    pub version: String,
}

/// A source file of the program and the SHA-256 of its text, so a bundle can be traced to its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "SourceDigest")]
#[serde(deny_unknown_fields)]
pub struct SourceDigest {
    /// The path as the compiler showed it (`/` separators).
    pub path: String,
    /// Lower-case hex SHA-256 of the file's UTF-8 text.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    #[serde(deserialize_with = "super::bounded::sha256_hex")]
    pub sha256: String,
}

/// Where a rule was written: 1-based line and column (in characters) in a source file.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(remote = "Self")]
#[schemars(rename = "SourceLocation")]
#[serde(deny_unknown_fields)]
pub struct SourceLocation {
    /// The path, as in [`Bundle::sources`].
    pub file: String,
    /// 1-based line.
    #[schemars(range(min = 1))]
    #[serde(deserialize_with = "super::bounded::at_least_one")]
    pub line: u32,
    /// 1-based column, counted in characters.
    #[schemars(range(min = 1))]
    #[serde(deserialize_with = "super::bounded::at_least_one")]
    pub column: u32,
}

/// Where the runtime reads a secret at load time. The bundle never holds a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// `{"env": "NAME"}`: an environment variable.
    Env(String),
    /// `{"file": "path"}`: a file; a relative path is relative to the program's directory (the
    /// directory of the bundle file, or of the sources `meshd run` was given).
    File(String),
}

/// Allow or deny, for access rules and mesh rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Let the request through.
    Allow,
    /// Refuse the request.
    Deny,
}

super::read_through!(crate::types::map_only::MapOnly:Bundle, CompilerInfo, SourceDigest, SourceLocation);
