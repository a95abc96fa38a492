//! A test as the runner needs it: its statements checked against the program (names exist,
//! values parse, one subject) and gathered into a [`CasePlan`]. Problems are located
//! diagnostics, reported before anything runs, like any other error in a `.mesh` file.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use meshwork_bundle::mesh_policy::SPIFFE_SCHEME;
use meshwork_bundle::Bundle;

use crate::diagnostics::codes::{DUPLICATE_SETTING, INVALID_LITERAL, MISSING_SETTING, SYNTAX};
use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::explain::ExplainRequest;
use crate::resolve::UNDEFINED_NAME;
use crate::source::{Span, Spanned};
use crate::syntax::test_ast::{ExpectKind, Expectation, FaultMode, TestCase, TestStatement};

/// What a test sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An HTTP request to a gateway.
    Request,
    /// A call through the mesh from `source` (gateway or service) to `destination`.
    Call {
        source: String,
        /// `source` is a verified identity (`spiffe://…`), not a name.
        by_identity: bool,
        destination: String,
    },
    /// A Kafka record on `topic`.
    Record { topic: String },
}

/// The credential a test sends: as a consumer, with claims changed for a JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub consumer: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A test, checked and ready to run.
#[derive(Debug, Clone)]
pub struct CasePlan<'t> {
    pub test: &'t TestCase,
    pub subject: Subject,
    /// The request line (method, host, port, path, query) and headers; for a record, the
    /// headers are the record's.
    pub request: ExplainRequest,
    pub gateway: Option<String>,
    pub body: Option<String>,
    pub key: Option<String>,
    pub client: SocketAddr,
    pub at: SystemTime,
    pub credential: Option<Credential>,
    pub repeat: u64,
    pub every: Duration,
    /// `faults forced|never` (never when not written).
    pub faults: FaultMode,
    pub expectations: Vec<&'t Expectation>,
}

/// The client address when a test gives none.
pub const DEFAULT_CLIENT: &str = "127.0.0.1:40000";

/// The largest body `body_size` makes.
pub const MAX_BODY_SIZE: usize = 64 * 1024 * 1024;

/// The most requests one test may send with `repeat`.
pub const MAX_REPEAT: u64 = 100_000;

struct Planner<'b> {
    bundle: &'b Bundle,
    diagnostics: Vec<Diagnostic>,
}

