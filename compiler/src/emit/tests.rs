//! Emit tests over hand-built syntax trees (independent of the parser).

use meshwork_bundle as b;

use super::emit_bundle;
use crate::diagnostics::{codes, Diagnostic};
use crate::source::{FileId, SourceMap, Span, Spanned};
use crate::syntax::ast::*;

/// A source map whose files have one two-byte line per line number, so `at(file, line)` is easy.
fn sources(paths: &[&str]) -> SourceMap {
    let mut map = SourceMap::new();
    for path in paths {
        map.add(*path, "x\n".repeat(400));
    }
    map
}

fn at(file: u32, line: u32) -> Span {
    let start = 2 * (line as usize - 1);
    Span::new(FileId(file), start, start + 1)
}

fn s(text: &str, span: Span) -> Spanned<String> {
    Spanned::new(text.to_string(), span)
}

fn path(kind: PathKind, value: &str, span: Span) -> crate::syntax::ast::PathMatch {
    crate::syntax::ast::PathMatch {
        kind,
        value: s(value, span),
    }
}

fn matcher(
    method: Option<&str>,
    path: crate::syntax::ast::PathMatch,
    span: Span,
) -> RouteStatement {
    RouteStatement::Match(Box::new(Match {
        grpc: None,
        method: method.map(|m| s(m, span)),
        path,
        host: None,
        headers: Vec::new(),
        query: Vec::new(),
        span,
    }))
}

fn respond(span: Span) -> RouteStatement {
    RouteStatement::Respond(Box::new(Respond {
        status: Spanned::new(200, span),
        body: Some(s("ok", span)),
        content_type: None,
        span,
    }))
}

fn forward(targets: &[(&str, Option<u8>)], span: Span) -> RouteStatement {
    RouteStatement::Forward(Box::new(Forward {
        targets: targets
            .iter()
            .map(|(name, weight)| ForwardTarget {
                service: s(name, span),
                weight: weight.map(|value| Spanned::new(Percent { value }, span)),
            })
            .collect(),
        strip_prefix: None,
        rewrite: None,
        span,
    }))
}

fn route(name: &str, span: Span, statements: Vec<RouteStatement>) -> Route {
    Route {
        name: s(name, span),
        statements,
        span,
    }
}

fn gateway(name: &str, span: Span, routes: Vec<Route>) -> Item {
    Item::Gateway(Gateway {
        name: s(name, span),
        listeners: vec![Listener {
            address: s("127.0.0.1:8080", span),
            tls: None,
            span,
        }],
        consumers: Vec::new(),
        routes,
        path_settings: Vec::new(),
        method_mismatch: None,
        identity: None,
        tracing: None,
        span,
    })
}

fn service(name: &str, span: Span, statements: Vec<ServiceStatement>) -> Item {
    Item::Service(Service {
        name: s(name, span),
        statements,
        span,
    })
}

fn file(items: Vec<Item>) -> File {
    File {
        items,
        comments: Vec::new(),
    }
}

fn emit(map: &SourceMap, files: Vec<(u32, File)>) -> (b::Bundle, Vec<Diagnostic>) {
    let files: Vec<(FileId, File)> = files.into_iter().map(|(id, f)| (FileId(id), f)).collect();
    emit_bundle(map, &files)
}

fn route_names(bundle: &b::Bundle) -> Vec<&str> {
    bundle.gateways[0]
        .routes
        .iter()
        .map(|r| r.name.as_str())
        .collect()
}

