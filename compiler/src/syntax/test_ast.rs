//! The syntax tree of a `*.test.mesh` file: `test "name" { … }` blocks, each a request, a mesh
//! call or a Kafka record, and what must happen to it. `meshc test` runs them with the
//! runtime's own decision code (see `crate::test_runner`); the grammar is in docs/language.md.

use crate::source::{Span, Spanned};

use super::ast::{Comment, Duration, Ident, Percent, Size};

/// One parsed test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    pub tests: Vec<TestCase>,
    pub comments: Vec<Comment>,
}

/// `test "name" { statement… }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: Spanned<String>,
    pub statements: Vec<TestStatement>,
    pub span: Span,
}

/// One statement of a test.
#[derive(Debug, Clone, PartialEq)]
pub enum TestStatement {
    /// `request METHOD "URL"`: an HTTP request to a gateway (or, after `call`, the mesh call's).
    Request {
        method: Spanned<String>,
        url: Spanned<String>,
        span: Span,
    },
    /// `call SOURCE -> DESTINATION`: a call through the mesh from a gateway or service, or from
    /// whoever presents a verified identity (`call "spiffe://starfleet/picard" -> riker`).
    Call {
        source: Ident,
        /// The source is written as an identity in quotes, not a name.
        by_identity: bool,
        destination: Ident,
        span: Span,
    },
    /// `record "TOPIC"`: a Kafka record on a topic, read by the streams of that topic.
    Record { topic: Spanned<String>, span: Span },
    /// `gateway NAME`: the gateway that receives the request.
    Gateway(Ident),
    /// `header "NAME" "VALUE"`: a request or record header (repeatable).
    Header {
        name: Spanned<String>,
        value: Spanned<String>,
        span: Span,
    },
    /// `body "TEXT"`: the request body, or the record's value.
    Body(Spanned<String>),
    /// `body_size SIZE`: a request body of that many bytes (for body limits).
    BodySize(Spanned<Size>),
    /// `key "TEXT"`: the record's key.
    Key(Spanned<String>),
    /// `from "ADDRESS"`: the client's address (the TCP peer).
    From(Spanned<String>),
    /// `as CONSUMER [claims "JSON"]`: send the credential the route asks for, as that consumer.
    As {
        consumer: Ident,
        claims: Option<Spanned<String>>,
        span: Span,
    },
    /// `at "RFC 3339 TIME"`: when the request or record arrives.
    At(Spanned<String>),
    /// `repeat N [every DURATION]`: send N times; expectations are about the last.
    Repeat {
        count: Spanned<u64>,
        every: Option<Spanned<Duration>>,
        span: Span,
    },
    /// `faults forced|never`: whether the faults whose condition holds fire (their share taken
    /// as 100%) or none does (the default), so a test of a fault is deterministic.
    Faults(Spanned<FaultMode>),
    /// `expect …`.
    Expect(Expectation),
}

/// How a test treats the program's injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultMode {
    /// Every fault whose condition holds fires, whatever its share.
    Forced,
    /// No fault fires (every draw misses): the default.
    #[default]
    Never,
}

impl TestStatement {
    /// The span of the statement.
    pub fn span(&self) -> Span {
        match self {
            TestStatement::Request { span, .. }
            | TestStatement::Call { span, .. }
            | TestStatement::Record { span, .. }
            | TestStatement::Header { span, .. }
            | TestStatement::As { span, .. }
            | TestStatement::Repeat { span, .. } => *span,
            TestStatement::Gateway(name) => name.span,
            TestStatement::Faults(mode) => mode.span,
            TestStatement::BodySize(size) => size.span,
            TestStatement::Body(text)
            | TestStatement::Key(text)
            | TestStatement::From(text)
            | TestStatement::At(text) => text.span,
            TestStatement::Expect(expectation) => expectation.span,
        }
    }
}

