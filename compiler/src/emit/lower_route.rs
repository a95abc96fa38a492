//! Routes: the match, the admission steps in execution order, and the action.
//!
//! Single-valued statements written twice keep the first one (duplicates are the checker's
//! business); a route without `match` or without an action is reported and left out.

use meshwork_bundle::{
    AccessSubject, Acks, AdmissionStep, AuthMethod, Effect, FaultAction, HeaderDirection,
    KeyLocation, ProduceMode, ProduceTopic, RateLimitKey, Route, RouteAction, RouteMirror,
    RouteUpgrades, StoreFailure, ValueFormat,
};

use super::context::EmitContext;
use crate::diagnostics::{codes, Diagnostic};
use crate::syntax::ast::{self, RouteStatement};

/// The `Content-Type` of a `respond` body when none is given.
pub const DEFAULT_RESPOND_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// Lowers one route, or reports why it cannot run and returns `None`.
pub fn lower_route(cx: &mut EmitContext, route: &ast::Route) -> Option<Route> {
    let matcher = route.statements.iter().find_map(|s| match s {
        RouteStatement::Match(m) => Some(m),
        _ => None,
    });
    let actions: Vec<&RouteStatement> = route
        .statements
        .iter()
        .filter(|s| {
            matches!(
                s,
                RouteStatement::Forward(_)
                    | RouteStatement::Produce(_)
                    | RouteStatement::Respond(_)
            )
        })
        .collect();
    let Some(matcher) = matcher else {
        cx.missing(route.name.span, "a `match`", "add `match METHOD \"/path\"`");
        return None;
    };
    let Some(action_statement) = actions.first() else {
        cx.missing(
            route.name.span,
            "an action",
            "add `forward SERVICE`, `produce topic \"T\"` or `respond STATUS`",
        );
        return None;
    };
    if let Some(extra) = actions.get(1) {
        cx.diagnostics.push(
            Diagnostic::error(
                &codes::CONFLICTING_ACTIONS,
                "a route has more than one action",
            )
            .with_label(extra.span(), "second action")
            .with_label(action_statement.span(), "first action")
            .with_help("split the route in two, or remove one action"),
        );
        return None;
    }
    let timeout_ms = route.statements.iter().find_map(|s| match s {
        RouteStatement::Timeout(t) => Some(t.node.millis),
        _ => None,
    });
    Some(Route {
        name: route.name.node.clone(),
        matcher: crate::resolve::route_match::lower_match(matcher),
        public: route
            .statements
            .iter()
            .any(|s| matches!(s, RouteStatement::Public(_))),
        admission: lower_admission(cx, &route.statements),
        action: lower_action(action_statement, timeout_ms, route)?,
        source: cx.location(route.span),
    })
}

/// The admission steps in execution order (auth → access → rate_limit → condition → cors →
/// body_limit → fault → request headers → response headers), each kind keeping source order.
fn lower_admission(cx: &mut EmitContext, statements: &[RouteStatement]) -> Vec<AdmissionStep> {
    let mut steps = Vec::new();
    if let Some(auth) = statements.iter().find_map(|s| match s {
        RouteStatement::Auth(a) => Some(a),
        _ => None,
    }) {
        steps.push(AdmissionStep::Auth {
            method: lower_auth(cx, &auth.kind),
            source: cx.location(auth.span),
        });
    }
    for statement in statements {
        if let RouteStatement::Access(rule) = statement {
            steps.push(lower_access(cx, rule));
        }
    }
    for statement in statements {
        if let RouteStatement::RateLimit(limit) = statement {
            steps.push(lower_rate_limit(cx, limit));
        }
    }
    for statement in statements {
        if let RouteStatement::When(cel) = statement {
            steps.push(AdmissionStep::Condition {
                cel: cel.source.clone(),
                source: cx.location(cel.span),
            });
        }
    }
    if let Some(cors) = statements.iter().find_map(|s| match s {
        RouteStatement::Cors(c) => Some(c),
        _ => None,
    }) {
        steps.push(lower_cors(cx, cors));
    }
    if let Some(limit) = statements.iter().find_map(|s| match s {
        RouteStatement::BodyLimit(b) => Some(b),
        _ => None,
    }) {
        steps.push(AdmissionStep::BodyLimit {
            max_bytes: limit.node.bytes,
            source: cx.location(limit.span),
        });
    }
    for statement in statements {
        if let RouteStatement::Fault(fault) = statement {
            steps.push(lower_fault(cx, fault));
        }
    }
    for direction in [
        ast::HeaderDirection::Request,
        ast::HeaderDirection::Response,
    ] {
        for statement in statements {
            if let RouteStatement::Header(rule) = statement {
                if rule.direction == direction {
                    steps.push(lower_header(cx, rule));
                }
            }
        }
    }
    steps
}

