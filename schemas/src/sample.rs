//! A small sealed bundle holding every kind of item, for tests of code that reads bundles
//! (the runtime must not depend on the compiler, so it cannot compile one).

use crate::types::bundle::{Bundle, CompilerInfo, Effect, SecretRef, SourceDigest, SourceLocation};
use crate::types::gateway::{
    Consumer, Credential, Gateway, Listener, ListenerTls, MethodMismatch, PathPolicy,
};
use crate::types::graph::{EdgeKind, Graph, GraphEdge, GraphNode, NodeKind};
use crate::types::mesh::{Mesh, MeshFault, MeshMirror, MeshRule, MtlsMode, SidecarHop};
use crate::types::route::{
    AccessSubject, Acks, AdmissionStep, AuthMethod, FaultAction, ForwardTarget, HeaderDirection,
    KeyLocation, NameValue, PathKind, PathMatch, ProduceMode, ProduceTopic, RateLimitKey, Route,
    RouteAction, RouteMatch, StoreFailure, ValueFormat,
};
use crate::types::service::{
    Balance, CircuitBreaker, HealthCheck, Protocol, Retry, RetryCondition, RetryOn, Service,
};
use crate::types::stream::{Deliver, Stream, StreamSink, StreamSource, Topic};

fn at(line: u32, column: u32) -> SourceLocation {
    SourceLocation {
        file: "edge.mesh".to_string(),
        line,
        column,
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn matcher(method: Option<&str>, kind: PathKind, path: &str, params: &[&str]) -> RouteMatch {
    RouteMatch {
        method: method.map(str::to_string),
        path: PathMatch {
            kind,
            value: path.to_string(),
            params: strings(params),
        },
        host: None,
        headers: Vec::new(),
        query: Vec::new(),
    }
}

fn officers_route() -> Route {
    Route {
        name: "officers".to_string(),
        matcher: RouteMatch {
            host: Some("api.starfleet.test".to_string()),
            headers: vec![NameValue {
                name: "x-ship".to_string(),
                value: "enterprise".to_string(),
            }],
            query: vec![NameValue {
                name: "v".to_string(),
                value: "2".to_string(),
            }],
            ..matcher(Some("GET"), PathKind::Template, "/officers/{id}", &["id"])
        },
        public: false,
        admission: vec![
            AdmissionStep::Auth {
                method: AuthMethod::Key {
                    location: KeyLocation::Header,
                    name: "x-api-key".to_string(),
                },
                source: at(8, 5),
            },
            AdmissionStep::Access {
                effect: Effect::Allow,
                subject: AccessSubject::Groups,
                values: strings(&["captains", "officers"]),
                source: at(9, 5),
            },
            AdmissionStep::RateLimit {
                count: 5,
                period_ms: 60_000,
                per: RateLimitKey::Consumer,
                burst: None,
                shared: false,
                on_store_failure: StoreFailure::Local,
                source: at(10, 5),
            },
            AdmissionStep::Condition {
                cel: "request.headers[\"x-stardate\"] != \"\"".to_string(),
                source: at(11, 10),
            },
            AdmissionStep::Cors {
                origins: strings(&["https://starfleet.test"]),
                methods: strings(&["GET"]),
                headers: strings(&["x-api-key"]),
                expose: Vec::new(),
                credentials: true,
                max_age_ms: Some(600_000),
                source: at(12, 5),
            },
            AdmissionStep::BodyLimit {
                max_bytes: 1_048_576,
                source: at(13, 5),
            },
            AdmissionStep::Header {
                direction: HeaderDirection::Request,
                name: "x-source".to_string(),
                value: Some("edge".to_string()),
                source: at(14, 5),
            },
        ],
        action: RouteAction::Forward {
            mirror: None,
            targets: vec![ForwardTarget {
                service: "picard".to_string(),
                weight: 100,
            }],
            strip_prefix: Some("/officers".to_string()),
            rewrite: None,
            timeout_ms: Some(2_000),
            idempotent: false,
            websocket: None,
        },
        source: at(7, 3),
    }
}

fn log_route() -> Route {
    Route {
        name: "captains_log".to_string(),
        matcher: matcher(Some("POST"), PathKind::Exact, "/log", &[]),
        public: false,
        admission: vec![AdmissionStep::Auth {
            method: AuthMethod::Jwt {
                issuer: Some("https://id.starfleet.test".to_string()),
                audience: None,
                alg: Some("RS256".to_string()),
                keys: Some(SecretRef::File("jwks.json".to_string())),
                secret: None,
            },
            source: at(18, 5),
        }],
        action: RouteAction::Produce {
            topic: ProduceTopic::Fixed {
                name: "captains-log".to_string(),
            },
            key: Some("request.headers[\"x-ship\"]".to_string()),
            value: ValueFormat::Raw,
            headers: strings(&["x-ship"]),
            acks: Acks::All,
            mode: ProduceMode::Sync,
            timeout_ms: None,
        },
        source: at(17, 3),
    }
}

fn ping_route() -> Route {
    Route {
        name: "ping".to_string(),
        matcher: matcher(None, PathKind::Prefix, "/ping", &[]),
        public: true,
        admission: Vec::new(),
        action: RouteAction::Respond {
            status: 200,
            body: "pong".to_string(),
            content_type: "text/plain; charset=utf-8".to_string(),
        },
        source: at(22, 3),
    }
}

fn edge_gateway() -> Gateway {
    Gateway {
        name: "edge".to_string(),
        listeners: vec![Listener {
            address: "0.0.0.0:8443".to_string(),
            tls: Some(ListenerTls {
                cert: SecretRef::File("edge.crt".to_string()),
                key: SecretRef::Env("EDGE_KEY".to_string()),
            }),
            source: at(2, 3),
        }],
        consumers: vec![
            Consumer {
                name: "picard".to_string(),
                credentials: vec![
                    Credential::Key {
                        secret: SecretRef::Env("PICARD_KEY".to_string()),
                    },
                    Credential::Basic {
                        user: "jl".to_string(),
                        password: SecretRef::File("picard.pw".to_string()),
                    },
                ],
                groups: strings(&["captains"]),
                source: at(4, 3),
            },
            Consumer {
                name: "riker".to_string(),
                credentials: vec![Credential::Jwt {
                    subject: "riker".to_string(),
                }],
                groups: strings(&["officers"]),
                source: at(5, 3),
            },
        ],
        routes: vec![officers_route(), log_route(), ping_route()],
        path_policy: PathPolicy::default(),
        method_mismatch: MethodMismatch::NotFound,
        identity: Some("spiffe://starfleet/edge".to_string()),
        tracing: None,
        source: at(1, 1),
    }
}

fn services() -> Vec<Service> {
    vec![
        Service {
            name: "picard".to_string(),
            endpoints: strings(&["127.0.0.1:9101", "127.0.0.1:9102"]),
            balance: Balance::Hash {
                cel: "request.headers[\"x-user\"]".to_string(),
            },
            timeout_ms: 2_000,
            retry: Some(Retry {
                attempts: 3,
                on: vec![
                    RetryOn::Condition(RetryCondition::ConnectFailure),
                    RetryOn::Status(503),
                ],
                backoff_min_ms: 25,
                backoff_max_ms: 250,
                budget: None,
            }),
            circuit_breaker: Some(CircuitBreaker {
                consecutive_errors: 5,
                eject_ms: 30_000,
                max_ejected_percent: 50,
                failure_percentage: None,
                success_rate: None,
                latency: None,
                interval_ms: None,
                max_requests: None,
            }),
            health_check: Some(HealthCheck {
                grpc_service: None,
                method: "GET".to_string(),
                path: "/healthz".to_string(),
                interval_ms: 5_000,
                timeout_ms: 1_000,
                healthy_threshold: 1,
                unhealthy_threshold: 3,
            }),
            identity: Some("spiffe://starfleet/picard".to_string()),
            protocol: Protocol::Http1,
            source: at(26, 1),
        },
        Service {
            name: "riker".to_string(),
            endpoints: strings(&["127.0.0.1:9103"]),
            balance: Balance::RoundRobin,
            timeout_ms: 15_000,
            retry: None,
            circuit_breaker: None,
            health_check: None,
            identity: Some("spiffe://starfleet/riker".to_string()),
            protocol: Protocol::H2c,
            source: at(34, 1),
        },
    ]
}

/// A corner of the verified graph: the edge gateway admitting a route that forwards to picard.
fn graph() -> Graph {
    let edge = |to: &str, kind: EdgeKind, label: Option<&str>| GraphEdge {
        to: to.to_string(),
        kind,
        label: label.map(str::to_string),
    };
    let node = |id: &str, kind: NodeKind, name: &str, edges: Vec<GraphEdge>| GraphNode {
        id: id.to_string(),
        kind,
        name: name.to_string(),
        edges,
    };
    Graph {
        nodes: vec![
            node(
                "endpoint:picard/127.0.0.1:9101",
                NodeKind::Endpoint,
                "127.0.0.1:9101",
                vec![],
            ),
            node(
                "gateway:edge",
                NodeKind::Gateway,
                "edge",
                vec![
                    edge("route:edge/officers", EdgeKind::Admits, None),
                    edge(
                        "service:picard",
                        EdgeKind::Allows,
                        Some("request.method == \"GET\""),
                    ),
                ],
            ),
            node(
                "route:edge/officers",
                NodeKind::Route,
                "officers",
                vec![edge("service:picard", EdgeKind::Forwards, Some("100%"))],
            ),
            node(
                "service:picard",
                NodeKind::Service,
                "picard",
                vec![edge(
                    "endpoint:picard/127.0.0.1:9101",
                    EdgeKind::Balances,
                    None,
                )],
            ),
        ],
    }
}

/// A sealed bundle modelled on the `starfleet` example, using every kind of step, action and item.
pub fn starfleet_bundle() -> Bundle {
    let mut bundle = Bundle::new(CompilerInfo {
        name: "meshc".to_string(),
        version: "0.1.0".to_string(),
    });
    bundle.sources = vec![SourceDigest {
        path: "edge.mesh".to_string(),
        sha256: "0".repeat(64),
    }];
    bundle.gateways = vec![edge_gateway()];
    bundle.services = services();
    bundle.mesh = Mesh {
        default: Effect::Deny,
        default_source: Some(at(37, 3)),
        mtls: MtlsMode::Strict,
        trust_domain: Some("starfleet".to_string()),
        rules: vec![MeshRule {
            effect: Effect::Allow,
            from: "edge".to_string(),
            to: strings(&["picard", "riker"]),
            when: Some("request.method == \"GET\"".to_string()),
            source: at(38, 3),
        }],
        faults: vec![MeshFault {
            from: "edge".to_string(),
            to: strings(&["riker"]),
            action: FaultAction::Delay { delay_ms: 200 },
            percent: 5,
            when: Some("request.headers[\"x-chaos\"] == \"on\"".to_string()),
            source: at(39, 3),
        }],
        mirrors: vec![MeshMirror {
            from: "riker".to_string(),
            to: strings(&["picard"]),
            mirror: crate::types::route::RouteMirror {
                service: "picard".to_string(),
                percent: 10,
                max_body_bytes: 65_536,
                queue: 64,
            },
            source: at(40, 3),
        }],
        between_sidecars: SidecarHop::Http1,
    };
    bundle.topics = vec![Topic {
        name: "captains-log".to_string(),
        external: false,
        partitions: Some(3),
        schema: None,
        source: at(41, 1),
    }];
    bundle.streams = vec![Stream {
        name: "red_alerts".to_string(),
        from: StreamSource {
            topic: "captains-log".to_string(),
            group: "alerts".to_string(),
        },
        when: Some("event.value.severity == \"red\"".to_string()),
        to: Some(StreamSink {
            topic: "red-alerts".to_string(),
            key: Some("event.key".to_string()),
            value: None,
            exactly_once: false,
        }),
        deliver: Some(Deliver {
            service: "riker".to_string(),
            path: "/alerts".to_string(),
            concurrency: 4,
            retry: 3,
            backoff_min_ms: 100,
            backoff_max_ms: 1_000,
        }),
        dead_letter: Some("captains-log-dlq".to_string()),
        source: at(43, 1),
    }];
    bundle.graph = graph();
    bundle.seal();
    bundle
}