#[test]
fn admission_steps_come_out_in_execution_order_whatever_the_line_order() {
    let map = sources(&["a.mesh"]);
    let statements = vec![
        RouteStatement::Header(Box::new(HeaderRule {
            direction: HeaderDirection::Response,
            name: s("X-Out", at(0, 3)),
            value: None,
            span: at(0, 3),
        })),
        RouteStatement::Header(Box::new(HeaderRule {
            direction: HeaderDirection::Request,
            name: s("X-In", at(0, 4)),
            value: Some(s("1", at(0, 4))),
            span: at(0, 4),
        })),
        RouteStatement::BodyLimit(Spanned::new(Size { bytes: 1024 }, at(0, 5))),
        RouteStatement::When(Cel {
            source: "request.method == \"GET\"".to_string(),
            span: at(0, 6),
        }),
        RouteStatement::RateLimit(Box::new(RateLimit {
            rate: Spanned::new(
                Rate {
                    count: 5,
                    period: RatePeriod::Minute,
                },
                at(0, 7),
            ),
            key: RateLimitKey::Consumer,
            burst: None,
            shared: false,
            fail: None,
            span: at(0, 7),
        })),
        RouteStatement::Access(AccessRule {
            effect: Effect::Deny,
            subject: AccessSubject::Ips,
            values: vec![s("10.0.0.0/8", at(0, 8))],
            span: at(0, 8),
        }),
        RouteStatement::Auth(Box::new(Auth {
            kind: AuthKind::Key {
                location: KeyLocation::Header,
                name: s("X-Api-Key", at(0, 9)),
            },
            span: at(0, 9),
        })),
        matcher(
            Some("GET"),
            path(PathKind::Exact, "/a", at(0, 10)),
            at(0, 10),
        ),
        respond(at(0, 11)),
    ];
    let (bundle, diagnostics) = emit(
        &map,
        vec![(
            0,
            file(vec![gateway(
                "g",
                at(0, 1),
                vec![route("r", at(0, 2), statements)],
            )]),
        )],
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let steps: Vec<String> = bundle.gateways[0].routes[0]
        .admission
        .iter()
        .map(|step| {
            serde_json::to_value(step).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        steps,
        [
            "auth",
            "access",
            "rate_limit",
            "condition",
            "body_limit",
            "header",
            "header"
        ]
    );
    let b::AdmissionStep::Header { name, source, .. } = &bundle.gateways[0].routes[0].admission[5]
    else {
        panic!("expected a header step");
    };
    assert_eq!(
        (name.as_str(), source.line),
        ("x-in", 4),
        "request headers before response headers"
    );
    let b::AdmissionStep::RateLimit { period_ms, .. } = &bundle.gateways[0].routes[0].admission[2]
    else {
        panic!("expected a rate limit");
    };
    assert_eq!(*period_ms, 60_000);
}

fn simple_route(name: &str, file: u32, line: u32, kind: PathKind, value: &str) -> Route {
    route(
        name,
        at(file, line),
        vec![
            matcher(None, path(kind, value, at(file, line)), at(file, line)),
            respond(at(file, line)),
        ],
    )
}

#[test]
fn routes_are_sorted_by_precedence_then_by_file_path_and_offset() {
    let map = sources(&["b.mesh", "a.mesh"]);
    let in_b = file(vec![gateway(
        "edge",
        at(0, 1),
        vec![
            simple_route("b_catch_all", 0, 2, PathKind::Prefix, "/"),
            simple_route("b_api", 0, 3, PathKind::Prefix, "/api"),
        ],
    )]);
    let in_a = file(vec![gateway(
        "edge",
        at(1, 50),
        vec![
            simple_route("a_catch_all", 1, 60, PathKind::Prefix, "/"),
            simple_route("a_user", 1, 61, PathKind::Exact, "/users/{id}"),
            simple_route("a_ping", 1, 62, PathKind::Exact, "/ping"),
        ],
    )]);
    let (bundle, diagnostics) = emit(&map, vec![(0, in_b), (1, in_a)]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(bundle.gateways.len(), 1, "same-named gateways merge");
    assert_eq!(
        route_names(&bundle),
        ["a_ping", "a_user", "b_api", "a_catch_all", "b_catch_all"]
    );
    let user = &bundle.gateways[0].routes[1];
    assert_eq!(user.matcher.path.kind, b::PathKind::Template);
    assert_eq!(user.matcher.path.params, ["id"]);
    assert_eq!(
        bundle.gateways[0].source.file, "a.mesh",
        "the first declaration in program order"
    );
    assert_eq!(bundle.gateways[0].listeners.len(), 2);
}

fn program() -> (SourceMap, Vec<(u32, File)>) {
    let map = sources(&["z.mesh", "m.mesh"]);
    let z = file(vec![
        service(
            "zeta",
            at(0, 1),
            vec![ServiceStatement::Endpoints(Spanned::new(
                vec![s("127.0.0.1:1", at(0, 1))],
                at(0, 1),
            ))],
        ),
        gateway(
            "g",
            at(0, 2),
            vec![simple_route("one", 0, 3, PathKind::Prefix, "/")],
        ),
    ]);
    let m = file(vec![
        service("alpha", at(1, 1), Vec::new()),
        gateway(
            "g",
            at(1, 2),
            vec![simple_route("two", 1, 3, PathKind::Prefix, "/")],
        ),
        Item::Topic(Topic {
            name: s("t", at(1, 4)),
            external: true,
            partitions: None,
            schema: None,
            span: at(1, 4),
        }),
    ]);
    (map, vec![(0, z), (1, m)])
}

#[test]
fn the_bundle_is_byte_identical_whatever_the_file_order() {
    let (map, files) = program();
    let (forward_order, _) = emit(&map, files.clone());
    let (reverse_order, _) = emit(&map, files.into_iter().rev().collect());
    assert_eq!(
        forward_order.to_pretty_json(),
        reverse_order.to_pretty_json()
    );
    let names: Vec<&str> = forward_order
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert_eq!(
        route_names(&forward_order),
        ["two", "one"],
        "m.mesh comes before z.mesh"
    );
    let paths: Vec<&str> = forward_order
        .sources
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(paths, ["m.mesh", "z.mesh"]);
}

#[test]
fn the_bundle_is_sealed_and_valid_against_the_committed_schema() {
    let (map, files) = program();
    let (bundle, _) = emit(&map, files);
    assert_eq!(bundle.verify_digest(), Ok(()));
    let schema: serde_json::Value = serde_json::from_str(meshwork_bundle::BUNDLE_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let document: serde_json::Value = serde_json::from_str(&bundle.to_pretty_json()).unwrap();
    assert!(validator.is_valid(&document));
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest("x\n".repeat(400)))
    };
    assert_eq!(bundle.sources[0].sha256, expected);
}

#[test]
fn source_locations_are_one_based_line_and_column() {
    let mut map = SourceMap::new();
    map.add("loc.mesh", "gateway g {\n  route r {}\n}\n".to_string());
    let route_span = Span::new(FileId(0), 14, 24);
    let r = route(
        "r",
        route_span,
        vec![
            matcher(None, path(PathKind::Exact, "/", route_span), route_span),
            respond(route_span),
        ],
    );
    let (bundle, _) = emit(
        &map,
        vec![(
            0,
            file(vec![gateway("g", Span::new(FileId(0), 0, 1), vec![r])]),
        )],
    );
    let source = &bundle.gateways[0].routes[0].source;
    assert_eq!(
        (source.file.as_str(), source.line, source.column),
        ("loc.mesh", 2, 3)
    );
}

#[test]
fn unweighted_forward_targets_share_what_is_left_of_100() {
    let map = sources(&["a.mesh"]);
    let r = route(
        "r",
        at(0, 2),
        vec![
            matcher(None, path(PathKind::Prefix, "/", at(0, 2)), at(0, 2)),
            forward(
                &[("a", None), ("b", Some(10)), ("c", None), ("d", None)],
                at(0, 3),
            ),
            RouteStatement::Timeout(Spanned::new(Duration { millis: 750 }, at(0, 4))),
        ],
    );
    let (bundle, _) = emit(&map, vec![(0, file(vec![gateway("g", at(0, 1), vec![r])]))]);
    let b::RouteAction::Forward {
        targets,
        timeout_ms,
        ..
    } = &bundle.gateways[0].routes[0].action
    else {
        panic!("expected a forward");
    };
    let weights: Vec<u8> = targets.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [30, 10, 30, 30]);
    assert_eq!(*timeout_ms, Some(750));
}

#[test]
fn a_route_without_an_action_or_match_is_reported_not_emitted() {
    let map = sources(&["a.mesh"]);
    let no_action = route(
        "r",
        at(0, 2),
        vec![matcher(
            None,
            path(PathKind::Exact, "/", at(0, 2)),
            at(0, 2),
        )],
    );
    let no_match = route("q", at(0, 3), vec![respond(at(0, 3))]);
    let (bundle, diagnostics) = emit(
        &map,
        vec![(
            0,
            file(vec![gateway("g", at(0, 1), vec![no_action, no_match])]),
        )],
    );
    assert!(bundle.gateways[0].routes.is_empty());
    assert_eq!(diagnostics.len(), 2);
    assert!(diagnostics
        .iter()
        .all(|d| d.code == &codes::MISSING_SETTING));
}

#[test]
fn two_actions_are_a_conflict() {
    let map = sources(&["a.mesh"]);
    let r = route(
        "r",
        at(0, 2),
        vec![
            matcher(None, path(PathKind::Exact, "/", at(0, 2)), at(0, 2)),
            respond(at(0, 3)),
            forward(&[("a", None)], at(0, 4)),
        ],
    );
    let (_, diagnostics) = emit(&map, vec![(0, file(vec![gateway("g", at(0, 1), vec![r])]))]);
    assert_eq!(diagnostics[0].code, &codes::CONFLICTING_ACTIONS);
}

#[test]
fn secrets_become_references_and_inline_secrets_are_refused() {
    let map = sources(&["a.mesh"]);
    let Item::Gateway(mut g) = gateway("g", at(0, 1), Vec::new()) else {
        unreachable!()
    };
    g.consumers.push(Consumer {
        name: s("picard", at(0, 2)),
        credentials: vec![
            Spanned::new(
                CredentialKind::Key(Spanned::new(
                    SecretSource::Env("PICARD_KEY".to_string()),
                    at(0, 2),
                )),
                at(0, 2),
            ),
            Spanned::new(
                CredentialKind::Key(Spanned::new(
                    SecretSource::Inline("hunter2".to_string()),
                    at(0, 3),
                )),
                at(0, 3),
            ),
        ],
        groups: vec![
            s("officers", at(0, 2)),
            s("captains", at(0, 2)),
            s("officers", at(0, 2)),
        ],
        span: at(0, 2),
    });
    let (bundle, diagnostics) = emit(&map, vec![(0, file(vec![Item::Gateway(g)]))]);
    let consumer = &bundle.gateways[0].consumers[0];
    assert_eq!(
        consumer.credentials[0],
        b::Credential::Key {
            secret: b::SecretRef::Env("PICARD_KEY".to_string())
        }
    );
    assert_eq!(consumer.groups, ["captains", "officers"]);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, &codes::INLINE_SECRET);
    assert!(!bundle.to_canonical_json().contains("hunter2"));
}