/// The admission step (or the mesh) that refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialStep {
    Auth,
    Access,
    RateLimit,
    Condition,
    Cors,
    BodyLimit,
    Mesh,
}

impl DenialStep {
    /// Every step, with its name in tests.
    pub const ALL: [(DenialStep, &'static str); 7] = [
        (DenialStep::Auth, "auth"),
        (DenialStep::Access, "access"),
        (DenialStep::RateLimit, "rate_limit"),
        (DenialStep::Condition, "condition"),
        (DenialStep::Cors, "cors"),
        (DenialStep::BodyLimit, "body_limit"),
        (DenialStep::Mesh, "mesh"),
    ];

    /// The name in tests (`rate_limit`), as in `x-meshwork-denied-by`.
    pub fn as_str(self) -> &'static str {
        DenialStep::ALL
            .iter()
            .find(|(step, _)| *step == self)
            .map_or("?", |(_, name)| name)
    }
}

/// One service of `expect forward`, with its weight when the route splits traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedTarget {
    pub service: Ident,
    pub weight: Option<Spanned<Percent>>,
}

/// What an `expect` statement requires.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectKind {
    /// `expect status N`.
    Status(Spanned<u16>),
    /// `expect route NAME`: the route that takes the request.
    Route(Ident),
    /// `expect allowed`: admitted by the gateway, or let through by the mesh.
    Allowed,
    /// `expect denied [STEP]`: refused (by that step).
    Denied(Option<Spanned<DenialStep>>),
    /// `expect reason "TEXT"`: the refusal's reason contains the text.
    Reason(Spanned<String>),
    /// `expect rule "FILE:LINE"`: the rule that decided is written there.
    Rule(Spanned<String>),
    /// `expect forward SERVICE` or `expect forward [A 90%, B 10%]`: the services forwarded to.
    Forward(Vec<ExpectedTarget>),
    /// `expect header "NAME" "VALUE"`: the request sent upstream carries the header.
    Header {
        name: Spanned<String>,
        value: Spanned<String>,
    },
    /// `expect no_header "NAME"`: the request sent upstream does not carry the header.
    NoHeader(Spanned<String>),
    /// `expect response_header "NAME" "VALUE"`: the answer carries the header.
    ResponseHeader {
        name: Spanned<String>,
        value: Spanned<String>,
    },
    /// `expect body "TEXT"`: the gateway's own answer has this body.
    Body(Spanned<String>),
    /// `expect produce "TOPIC" [key "K"]`: the request becomes a record on the topic.
    Produce {
        topic: Spanned<String>,
        key: Option<Spanned<String>>,
    },
    /// `expect emit "TOPIC" [key "K"] [value "V"]`: a stream republishes the record there.
    Emit {
        topic: Spanned<String>,
        key: Option<Spanned<String>>,
        value: Option<Spanned<String>>,
    },
    /// `expect dead_letter "TOPIC" [reason "R"]`: a stream sends the record to its dead letter.
    DeadLetter {
        topic: Spanned<String>,
        reason: Option<Spanned<String>>,
    },
    /// `expect deliver SERVICE`: a stream delivers the record to the service over HTTP.
    Deliver(Ident),
    /// `expect filtered [STREAM]`: a stream's `when` drops the record.
    Filtered(Option<Ident>),
    /// `expect fault abort [STATUS]` / `expect fault delay [DURATION]`: that fault fires
    /// (under `faults forced`).
    Fault(ExpectedFault),
    /// `expect no_fault`: no fault fires.
    NoFault,
    /// `expect mirror SERVICE`: the forwarded request is one a route's mirror copies there.
    Mirror(Ident),
    /// `expect no_mirror`: no copy is made.
    NoMirror,
}

/// The fault an `expect fault` names, with its status or duration when written.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedFault {
    Abort(Option<Spanned<u16>>),
    Delay(Option<Spanned<Duration>>),
}

/// An `expect` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub kind: ExpectKind,
    pub span: Span,
}
