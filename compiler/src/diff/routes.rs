//! Gateways and their routes: routes added, removed, re-matched or re-ordered (each with a
//! sample request whose answer changes), their admission ([`super::admission`]) and where
//! admitted requests go.

use meshwork_bundle::{compare_routes, Bundle, Gateway, Route, RouteAction};

use crate::explain::render::describe_match;
use crate::reach::route_callers;

use super::admission::{admission_changes, RoutePair};
use super::change::{Change, ChangeKind, SampleAnswer};
use super::describe::{at, describe_action, describe_route};
use super::route_answers::{transitions, GatewayRouting, RoutingAnswer, Transition};

/// Every change to gateways and routes from `old` to `new`.
pub fn route_changes(old: &Bundle, new: &Bundle, out: &mut Vec<Change>) {
    for gateway in &new.gateways {
        match old.gateways.iter().find(|g| g.name == gateway.name) {
            Some(before) => gateway_changes(before, gateway, out),
            None => {
                out.push(Change::new(
                    ChangeKind::Topology,
                    format!("gateway {}", gateway.name),
                    format!(
                        "gateway added, listening on {}",
                        listeners(gateway).join(", ")
                    ),
                    Some(at(&gateway.source)),
                ));
                for route in &gateway.routes {
                    added_route(gateway, route, None, out);
                }
            }
        }
    }
    for gateway in &old.gateways {
        if !new.gateways.iter().any(|g| g.name == gateway.name) {
            out.push(Change::new(
                ChangeKind::Topology,
                format!("gateway {}", gateway.name),
                "gateway removed with all its routes",
                Some(at(&gateway.source)),
            ));
        }
    }
}

fn listeners(gateway: &Gateway) -> Vec<String> {
    gateway
        .listeners
        .iter()
        .map(|l| {
            format!(
                "{}{}",
                l.address,
                if l.tls.is_some() { " (TLS)" } else { "" }
            )
        })
        .collect()
}

fn subject(gateway: &Gateway, route: &str) -> String {
    format!("route {}/{route}", gateway.name)
}

/// How a gateway answers, in words, with the route's auth and action.
fn describe_answer(routing: &GatewayRouting<'_>, answer: &RoutingAnswer) -> String {
    match answer {
        RoutingAnswer::Route(name) => match routing.route(name) {
            Some(route) => format!("route `{name}`: {}", describe_route(route)),
            None => format!("route `{name}`"),
        },
        RoutingAnswer::MethodNotAllowed(allow) => {
            format!("405 Method Not Allowed (Allow: {})", allow.join(", "))
        }
        RoutingAnswer::NotFound => "404 Not Found (no route)".to_string(),
        RoutingAnswer::BadPath => "400 Bad Request (malformed path)".to_string(),
    }
}

fn sample(
    old: &GatewayRouting<'_>,
    new: &GatewayRouting<'_>,
    transition: &Transition,
) -> SampleAnswer {
    SampleAnswer {
        request: transition.request.to_string(),
        before: describe_answer(old, &transition.before),
        after: describe_answer(new, &transition.after),
    }
}

fn gateway_changes(old: &Gateway, new: &Gateway, out: &mut Vec<Change>) {
    let (before, after) = (listeners(old), listeners(new));
    if before != after {
        out.push(Change::new(
            ChangeKind::Topology,
            format!("gateway {}", new.name),
            format!("listeners [{}] → [{}]", before.join(", "), after.join(", ")),
            Some(at(&new.source)),
        ));
    }
    let old_routing = GatewayRouting::new(old);
    let new_routing = GatewayRouting::new(new);
    let mut pending: Vec<Option<Transition>> = transitions(&old_routing, &new_routing)
        .into_iter()
        .map(Some)
        .collect();
    // The first pending transition that `pick` accepts, taken out of the list.
    let mut take = |pick: &dyn Fn(&Transition) -> bool| {
        pending
            .iter_mut()
            .find(|t| t.as_ref().is_some_and(pick))
            .and_then(Option::take)
    };
    for route in &new.routes {
        let Some(before) = old.routes.iter().find(|r| r.name == route.name) else {
            let shown = take(&|t| t.after.route() == Some(&route.name))
                .map(|t| sample(&old_routing, &new_routing, &t));
            added_route(new, route, shown, out);
            continue;
        };
        if before.matcher != route.matcher {
            let mut change = Change::new(
                ChangeKind::RouteMatch,
                subject(new, &route.name),
                format!(
                    "match {} → {}",
                    describe_match(before),
                    describe_match(route)
                ),
                Some(at(&route.source)),
            );
            change.sample = take(&|t| {
                t.after.route() == Some(&route.name) || t.before.route() == Some(&route.name)
            })
            .map(|t| sample(&old_routing, &new_routing, &t));
            out.push(change);
        }
        let pair = RoutePair {
            subject: subject(new, &route.name),
            old_gateway: old,
            old: before,
            new_gateway: new,
            new: route,
        };
        admission_changes(&pair, out);
        action_changes(&pair, out);
    }
    for route in &old.routes {
        if !new.routes.iter().any(|r| r.name == route.name) {
            let mut change = Change::new(
                ChangeKind::RemovedRoute,
                subject(old, &route.name),
                format!("route removed: {}", describe_route(route)),
                Some(at(&route.source)),
            );
            change.sample = take(&|t| t.before.route() == Some(&route.name))
                .map(|t| sample(&old_routing, &new_routing, &t));
            out.push(change);
        }
    }
    for transition in pending.into_iter().flatten() {
        out.push(reordered(&old_routing, &new_routing, &transition));
    }
}