#[test]
fn service_defaults_are_made_explicit() {
    let map = sources(&["a.mesh"]);
    let svc = service(
        "picard",
        at(0, 1),
        vec![
            ServiceStatement::Balance(Spanned::new(
                Balance::Hash(Cel {
                    source: "request.headers[\"x-user\"]".to_string(),
                    span: at(0, 2),
                }),
                at(0, 2),
            )),
            ServiceStatement::Retry(Retry {
                attempts: Spanned::new(3, at(0, 3)),
                on: Vec::new(),
                backoff: None,
                budget: None,
                span: at(0, 3),
            }),
        ],
    );
    let (bundle, _) = emit(&map, vec![(0, file(vec![svc]))]);
    let service = &bundle.services[0];
    assert_eq!(service.timeout_ms, super::DEFAULT_TIMEOUT_MS);
    assert_eq!(
        service.balance,
        b::Balance::Hash {
            cel: "request.headers[\"x-user\"]".to_string()
        }
    );
    let retry = service.retry.as_ref().unwrap();
    assert_eq!(
        retry.on,
        [
            b::RetryOn::Condition(b::RetryCondition::ConnectFailure),
            b::RetryOn::Condition(b::RetryCondition::Reset)
        ]
    );
    assert_eq!((retry.backoff_min_ms, retry.backoff_max_ms), (25, 250));
    assert!(service.circuit_breaker.is_none() && service.health_check.is_none());
}