/// Istio's and Envoy's defaults are "every request, whole body"; a gateway must bound both.
/// The largest body copied when `max_body` is not written.
pub const DEFAULT_MIRROR_MAX_BODY: u64 = 64 * 1024;
/// The copies in flight when `queue` is not written.
pub const DEFAULT_MIRROR_QUEUE: u64 = 64;

fn lower_mirror(mirror: &ast::Mirror) -> RouteMirror {
    RouteMirror {
        service: mirror.service.node.clone(),
        percent: mirror.percent.as_ref().map_or(100, |p| p.node.value),
        max_body_bytes: mirror
            .max_body
            .as_ref()
            .map_or(DEFAULT_MIRROR_MAX_BODY, |s| s.node.bytes),
        queue: mirror
            .queue
            .as_ref()
            .map_or(DEFAULT_MIRROR_QUEUE, |q| q.node),
    }
}

/// A `fault` line: delays before aborts is the runtime's business; here each keeps its line.
fn lower_fault(cx: &mut EmitContext, fault: &ast::Fault) -> AdmissionStep {
    AdmissionStep::Fault {
        action: lower_fault_action(&fault.kind),
        percent: fault.percent.node.value,
        when: fault.when.as_ref().map(|c| c.source.clone()),
        source: cx.location(fault.span),
    }
}

/// What a fault does, as the bundle says it (route and mesh-pair faults alike).
pub(super) fn lower_fault_action(kind: &ast::FaultKind) -> FaultAction {
    match kind {
        ast::FaultKind::Abort(status) => FaultAction::Abort {
            status: status.node,
        },
        ast::FaultKind::Delay(delay) => FaultAction::Delay {
            delay_ms: delay.node.millis,
        },
    }
}

fn lower_auth(cx: &mut EmitContext, auth: &ast::AuthKind) -> AuthMethod {
    match auth {
        ast::AuthKind::Key { location, name } => AuthMethod::Key {
            location: match location {
                ast::KeyLocation::Header => KeyLocation::Header,
                ast::KeyLocation::Query => KeyLocation::Query,
            },
            name: match location {
                ast::KeyLocation::Header => name.node.to_ascii_lowercase(),
                ast::KeyLocation::Query => name.node.clone(),
            },
        },
        ast::AuthKind::Basic { realm } => AuthMethod::Basic {
            realm: realm.as_ref().map(|r| r.node.clone()),
        },
        ast::AuthKind::Jwt(jwt) => AuthMethod::Jwt {
            issuer: jwt.issuer.as_ref().map(|s| s.node.clone()),
            audience: jwt.audience.as_ref().map(|s| s.node.clone()),
            alg: jwt.alg.as_ref().map(|s| s.node.clone()),
            keys: jwt.keys.as_ref().map(|s| cx.secret(s)),
            secret: jwt.secret.as_ref().map(|s| cx.secret(s)),
        },
    }
}

fn lower_access(cx: &EmitContext, rule: &ast::AccessRule) -> AdmissionStep {
    AdmissionStep::Access {
        effect: lower_effect(rule.effect),
        subject: match rule.subject {
            ast::AccessSubject::Consumers => AccessSubject::Consumers,
            ast::AccessSubject::Groups => AccessSubject::Groups,
            ast::AccessSubject::Ips => AccessSubject::Ips,
        },
        values: rule.values.iter().map(|v| v.node.clone()).collect(),
        source: cx.location(rule.span),
    }
}

/// The bundle's allow/deny.
pub fn lower_effect(effect: ast::Effect) -> Effect {
    match effect {
        ast::Effect::Allow => Effect::Allow,
        ast::Effect::Deny => Effect::Deny,
    }
}

fn lower_rate_limit(cx: &EmitContext, limit: &ast::RateLimit) -> AdmissionStep {
    AdmissionStep::RateLimit {
        count: limit.rate.node.count,
        period_ms: limit.rate.node.period.millis(),
        per: match limit.key {
            ast::RateLimitKey::Consumer => RateLimitKey::Consumer,
            ast::RateLimitKey::Ip => RateLimitKey::Ip,
            ast::RateLimitKey::Route => RateLimitKey::Route,
        },
        burst: limit.burst.as_ref().map(|b| b.node),
        shared: limit.shared,
        on_store_failure: match limit.fail {
            None | Some(ast::StoreFailure::Local) => StoreFailure::Local,
            Some(ast::StoreFailure::Open) => StoreFailure::Open,
            Some(ast::StoreFailure::Closed) => StoreFailure::Closed,
        },
        source: cx.location(limit.span),
    }
}