impl Planner<'_> {
    fn error(
        &mut self,
        code: &'static crate::diagnostics::codes::Code,
        span: Span,
        message: String,
        label: &str,
        help: String,
    ) {
        self.diagnostics.push(
            Diagnostic::error(code, message)
                .with_label(span, label.to_string())
                .with_help(help),
        );
    }

    fn unknown(&mut self, what: &str, name: &Spanned<String>, known: Vec<String>) {
        let suggestion = closest(&name.node, known.iter().map(String::as_str));
        let help = match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => format!("the program has no {what}"),
            None => format!("known: {}", known.join(", ")),
        };
        self.error(
            &UNDEFINED_NAME,
            name.span,
            format!("no {what} named `{}`", name.node),
            &format!("not a {what} of the program"),
            help,
        );
    }

    fn check_name(&mut self, what: &str, name: &Spanned<String>, known: Vec<String>) {
        if !known.contains(&name.node) {
            self.unknown(what, name, known);
        }
    }

    fn routes(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .bundle
            .gateways
            .iter()
            .flat_map(|g| g.routes.iter().map(|r| r.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn consumers(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .bundle
            .gateways
            .iter()
            .flat_map(|g| g.consumers.iter().map(|c| c.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn services(&self) -> Vec<String> {
        self.bundle
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    fn gateways(&self) -> Vec<String> {
        self.bundle
            .gateways
            .iter()
            .map(|g| g.name.clone())
            .collect()
    }

    fn topics(&self) -> Vec<String> {
        self.bundle
            .graph
            .nodes
            .iter()
            .filter(|n| n.id.starts_with("topic:"))
            .map(|n| n.name.clone())
            .collect()
    }

    fn streams(&self) -> Vec<String> {
        self.bundle.streams.iter().map(|s| s.name.clone()).collect()
    }
}

/// Checks `test` against `bundle`: the plan, or the diagnostics that keep it from running.
pub fn plan_case<'t>(bundle: &Bundle, test: &'t TestCase) -> Result<CasePlan<'t>, Vec<Diagnostic>> {
    let mut planner = Planner {
        bundle,
        diagnostics: Vec::new(),
    };
    let mut subject: Option<(Subject, Span)> = None;
    let mut request_line: Option<(String, Spanned<String>)> = None;
    let mut headers: Vec<String> = Vec::new();
    let mut plan_gateway = None;
    let mut body = None;
    let mut key = None;
    let mut client: SocketAddr = DEFAULT_CLIENT
        .parse()
        .expect("the default client address parses");
    let mut at = SystemTime::now();
    let mut credential = None;
    let mut repeat = 1;
    let mut every = Duration::ZERO;
    let mut faults = FaultMode::Never;
    let mut expectations = Vec::new();
    for statement in &test.statements {
        match statement {
            TestStatement::Request { method, url, span } => {
                if let Some((_, first)) = &request_line {
                    planner.diagnostics.push(
                        Diagnostic::error(&DUPLICATE_SETTING, "`request` is set twice")
                            .with_label(*span, "set again here")
                            .with_label(first.span, "first set here")
                            .with_help("a test sends one request; use `repeat` to send it again"),
                    );
                }
                request_line = Some((method.node.clone(), url.clone()));
                let is_call = matches!(subject, Some((Subject::Call { .. }, _)));
                if !is_call {
                    set_subject(&mut planner, &mut subject, Subject::Request, *span);
                }
            }
            TestStatement::Call {
                source,
                by_identity,
                destination,
                span,
            } => {
                if *by_identity {
                    if !source.node.starts_with(SPIFFE_SCHEME) {
                        planner.error(
                            &INVALID_LITERAL,
                            source.span,
                            format!("`{}` is not a SPIFFE identity", source.node),
                            "a caller's identity",
                            format!(
                                "write `{SPIFFE_SCHEME}<trust domain>/<name>`, or the caller's name without quotes"
                            ),
                        );
                    }
                } else {
                    let mut callers = planner.gateways();
                    callers.extend(planner.services());
                    planner.check_name("gateway or service", source, callers);
                }
                planner.check_name("service", destination, planner.services());
                let call = Subject::Call {
                    source: source.node.clone(),
                    by_identity: *by_identity,
                    destination: destination.node.clone(),
                };
                match &subject {
                    Some((Subject::Request, _)) => subject = Some((call, *span)),
                    _ => set_subject(&mut planner, &mut subject, call, *span),
                }
            }
            TestStatement::Record { topic, span } => {
                planner.check_name("topic", topic, planner.topics());
                set_subject(
                    &mut planner,
                    &mut subject,
                    Subject::Record {
                        topic: topic.node.clone(),
                    },
                    *span,
                );
            }
            TestStatement::Gateway(name) => {
                planner.check_name("gateway", name, planner.gateways());
                plan_gateway = Some(name.node.clone());
            }
            TestStatement::Header { name, value, .. } => {
                headers.push(format!("{}:{}", name.node, value.node));
            }
            TestStatement::Body(text) => body = Some(text.node.clone()),
            TestStatement::BodySize(size) => match usize::try_from(size.node.bytes) {
                Ok(bytes) if bytes <= MAX_BODY_SIZE => body = Some("x".repeat(bytes)),
                _ => planner.error(
                    &INVALID_LITERAL,
                    size.span,
                    "a test body is at most 64MiB".to_string(),
                    "too large",
                    "give a smaller size".to_string(),
                ),
            },
            TestStatement::Key(text) => key = Some(text.node.clone()),
            TestStatement::From(text) => match parse_client(&text.node) {
                Some(address) => client = address,
                None => planner.error(
                    &INVALID_LITERAL,
                    text.span,
                    format!("`{}` is not a client address", text.node),
                    "not an IP address",
                    "write an IPv4 or IPv6 address, optionally with a port: \"10.0.0.7\", \"[2001:db8::1]:5000\"".to_string(),
                ),
            },
            TestStatement::At(text) => match humantime::parse_rfc3339_weak(&text.node) {
                Ok(time) => at = time,
                Err(error) => planner.error(
                    &INVALID_LITERAL,
                    text.span,
                    format!("`{}` is not a time: {error}", text.node),
                    "not an RFC 3339 time",
                    "write a UTC time such as \"2025-03-01T12:00:00Z\"".to_string(),
                ),
            },
            TestStatement::As {
                consumer, claims, ..
            } => {
                planner.check_name("consumer", consumer, planner.consumers());
                let claims = match claims {
                    None => serde_json::Map::new(),
                    Some(text) => match serde_json::from_str::<serde_json::Value>(&text.node) {
                        Ok(serde_json::Value::Object(map)) => map,
                        _ => {
                            planner.error(
                                &INVALID_LITERAL,
                                text.span,
                                "the claims are not a JSON object".to_string(),
                                "not a JSON object",
                                "write them as one JSON object: claims \"{\\\"aud\\\": \\\"other\\\"}\"".to_string(),
                            );
                            serde_json::Map::new()
                        }
                    },
                };
                credential = Some(Credential {
                    consumer: consumer.node.clone(),
                    claims,
                });
            }
            TestStatement::Repeat { count, every: gap, .. } => {
                if count.node == 0 || count.node > MAX_REPEAT {
                    planner.error(
                        &INVALID_LITERAL,
                        count.span,
                        format!("`repeat {}` is out of range", count.node),
                        "not between 1 and 100000",
                        "repeat a request between 1 and 100000 times".to_string(),
                    );
                }
                repeat = count.node.clamp(1, MAX_REPEAT);
                every = gap.as_ref().map_or(Duration::ZERO, |g| Duration::from_millis(g.node.millis));
            }
            TestStatement::Faults(mode) => faults = mode.node,
            TestStatement::Expect(expectation) => {
                check_expectation(&mut planner, expectation);
                expectations.push(expectation);
            }
        }
    }
    let Some((subject, subject_span)) = subject else {
        planner.diagnostics.push(
            Diagnostic::error(
                &MISSING_SETTING,
                format!("test \"{}\" sends nothing", test.name.node),
            )
            .with_label(
                test.name.span,
                "this test needs a `request`, `call` or `record`",
            )
            .with_help("add `request GET \"/path\"`, `call A -> B` or `record \"topic\"`"),
        );
        return Err(planner.diagnostics);
    };
    if expectations.is_empty() {
        planner.diagnostics.push(
            Diagnostic::error(
                &MISSING_SETTING,
                format!("test \"{}\" expects nothing", test.name.node),
            )
            .with_label(test.name.span, "this test needs at least one `expect`")
            .with_help(
                "say what must happen: `expect status 200`, `expect route …`, `expect denied auth`",
            ),
        );
    }
    for expectation in &expectations {
        check_fits(&mut planner, &subject, subject_span, expectation);
    }
    let (method, url) = request_line.unwrap_or_else(|| {
        (
            "GET".to_string(),
            Spanned::new("/".to_string(), subject_span),
        )
    });
    let request = match ExplainRequest::parse(&format!("{method} {}", url.node), &headers) {
        Ok(request) => Some(request),
        Err(error) => {
            planner.error(
                &INVALID_LITERAL,
                url.span,
                format!("the request cannot be sent: {error}"),
                "here",
                "write `request METHOD \"http://host:port/path?query\"` or `request METHOD \"/path\"`, and headers as `header \"name\" \"value\"`".to_string(),
            );
            None
        }
    };
    if !planner.diagnostics.is_empty() {
        return Err(planner.diagnostics);
    }
    Ok(CasePlan {
        test,
        subject,
        request: request.expect("an unparsed request is a diagnostic above"),
        gateway: plan_gateway,
        body,
        key,
        client,
        at,
        credential,
        repeat,
        every,
        faults,
        expectations,
    })
}

/// Records the test's subject, or reports a second one.
fn set_subject(
    planner: &mut Planner<'_>,
    subject: &mut Option<(Subject, Span)>,
    new: Subject,
    span: Span,
) {
    if let Some((_, first)) = subject {
        planner.diagnostics.push(
            Diagnostic::error(
                &DUPLICATE_SETTING,
                "a test sends one request, call or record",
            )
            .with_label(span, "a second subject")
            .with_label(*first, "the first")
            .with_help("split it into two tests"),
        );
    } else {
        *subject = Some((new, span));
    }
}

fn parse_client(text: &str) -> Option<SocketAddr> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address);
    }
    let ip: IpAddr = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, 40000))
}

