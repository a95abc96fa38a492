//! Static reach over a compiled bundle: who a route admits, what the mesh lets through, and the
//! graph's edges read backwards. `meshc who-can` answers questions with it and `meshc diff`
//! compares two programs through it. Nothing here runs a request: a CEL condition, an address
//! rule or a rate limit is reported as a qualifier on the answer, not decided.

pub mod graph_index;
pub mod mesh_verdict;
pub mod route_callers;

pub use graph_index::GraphIndex;
pub use mesh_verdict::{mesh_verdict, MeshVerdict};
pub use route_callers::{route_callers, Callers, Qualifier, RouteCallers};
