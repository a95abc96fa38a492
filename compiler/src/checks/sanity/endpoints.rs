//! Services without endpoints (E0703), repeated endpoints (W0705) and endpoint or listen
//! addresses that are URLs rather than `host:port` (E0010, the front end's address code).
//!
//! *Why*: a forward to a service with no endpoint fails every request with 503; a repeated
//! endpoint silently gets twice the traffic; `http://host:port` parses as a host named
//! `http://host`, which never resolves.
//! *Example*: `service picard { endpoints [] }`; `endpoints ["http://127.0.0.1:9101"]`.

use std::collections::HashSet;

use crate::diagnostics::{codes, Diagnostic};
use crate::resolve::Program;
use crate::source::Spanned;

use super::{DUPLICATE_ENDPOINT, NO_ENDPOINTS};

/// Every endpoint problem.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        match service.endpoints() {
            Some(list) if list.node.is_empty() => out.push(
                Diagnostic::error(
                    &NO_ENDPOINTS,
                    format!("service `{}` has an empty endpoint list", service.name.node),
                )
                .with_label(list.span, "no address to send requests to")
                .with_help("list at least one \"host:port\""),
            ),
            Some(list) => {
                let mut seen = HashSet::new();
                for endpoint in &list.node {
                    out.extend(address_problem(endpoint));
                    if !seen.insert(endpoint.node.as_str()) {
                        out.push(
                            Diagnostic::warning(
                                &DUPLICATE_ENDPOINT,
                                format!("endpoint \"{}\" is listed twice", endpoint.node),
                            )
                            .with_label(
                                endpoint.span,
                                "listed again: it would get twice the share of requests",
                            )
                            .with_help("list each endpoint once"),
                        );
                    }
                }
            }
            None => {
                if let Some(span) = first_use(program, &service.name.node) {
                    out.push(
                        Diagnostic::error(
                            &NO_ENDPOINTS,
                            format!(
                                "service `{}` has no endpoints, but requests are sent to it",
                                service.name.node
                            ),
                        )
                        .with_label(service.name.span, "no `endpoints`")
                        .with_label(span, "sent here")
                        .with_help("add `endpoints [\"host:port\"]`"),
                    );
                }
            }
        }
    }
    for gateway in &program.gateways {
        for listener in &gateway.listeners {
            out.extend(address_problem(&listener.address));
        }
    }
    out
}

/// The first forward or deliver naming the service.
fn first_use(program: &Program, service: &str) -> Option<crate::source::Span> {
    let forward = program.routes().find_map(|(_, r)| {
        r.forward()?
            .targets
            .iter()
            .find(|t| t.service.node == service)
            .map(|t| t.service.span)
    });
    forward.or_else(|| {
        program.streams.iter().find_map(|s| {
            s.deliver()
                .filter(|d| d.service.node == service)
                .map(|d| d.service.span)
        })
    })
}

/// An address written as a URL (scheme or path), which the front end's `host:port` split accepts.
fn address_problem(address: &Spanned<String>) -> Option<Diagnostic> {
    let text = &address.node;
    let host = text.rsplit_once(':').map_or(text.as_str(), |(h, _)| h);
    let bad = host.contains("://") || host.contains('/') || host.contains(['?', '#', '@']);
    bad.then(|| {
        Diagnostic::error(
            &codes::INVALID_ADDRESS,
            format!("\"{text}\" is a URL, not host:port"),
        )
        .with_label(
            address.span,
            "scheme, path or credentials are not part of an address",
        )
        .with_help("write only host and port, e.g. \"127.0.0.1:9101\"")
    })
}