/// Names an expectation uses must exist.
fn check_expectation(planner: &mut Planner<'_>, expectation: &Expectation) {
    match &expectation.kind {
        ExpectKind::Route(name) => planner.check_name("route", name, planner.routes()),
        ExpectKind::Forward(targets) => {
            for target in targets {
                planner.check_name("service", &target.service, planner.services());
            }
        }
        ExpectKind::Deliver(service) | ExpectKind::Mirror(service) => {
            planner.check_name("service", service, planner.services())
        }
        ExpectKind::Filtered(Some(stream)) => {
            planner.check_name("stream", stream, planner.streams())
        }
        ExpectKind::Produce { topic, .. }
        | ExpectKind::Emit { topic, .. }
        | ExpectKind::DeadLetter { topic, .. } => {
            planner.check_name("topic", topic, planner.topics())
        }
        _ => {}
    }
}

/// An expectation must be about something the test's subject can do.
fn check_fits(
    planner: &mut Planner<'_>,
    subject: &Subject,
    subject_span: Span,
    expectation: &Expectation,
) {
    use ExpectKind as E;
    let fits = match subject {
        Subject::Request => {
            !matches!(expectation.kind, E::Denied(Some(ref s)) if s.node == crate::syntax::test_ast::DenialStep::Mesh)
        }
        Subject::Call { .. } => {
            matches!(
                expectation.kind,
                E::Allowed
                    | E::Denied(_)
                    | E::Rule(_)
                    | E::Status(_)
                    | E::Reason(_)
                    | E::Fault(_)
                    | E::NoFault
                    | E::Body(_)
            ) && !matches!(expectation.kind, E::Denied(Some(ref s)) if s.node != crate::syntax::test_ast::DenialStep::Mesh)
        }
        Subject::Record { .. } => matches!(
            expectation.kind,
            E::Emit { .. } | E::DeadLetter { .. } | E::Deliver(_) | E::Filtered(_) | E::Rule(_)
        ),
    };
    if !fits {
        let what = match subject {
            Subject::Request => "an HTTP request",
            Subject::Call { .. } => "a mesh call",
            Subject::Record { .. } => "a Kafka record",
        };
        planner.diagnostics.push(
            Diagnostic::error(&SYNTAX, format!("this expectation does not apply to {what}"))
                .with_label(expectation.span, "cannot happen to this test's subject")
                .with_label(subject_span, format!("the test sends {what}"))
                .with_help(match subject {
                    Subject::Request => "a request can expect status, route, allowed, denied STEP, reason, rule, forward, header, no_header, response_header, body, fault, no_fault, mirror, no_mirror, produce, and (through a produce) emit, dead_letter, deliver, filtered",
                    Subject::Call { .. } => "a mesh call can expect allowed, denied [mesh], rule, reason, status, body, fault, no_fault",
                    Subject::Record { .. } => "a record can expect emit, dead_letter, deliver, filtered, rule",
                }.to_string()),
        );
    }
}
