//! Request CEL: conditions and value expressions over the documented variables, compiled once
//! at load and evaluated per request without building maps of the whole request.
//!
//! Variables (the contract in DESIGN.md, plus `params` and `body`):
//! - `request.method`, `request.path`, `request.host` (no port), `request.remote_addr` (the
//!   client IP of the TCP peer, no port), strings;
//! - `request.headers` (case-insensitive names; repeated headers joined with `, `),
//!   `request.query` (decoded; first value wins), `request.params` (path template captures),
//!   maps of strings read on access;
//! - `request.body`: the body parsed as JSON, only when the server buffered it (see
//!   [`RequestCondition::reads_body`]); an unparseable body is an evaluation error;
//! - `consumer.name` (`""` when anonymous), `consumer.groups` (`[]` when anonymous);
//! - `jwt.claims`: the verified token's claims (`{}` without a token);
//! - `source.service`, `source.identity`: the mesh caller (mesh conditions; `""` when unknown).
//!
//! String comparisons of request fields (`request.headers["x"] != ""`, `&&`, `||`, `!`) and bare
//! fields as values skip the interpreter ([`fast_path`]) with the same results.

mod activation;
pub mod fast_path;
mod json_value;
mod program;
mod request_values;

pub use activation::{CelInput, MeshCaller};
pub use json_value::{json_into_cel, json_to_cel};
pub use program::{CelCompileError, CelEvalError, RequestCondition, RequestExpression};
pub use request_values::{header_text, query_param};
