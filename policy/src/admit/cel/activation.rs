//! The variables of request CEL, resolved on demand: an expression that reads
//! `request.headers["x-ship"]` looks up one header and builds nothing else. The `cel` crate asks
//! the resolver for the longest qualified name first (`request.headers`), so most variables are
//! answered without an intermediate `request` object.

use std::sync::OnceLock;

use cel::common::traits::Indexer;
use cel::common::types::{self, CelList, CelMap, CelNull, CelString, Type};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::ExecutionError;

use super::json_value::{json_into_cel, object_to_cel};
use super::request_values::{HeadersVal, ParamsVal, QueryVal};
use crate::admit::consumers::ConsumerEntry;
use crate::admit::facts::RequestFacts;
use crate::admit::JwtClaims;

/// What request CEL can see: the request, and what admission has learned so far.
#[derive(Debug, Clone, Copy)]
pub struct CelInput<'a> {
    /// The request.
    pub facts: &'a RequestFacts<'a>,
    /// The authenticated consumer, if any (`consumer.*`; `""` and `[]` when anonymous).
    pub consumer: Option<&'a ConsumerEntry>,
    /// The verified JWT's claims, if any (`jwt.claims`; `{}` otherwise).
    pub claims: Option<&'a JwtClaims>,
    /// The mesh caller (`source.*`, mesh conditions and a sidecar's balance hash).
    pub source: MeshCaller<'a>,
}

/// The calling service or gateway as mesh CEL sees it: `source.service` and `source.identity`,
/// both `""` when unknown (a plaintext caller, or outside the mesh).
#[derive(Debug, Clone, Copy, Default)]
pub struct MeshCaller<'a> {
    /// The caller's name.
    pub service: &'a str,
    /// The caller's verified identity.
    pub identity: &'a str,
}

impl<'a> CelInput<'a> {
    /// Input for an anonymous request.
    pub fn request(facts: &'a RequestFacts<'a>) -> Self {
        CelInput {
            facts,
            consumer: None,
            claims: None,
            source: MeshCaller::default(),
        }
    }

    /// Input for a call inside the mesh from `source`.
    pub fn mesh_call(facts: &'a RequestFacts<'a>, source: MeshCaller<'a>) -> Self {
        CelInput {
            source,
            ..CelInput::request(facts)
        }
    }
}

/// Why `request.body` could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    /// The server did not buffer the body for this evaluation.
    NotBuffered,
    /// The body is not JSON.
    NotJson(String),
}

/// The root objects of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Request,
    Consumer,
    Jwt,
    Source,
}

/// One evaluation's variables.
pub struct Activation<'a> {
    input: CelInput<'a>,
    headers: HeadersVal<'a>,
    claims: OnceLock<CelMap<'a>>,
    body: OnceLock<Result<Box<dyn Val>, BodyProblem>>,
}

impl<'a> Activation<'a> {
    /// Variables over `input`; nothing is computed until an expression asks.
    pub fn new(input: CelInput<'a>) -> Self {
        Activation {
            input,
            headers: HeadersVal::new(input.facts.headers),
            claims: OnceLock::new(),
            body: OnceLock::new(),
        }
    }

    /// What went wrong reading `request.body`, if the expression read it and it failed.
    pub fn body_problem(&self) -> Option<&BodyProblem> {
        self.body.get().and_then(|r| r.as_ref().err())
    }

    fn field<'b>(&'b self, root: Root, field: &str) -> Option<CowVal<'b, 'b>> {
        let facts = self.input.facts;
        let value = match (root, field) {
            (Root::Request, "method") => CowVal::owned(CelString::from(facts.method.as_str())),
            (Root::Request, "path") => CowVal::owned(CelString::from(facts.path)),
            (Root::Request, "host") => CowVal::owned(CelString::from(facts.host_or_header())),
            (Root::Request, "headers") => CowVal::Borrowed(&self.headers),
            (Root::Request, "query") => CowVal::owned(QueryVal::new(facts.query.unwrap_or(""))),
            (Root::Request, "params") => CowVal::owned(ParamsVal::new(facts.params)),
            (Root::Request, "remote_addr") => {
                CowVal::owned(CelString::from(facts.client_ip().to_string()))
            }
            (Root::Request, "body") => match self.body.get_or_init(|| parse_body(facts.body)) {
                Ok(value) => CowVal::Borrowed(value.as_ref()),
                Err(_) => CowVal::owned(CelNull),
            },
            (Root::Consumer, "name") => match self.input.consumer {
                Some(consumer) => CowVal::Borrowed(consumer.cel_name()),
                None => CowVal::owned(CelString::from("")),
            },
            (Root::Consumer, "groups") => match self.input.consumer {
                Some(consumer) => CowVal::Borrowed(consumer.cel_groups()),
                None => CowVal::owned(CelList::default()),
            },
            (Root::Source, "service") => CowVal::owned(CelString::from(self.input.source.service)),
            (Root::Source, "identity") => {
                CowVal::owned(CelString::from(self.input.source.identity))
            }
            (Root::Jwt, "claims") => {
                CowVal::Borrowed(self.claims.get_or_init(|| match self.input.claims {
                    Some(claims) => object_to_cel(claims.as_map()),
                    None => CelMap::default(),
                }))
            }
            _ => return None,
        };
        Some(value)
    }
}

fn parse_body(body: Option<&[u8]>) -> Result<Box<dyn Val>, BodyProblem> {
    let body = body.ok_or(BodyProblem::NotBuffered)?;
    serde_json::from_slice(body)
        .map(json_into_cel)
        .map_err(|e| BodyProblem::NotJson(e.to_string()))
}

fn root_of(name: &str) -> Option<Root> {
    match name {
        "request" => Some(Root::Request),
        "consumer" => Some(Root::Consumer),
        "jwt" => Some(Root::Jwt),
        "source" => Some(Root::Source),
        _ => None,
    }
}

impl VariableResolver for Activation<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        match variable.split_once('.') {
            Some((root, field)) => self.field(root_of(root)?, field),
            None => Some(CowVal::owned(ObjectVal {
                activation: self,
                root: root_of(variable)?,
            })),
        }
    }
}

/// `request`, `consumer` or `jwt` used as a whole (`has(request.body)`, `request["path"]`):
/// an object whose fields are resolved on access.
struct ObjectVal<'b, 'a> {
    activation: &'b Activation<'a>,
    root: Root,
}

impl std::fmt::Debug for ObjectVal<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.root)
    }
}

impl<'b, 'a: 'b> Val for ObjectVal<'b, 'a> {
    fn get_type(&self) -> &Type {
        &types::MAP_TYPE
    }

    fn cel_type() -> &'static Type {
        &types::MAP_TYPE
    }

    fn as_indexer<'c, 'w>(&'c self) -> Option<&'c (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }

    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(ObjectVal {
            activation: self.activation,
            root: self.root,
        })
    }
}

impl<'b, 'a: 'b> Indexer for ObjectVal<'b, 'a> {
    fn get<'c, 'w>(&'c self, idx: &dyn Val) -> Result<CowVal<'c, 'w>, ExecutionError>
    where
        Self: 'w,
    {
        let name = idx
            .downcast_ref::<CelString>()
            .map(|s| s.inner())
            .ok_or_else(|| ExecutionError::UnexpectedType {
                got: idx.get_type().name().to_owned(),
                want: "string".to_owned(),
            })?;
        let activation: &'b Activation<'a> = self.activation;
        activation
            .field(self.root, name)
            .ok_or_else(|| ExecutionError::no_such_key(name))
    }

    fn steal<'w>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'w>, ExecutionError>
    where
        Self: 'w,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}
