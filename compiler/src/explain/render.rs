//! The text `meshc explain` prints: the route chosen and why, the admission steps in order, and
//! where the request goes.

use std::fmt::Write;

use meshwork_bundle::{
    AccessSubject, AdmissionStep, AuthMethod, Bundle, Effect, FaultAction, Gateway, KeyLocation,
    MethodMismatch, PathKind, Route, SourceLocation, StoreFailure,
};

use crate::resolve::Program;
use crate::source::Span;

use super::request_line::ExplainRequest;
use super::route_choice::RouteChoice;

pub(super) fn at(location: &SourceLocation) -> String {
    format!("{}:{}:{}", location.file, location.line, location.column)
}

pub(super) fn at_span(program: &Program, span: Span) -> String {
    let line_col = program.sources.line_col(span);
    format!(
        "{}:{}:{}",
        program.sources.file(span.file).path,
        line_col.line,
        line_col.column
    )
}

/// `GET "/officers/{id}" host "…" header "…" "…"`, as the route matches.
pub fn describe_match(route: &Route) -> String {
    let m = &route.matcher;
    let mut text = m.method.clone().unwrap_or_else(|| "*".to_string());
    let kind = match m.path.kind {
        PathKind::Prefix => "prefix ",
        PathKind::Regex => "regex ",
        PathKind::Exact | PathKind::Template => "",
    };
    let _ = write!(text, " {kind}\"{}\"", m.path.value);
    if let Some(host) = &m.host {
        let _ = write!(text, " host \"{host}\"");
    }
    for h in &m.headers {
        let _ = write!(text, " header \"{}\" \"{}\"", h.name, h.value);
    }
    for q in &m.query {
        let _ = write!(text, " query \"{}\" \"{}\"", q.name, q.value);
    }
    text
}

/// One gateway's explanation.
pub fn render_gateway(
    out: &mut String,
    program: &Program,
    bundle: &Bundle,
    gateway: &Gateway,
    request: &ExplainRequest,
    choice: &RouteChoice,
) {
    let listeners: Vec<&str> = gateway
        .listeners
        .iter()
        .map(|l| l.address.as_str())
        .collect();
    let _ = writeln!(
        out,
        "gateway `{}` (listening on {})",
        gateway.name,
        listeners.join(", ")
    );
    match choice {
        RouteChoice::BadTable(error) => {
            let _ = writeln!(out, "  the gateway's routes do not compile: {error}");
        }
        RouteChoice::BadPath(error) => {
            let _ = writeln!(out, "  400 Bad Request: {error}");
        }
        RouteChoice::NotFound { path } => {
            let _ = writeln!(
                out,
                "  no route matches {} {path} (host \"{}\"): 404 Not Found",
                request.method, request.host
            );
            render_grpc_answers(out, request);
        }
        RouteChoice::MethodMismatch {
            routes,
            allow,
            answer,
        } => {
            match answer {
                MethodMismatch::NotFound => {
                    let _ = writeln!(
                        out,
                        "  no route matches {} {} (host \"{}\"): 404 Not Found",
                        request.method, request.path, request.host
                    );
                }
                MethodMismatch::MethodNotAllowed => {
                    let _ = writeln!(
                        out,
                        "  routes match this path but not {}: 405 Method Not Allowed (Allow: {}), as the gateway's `method_mismatch 405` asks",
                        request.method,
                        allow.join(", ")
                    );
                }
            }
            for route in routes {
                let _ = writeln!(
                    out,
                    "  route `{}` would match but for the method: {}  ({})",
                    route.name,
                    describe_match(route),
                    at(&route.source)
                );
            }
            if *answer == MethodMismatch::NotFound {
                let _ = writeln!(
                    out,
                    "  (a route whose method differs does not match, as in the Gateway API; `method_mismatch 405` in the gateway answers 405 with `Allow` instead)"
                );
            }
        }
        RouteChoice::Matched {
            winner,
            params,
            beaten,
            path,
        } => {
            if *path != request.path {
                let _ = writeln!(
                    out,
                    "  the path is normalized to {path:?}: that is what routes match and what goes upstream"
                );
            }
            let _ = writeln!(
                out,
                "\nroute `{}` wins: {}  ({})",
                winner.name,
                describe_match(winner),
                at(&winner.source)
            );
            if !params.is_empty() {
                let shown: Vec<String> = params
                    .iter()
                    .map(|(n, v)| format!("{n} = \"{v}\""))
                    .collect();
                let _ = writeln!(out, "  path parameters: {}", shown.join(", "));
            }
            if beaten.is_empty() {
                let _ = writeln!(out, "  no other route matches this request");
            } else {
                let _ = writeln!(
                    out,
                    "  it also matches {} other route(s), tried later:",
                    beaten.len()
                );
                for (loser, step) in beaten {
                    let _ = writeln!(
                        out,
                        "    over `{}` ({}): {} has {}",
                        loser.name,
                        describe_match(loser),
                        winner.name,
                        step.describe()
                    );
                }
            }
            render_admission(out, winner, request);
            super::destination::render_destination(out, program, bundle, gateway, winner);
            render_grpc_answers(out, request);
        }
    }
}

