//! Gateways: listeners, consumers and routes of every declaration with the same name.

use std::collections::BTreeSet;

use meshwork_bundle::mesh_policy::derived_identity;
use meshwork_bundle::{
    sort_by_precedence, Consumer, Credential, Gateway, Listener, ListenerTls, MethodMismatch,
    PathPolicy, Tracing,
};

use super::context::EmitContext;
use super::lower_route::lower_route;
use crate::syntax::ast;

/// Lowers the declarations of one gateway (in program order) into one gateway, merged naively:
/// listeners, consumers and routes of every declaration are put together; the first `identity`
/// wins, else the identity derived from `trust_domain`.
pub fn lower_gateway(
    cx: &mut EmitContext,
    declarations: &[&ast::Gateway],
    trust_domain: Option<&str>,
) -> Option<Gateway> {
    let first = declarations.first()?;
    let mut listeners = Vec::new();
    let mut consumers = Vec::new();
    let mut routes = Vec::new();
    let mut path_policy = PathPolicy::default();
    for gateway in declarations {
        for setting in &gateway.path_settings {
            crate::checks::paths::apply(&mut path_policy, setting.node);
        }
        listeners.extend(gateway.listeners.iter().map(|l| lower_listener(cx, l)));
        consumers.extend(gateway.consumers.iter().map(|c| lower_consumer(cx, c)));
        routes.extend(gateway.routes.iter().filter_map(|r| lower_route(cx, r)));
    }
    listeners.sort_by(|a, b| (&a.address, &a.source).cmp(&(&b.address, &b.source)));
    consumers.sort_by(|a, b| (&a.name, &a.source).cmp(&(&b.name, &b.source)));
    sort_by_precedence(&mut routes);
    let method_mismatch = match declarations.iter().find_map(|g| g.method_mismatch.as_ref()) {
        Some(answer) if answer.node == 405 => MethodMismatch::MethodNotAllowed,
        _ => MethodMismatch::NotFound,
    };
    Some(Gateway {
        name: first.name.node.clone(),
        listeners,
        consumers,
        routes,
        path_policy,
        method_mismatch,
        identity: declarations
            .iter()
            .find_map(|g| g.identity.as_ref().map(|id| id.node.clone()))
            .or_else(|| trust_domain.map(|domain| derived_identity(domain, &first.name.node))),
        tracing: declarations
            .iter()
            .find_map(|g| g.tracing.as_ref())
            .map(|tracing| Tracing {
                sample_percent: tracing
                    .sample
                    .as_ref()
                    .map_or(100, |share| share.node.value),
            }),
        source: cx.location(first.span),
    })
}

fn lower_listener(cx: &mut EmitContext, listener: &ast::Listener) -> Listener {
    let tls = listener.tls.as_ref().map(|tls| ListenerTls {
        cert: cx.secret(&tls.cert),
        key: cx.secret(&tls.key),
    });
    Listener {
        address: listener.address.node.clone(),
        tls,
        source: cx.location(listener.span),
    }
}

fn lower_consumer(cx: &mut EmitContext, consumer: &ast::Consumer) -> Consumer {
    let credentials = consumer
        .credentials
        .iter()
        .map(|credential| match &credential.node {
            ast::CredentialKind::Key(secret) => Credential::Key {
                secret: cx.secret(secret),
            },
            ast::CredentialKind::Basic { user, password } => Credential::Basic {
                user: user.node.clone(),
                password: cx.secret(password),
            },
            ast::CredentialKind::Jwt { subject } => Credential::Jwt {
                subject: subject.node.clone(),
            },
        })
        .collect();
    let groups: BTreeSet<String> = consumer.groups.iter().map(|g| g.node.clone()).collect();
    Consumer {
        name: consumer.name.node.clone(),
        credentials,
        groups: groups.into_iter().collect(),
        source: cx.location(consumer.span),
    }
}