fn lower_cors(cx: &EmitContext, cors: &ast::Cors) -> AdmissionStep {
    let strings =
        |list: &[crate::source::Spanned<String>]| list.iter().map(|s| s.node.clone()).collect();
    AdmissionStep::Cors {
        origins: strings(&cors.origins),
        methods: strings(&cors.methods),
        headers: strings(&cors.headers),
        expose: strings(&cors.expose),
        credentials: cors.credentials,
        max_age_ms: cors.max_age.as_ref().map(|d| d.node.millis),
        source: cx.location(cors.span),
    }
}

fn lower_header(cx: &EmitContext, rule: &ast::HeaderRule) -> AdmissionStep {
    AdmissionStep::Header {
        direction: match rule.direction {
            ast::HeaderDirection::Request => HeaderDirection::Request,
            ast::HeaderDirection::Response => HeaderDirection::Response,
        },
        name: rule.name.node.to_ascii_lowercase(),
        value: rule.value.as_ref().map(|v| v.node.clone()),
        source: cx.location(rule.span),
    }
}

fn lower_action(
    statement: &RouteStatement,
    timeout_ms: Option<u64>,
    route: &ast::Route,
) -> Option<RouteAction> {
    match statement {
        RouteStatement::Forward(forward) => Some(RouteAction::Forward {
            targets: crate::resolve::traffic_split::split_weights(&forward.targets),
            strip_prefix: forward.strip_prefix.as_ref().map(|s| s.node.clone()),
            rewrite: forward.rewrite.as_ref().map(|s| s.node.clone()),
            timeout_ms,
            idempotent: route.is_idempotent(),
            mirror: route.mirror().map(lower_mirror),
            websocket: route.websocket().map(lower_websocket),
        }),
        RouteStatement::Produce(produce) => Some(lower_produce(produce, timeout_ms)),
        RouteStatement::Respond(respond) => Some(RouteAction::Respond {
            status: respond.status.node,
            body: respond
                .body
                .as_ref()
                .map(|b| b.node.clone())
                .unwrap_or_default(),
            content_type: respond
                .content_type
                .as_ref()
                .map(|c| c.node.clone())
                .unwrap_or_else(|| DEFAULT_RESPOND_CONTENT_TYPE.to_string()),
        }),
        _ => None,
    }
}

/// A route's `websocket` line: what it states, the defaults for the rest.
fn lower_websocket(websocket: &ast::WebSocket) -> RouteUpgrades {
    let defaults = RouteUpgrades::default();
    RouteUpgrades {
        allowed: websocket.allowed,
        max: websocket
            .max
            .as_ref()
            .map_or(defaults.max, |m| u32::try_from(m.node).unwrap_or(u32::MAX)),
        idle_ms: websocket
            .idle
            .as_ref()
            .map_or(defaults.idle_ms, |d| d.node.millis),
    }
}

fn lower_produce(produce: &ast::Produce, timeout_ms: Option<u64>) -> RouteAction {
    RouteAction::Produce {
        topic: match &produce.topic {
            ast::TopicRef::Fixed(name) => ProduceTopic::Fixed {
                name: name.node.clone(),
            },
            ast::TopicRef::Param { param, allow } => ProduceTopic::Param {
                param: param.node.clone(),
                allow: allow
                    .as_ref()
                    .map(|list| list.iter().map(|t| t.node.clone()).collect()),
            },
        },
        key: produce.key.as_ref().map(|k| k.source.clone()),
        value: match produce.value.as_ref().map(|v| v.node) {
            Some(ast::ValueFormat::Envelope) => ValueFormat::Envelope,
            Some(ast::ValueFormat::Raw) | None => ValueFormat::Raw,
        },
        headers: produce
            .headers
            .iter()
            .map(|h| h.node.to_ascii_lowercase())
            .collect(),
        acks: match produce.acks.as_ref().map(|a| a.node) {
            Some(ast::Acks::None) => Acks::None,
            Some(ast::Acks::Leader) => Acks::Leader,
            Some(ast::Acks::All) | None => Acks::All,
        },
        mode: match produce.mode.as_ref().map(|m| m.node) {
            Some(ast::ProduceMode::Async) => ProduceMode::Async,
            Some(ast::ProduceMode::Sync) | None => ProduceMode::Sync,
        },
        timeout_ms,
    }
}