/// For a gRPC call (`content-type: application/grpc…`), what its client receives instead of the
/// gateway's own HTTP answers.
fn render_grpc_answers(out: &mut String, request: &ExplainRequest) {
    let grpc = request.headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type") && value.starts_with("application/grpc")
    });
    if !grpc {
        return;
    }
    use meshwork_bundle::grpc_status::{describe_grpc_code, grpc_code_for_http};
    let answers: Vec<String> = [401, 403, 429, 404, 503, 504]
        .iter()
        .map(|status| {
            format!(
                "{status} → {}",
                describe_grpc_code(grpc_code_for_http(*status))
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "
a gRPC call: the gateway's own answers reach the client as gRPC statuses in a trailers-only response (HTTP 200): {}",
        answers.join(", ")
    );
}

fn render_admission(out: &mut String, route: &Route, request: &ExplainRequest) {
    if route.admission.is_empty() {
        let _ = writeln!(
            out,
            "\nadmission: none{}",
            if route.public {
                " (the route is public)"
            } else {
                ""
            }
        );
        return;
    }
    let _ = writeln!(
        out,
        "\nadmission, in order (the first that refuses answers):"
    );
    for (i, step) in route.admission.iter().enumerate() {
        let (text, source) = describe_step(step, request);
        let _ = writeln!(out, "  {}. {text}  ({})", i + 1, at(source));
    }
}

fn describe_step<'s>(
    step: &'s AdmissionStep,
    request: &ExplainRequest,
) -> (String, &'s SourceLocation) {
    match step {
        AdmissionStep::Auth { method, source } => {
            let text = match method {
                AuthMethod::Key {
                    location: KeyLocation::Header,
                    name,
                } => {
                    let sent = request.headers.iter().any(|(n, _)| n == name);
                    format!(
                        "auth: API key in header `{name}` ({}) → 401 if missing or unknown",
                        if sent {
                            "sent"
                        } else {
                            "not sent: this request gets 401"
                        }
                    )
                }
                AuthMethod::Key {
                    location: KeyLocation::Query,
                    name,
                } => {
                    let sent = request
                        .query
                        .split('&')
                        .any(|kv| kv.split('=').next() == Some(name));
                    format!("auth: API key in query parameter `{name}` ({}) → 401 if missing or unknown", if sent { "sent" } else { "not sent: this request gets 401" })
                }
                AuthMethod::Basic { .. } => {
                    let sent = request
                        .headers
                        .iter()
                        .any(|(n, v)| n == "authorization" && v.starts_with("Basic "));
                    format!(
                        "auth: HTTP basic ({}) → 401 if missing or wrong",
                        if sent {
                            "credentials sent"
                        } else {
                            "no credentials sent: this request gets 401"
                        }
                    )
                }
                AuthMethod::Jwt { issuer, alg, .. } => {
                    let sent = request
                        .headers
                        .iter()
                        .any(|(n, v)| n == "authorization" && v.starts_with("Bearer "));
                    format!(
                        "auth: bearer JWT{}{} ({}) → 401 if missing or invalid",
                        alg.as_ref().map(|a| format!(" {a}")).unwrap_or_default(),
                        issuer
                            .as_ref()
                            .map(|i| format!(" from {i}"))
                            .unwrap_or_default(),
                        if sent {
                            "token sent"
                        } else {
                            "no token sent: this request gets 401"
                        }
                    )
                }
            };
            (text, source)
        }
        AdmissionStep::Access {
            effect,
            subject,
            values,
            source,
        } => {
            let verb = if *effect == Effect::Allow {
                "allow only"
            } else {
                "deny"
            };
            let what = match subject {
                AccessSubject::Consumers => "consumers",
                AccessSubject::Groups => "groups",
                AccessSubject::Ips => "client addresses",
            };
            (
                format!(
                    "access: {verb} {what} [{}] → 403 otherwise",
                    values.join(", ")
                ),
                source,
            )
        }
        AdmissionStep::RateLimit {
            count,
            period_ms,
            per,
            burst,
            shared,
            on_store_failure,
            source,
        } => (
            format!(
                "rate limit: {count} per {} per {per:?}{}{} → 429 when exceeded",
                humane_ms(*period_ms),
                burst.map(|b| format!(", burst {b}")).unwrap_or_default(),
                if *shared {
                    format!(
                        ", shared across meshd instances (Redis down: {})",
                        match on_store_failure {
                            StoreFailure::Local => "counted per instance",
                            StoreFailure::Open => "let through",
                            StoreFailure::Closed => "503",
                        }
                    )
                } else {
                    String::new()
                }
            )
            .replace("per Consumer", "per consumer")
            .replace("per Ip", "per client address")
            .replace("per Route", "for the whole route"),
            source,
        ),
        AdmissionStep::Condition { cel, source } => {
            (format!("condition: {cel} → 403 when false"), source)
        }
        AdmissionStep::Cors {
            origins, source, ..
        } => (
            format!(
                "CORS: origins [{}]; preflights answered here",
                origins.join(", ")
            ),
            source,
        ),
        AdmissionStep::BodyLimit { max_bytes, source } => (
            format!("body limit: {max_bytes} bytes → 413 when larger"),
            source,
        ),
        AdmissionStep::Fault {
            action,
            percent,
            when,
            source,
        } => (describe_fault(action, *percent, when.as_deref()), source),
        AdmissionStep::Header {
            direction,
            name,
            value,
            source,
        } => {
            let whose = match direction {
                meshwork_bundle::HeaderDirection::Request => "upstream request",
                meshwork_bundle::HeaderDirection::Response => "response",
            };
            let text = match value {
                Some(v) => format!("header: set `{name}: {v}` on the {whose}"),
                None => format!("header: remove `{name}` from the {whose}"),
            };
            (text, source)
        }
    }
}

/// An injected fault as `explain` shows it: what share it picks, what it does, and when.
fn describe_fault(action: &FaultAction, percent: u8, when: Option<&str>) -> String {
    let what = match action {
        FaultAction::Abort { status } => {
            format!(
                "fault: abort {percent}% of requests with {status} (the upstream is not called)"
            )
        }
        FaultAction::Delay { delay_ms } => {
            format!("fault: delay {percent}% of requests by {delay_ms} ms")
        }
    };
    match when {
        Some(condition) => format!("{what}, only when {condition}"),
        None => format!("{what}, for every caller"),
    }
}

fn humane_ms(ms: u64) -> String {
    match ms {
        1_000 => "second".to_string(),
        60_000 => "minute".to_string(),
        3_600_000 => "hour".to_string(),
        86_400_000 => "day".to_string(),
        other => format!("{other}ms"),
    }
}