/// A transition no added, removed or re-matched route explains. Between two routes of both
/// programs whose matches did not change, precedence moved one ahead of the other; otherwise
/// (a 404 that became a 405, say) the gateway as a whole answers differently.
fn reordered(
    old: &GatewayRouting<'_>,
    new: &GatewayRouting<'_>,
    transition: &Transition,
) -> Change {
    let both = match (transition.before.route(), transition.after.route()) {
        (Some(a), Some(b)) => match (old.route(a), old.route(b), new.route(a), new.route(b)) {
            (Some(old_a), Some(old_b), Some(new_a), Some(new_b)) => Some((
                a,
                b,
                compare_routes(old_a, old_b).step,
                compare_routes(new_b, new_a).step,
                new_b,
            )),
            _ => None,
        },
        _ => None,
    };
    let mut change = match both {
        Some((a, b, before, after, route)) => Change::new(
            ChangeKind::RouteOrder,
            subject(new.gateway, b),
            format!(
                "requests matching both `{a}` and `{b}` are now answered by `{b}`: before, `{a}` came first by {}; now `{b}` comes first by {}",
                before.describe(),
                after.describe()
            ),
            Some(at(&route.source)),
        ),
        None => Change::new(
            ChangeKind::RouteMatch,
            format!("gateway {}", new.gateway.name),
            "some requests are answered differently",
            Some(at(&new.gateway.source)),
        ),
    };
    change.sample = Some(sample(old, new, transition));
    change
}

fn added_route(
    gateway: &Gateway,
    route: &Route,
    shown: Option<SampleAnswer>,
    out: &mut Vec<Change>,
) {
    let callers = route_callers(gateway, route);
    let mut change = Change::new(
        ChangeKind::NewRoute,
        subject(gateway, &route.name),
        format!(
            "route added: {}; admits {}",
            describe_route(route),
            callers.callers.describe()
        ),
        Some(at(&route.source)),
    );
    change.sample = shown;
    out.push(change);
    if callers.callers.admits_anonymous() {
        out.push(Change::new(
            ChangeKind::NewExposure,
            subject(gateway, &route.name),
            format!(
                "new route admits clients without credentials{}",
                if route.public { " (marked public)" } else { "" }
            ),
            Some(at(&route.source)),
        ));
    }
}

fn action_changes(pair: &RoutePair<'_>, out: &mut Vec<Change>) {
    let (old, new) = (&pair.old.action, &pair.new.action);
    if old == new {
        return;
    }
    let mut details = Vec::new();
    let (before, after) = (describe_action(old), describe_action(new));
    if before != after {
        details.push(format!("{before} → {after}"));
    }
    match (old, new) {
        (
            RouteAction::Forward {
                strip_prefix: old_strip,
                rewrite: old_rewrite,
                timeout_ms: old_timeout,
                websocket: old_websocket,
                ..
            },
            RouteAction::Forward {
                strip_prefix,
                rewrite,
                timeout_ms,
                websocket,
                ..
            },
        ) => {
            let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "none".to_string());
            if old_strip != strip_prefix {
                details.push(format!(
                    "strip_prefix {} → {}",
                    show(old_strip),
                    show(strip_prefix)
                ));
            }
            if old_rewrite != rewrite {
                details.push(format!("rewrite {} → {}", show(old_rewrite), show(rewrite)));
            }
            if old_timeout != timeout_ms {
                let ms =
                    |t: &Option<u64>| t.map_or("the service's".to_string(), |t| format!("{t}ms"));
                details.push(format!("timeout {} → {}", ms(old_timeout), ms(timeout_ms)));
            }
            let (old_upgrades, upgrades) = (
                old_websocket.unwrap_or_default(),
                websocket.unwrap_or_default(),
            );
            if old_upgrades != upgrades {
                details.push(format!(
                    "websocket {} → {}",
                    describe_upgrades(&old_upgrades),
                    describe_upgrades(&upgrades)
                ));
            }
        }
        (RouteAction::Produce { .. }, RouteAction::Produce { .. }) if before == after => {
            let json = |action: &RouteAction| serde_json::to_string(action).unwrap_or_default();
            details.push(format!("produce settings {} → {}", json(old), json(new)));
        }
        _ => {}
    }
    out.push(Change::new(
        ChangeKind::Destination,
        pair.subject.clone(),
        details.join("; "),
        Some(at(&pair.new.source)),
    ));
}

/// A route's upgrade settings as its `websocket` line would say them.
fn describe_upgrades(upgrades: &meshwork_bundle::RouteUpgrades) -> String {
    if !upgrades.allowed {
        return "off".to_string();
    }
    format!("{{ max {}  idle {}ms }}", upgrades.max, upgrades.idle_ms)
}