#[test]
fn mesh_rules_keep_program_order_and_streams_default_their_group() {
    let map = sources(&["a.mesh"]);
    let rule = |from: &str, line: u32| {
        MeshStatement::Rule(MeshRule {
            effect: Effect::Allow,
            source: s(from, at(0, line)),
            targets: vec![s("b", at(0, line))],
            when: None,
            span: at(0, line),
        })
    };
    let items = vec![
        Item::Mesh(Mesh {
            statements: vec![
                rule("zed", 2),
                MeshStatement::Default(Spanned::new(Effect::Deny, at(0, 3))),
                rule("amy", 4),
            ],
            span: at(0, 1),
        }),
        Item::Stream(Stream {
            name: s("alerts", at(0, 10)),
            statements: vec![StreamStatement::From {
                topic: s("log", at(0, 11)),
                group: None,
                span: at(0, 11),
            }],
            span: at(0, 10),
        }),
        Item::Stream(Stream {
            name: s("broken", at(0, 20)),
            statements: Vec::new(),
            span: at(0, 20),
        }),
    ];
    let (bundle, diagnostics) = emit(&map, vec![(0, file(items))]);
    assert_eq!(bundle.mesh.default, b::Effect::Deny);
    let froms: Vec<&str> = bundle.mesh.rules.iter().map(|r| r.from.as_str()).collect();
    assert_eq!(froms, ["zed", "amy"]);
    assert_eq!(bundle.streams.len(), 1);
    assert_eq!(bundle.streams[0].from.group, "alerts");
    assert_eq!(diagnostics.len(), 1, "a stream without `from` is reported");
}
