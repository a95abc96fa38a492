//! The Meshwork bundle contract, shared by `meshc` (which writes it) and `meshd` (which runs it):
//! the serde types, their JSON Schema, deterministic JSON, the digest, route precedence, the
//! route matcher and the mesh policy's decision.

pub mod bundle_file;
pub mod canonical_json;
pub mod digest;
pub mod grpc_status;
pub mod matcher;
pub mod mesh_policy;
pub mod precedence;
pub mod sample;
pub mod schema;
pub mod signature;
pub mod spiffe_id;
pub mod topic_schema;
pub mod types;

pub use digest::{compute_digest, DigestError, DIGEST_PREFIX};
pub use precedence::{compare_routes, sort_by_precedence, PrecedenceDecision, PrecedenceStep};
pub use schema::{generate_schema, generate_schema_text, BUNDLE_SCHEMA};
pub use topic_schema::{CompiledTopicSchema, TopicSchemaError, Violation};
pub use types::bundle::{
    Bundle, CompilerInfo, Effect, SecretRef, SourceDigest, SourceLocation, FORMAT_VERSION,
};
pub use types::gateway::{
    Consumer, Credential, EscapedSlashes, Gateway, Listener, ListenerTls, MethodMismatch,
    PathPolicy, Tracing,
};
pub use types::graph::{EdgeKind, Graph, GraphEdge, GraphNode, NodeKind};
pub use types::mesh::{Mesh, MeshFault, MeshMirror, MeshRule, MtlsMode, SidecarHop};
pub use types::route::{
    AccessSubject, Acks, AdmissionStep, AuthMethod, FaultAction, ForwardTarget, HeaderDirection,
    KeyLocation, NameValue, PathKind, PathMatch, ProduceMode, ProduceTopic, RateLimitKey, Route,
    RouteAction, RouteMatch, RouteMirror, RouteUpgrades, StoreFailure, ValueFormat,
};
pub use types::service::{
    Balance, CircuitBreaker, FailurePercentage, GrpcRetry, HealthCheck, LatencyOutlier, Protocol,
    Retry, RetryBudget, RetryCondition, RetryOn, Service, SuccessRate, GRPC_HEALTH_CHECK_PATH,
};
pub use types::stream::{Deliver, Stream, StreamSink, StreamSource, Topic, TopicSchema};
