//! Undefined names (E0100): services in `forward`, `mirror` and `deliver`, gateways and services in mesh
//! rules, consumers and groups in access rules. Each error suggests the closest defined name.

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use crate::syntax::ast;

use super::symbols::GatewayNames;
use super::{Program, UNDEFINED_NAME};

/// Every reference that names nothing.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let services = || program.symbols.services.keys().copied();
    for (gateway, route) in program.routes() {
        if let Some(forward) = route.forward() {
            for target in &forward.targets {
                if !program.symbols.has_service(&target.service.node) {
                    out.push(undefined(
                        "service",
                        &target.service.node,
                        target.service.span,
                        services(),
                    ));
                }
            }
        }
        if let Some(mirror) = route.mirror() {
            if !program.symbols.has_service(&mirror.service.node) {
                out.push(undefined(
                    "service",
                    &mirror.service.node,
                    mirror.service.span,
                    services(),
                ));
            }
        }
        if let Some(names) = program
            .symbols
            .gateway_names
            .get(gateway.name.node.as_str())
        {
            out.extend(access_rules(gateway, route, names));
        }
    }
    for stream in &program.streams {
        if let Some(deliver) = stream.deliver() {
            if !program.symbols.has_service(&deliver.service.node) {
                out.push(undefined(
                    "service",
                    &deliver.service.node,
                    deliver.service.span,
                    services(),
                ));
            }
        }
    }
    let pairs = program
        .mesh_rules()
        .map(|r| (&r.source, &r.targets))
        .chain(program.mesh_faults().map(|f| (&f.source, &f.targets)));
    for (source, targets) in pairs {
        if source.node != "*"
            && !program.symbols.has_service(&source.node)
            && !program.symbols.has_gateway(&source.node)
        {
            let candidates = services().chain(program.symbols.gateways.keys().copied());
            out.push(undefined(
                "gateway or service",
                &source.node,
                source.span,
                candidates,
            ));
        }
        for target in targets {
            if target.node == "*" || program.symbols.has_service(&target.node) {
                continue;
            }
            let mut diagnostic = undefined("service", &target.node, target.span, services());
            if program.symbols.has_gateway(&target.node) {
                diagnostic = diagnostic.with_help(format!(
                    "`{}` is a gateway; mesh rules allow or deny calls *to services*, and a gateway is only ever a caller",
                    target.node
                ));
            }
            out.push(diagnostic);
        }
    }
    out
}

fn access_rules(
    gateway: &ast::Gateway,
    route: &ast::Route,
    names: &GatewayNames,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for statement in &route.statements {
        let ast::RouteStatement::Access(rule) = statement else {
            continue;
        };
        for value in &rule.values {
            let name = value.node.as_str();
            match rule.subject {
                ast::AccessSubject::Consumers if !names.consumers.contains_key(name) => {
                    let mut d = undefined(
                        &format!("consumer of gateway `{}`", gateway.name.node),
                        name,
                        value.span,
                        names.consumers.keys().copied(),
                    );
                    if names.groups.contains_key(name) {
                        d = d.with_help(format!(
                            "`{name}` is a group: write `{} groups [{name}]`",
                            effect_word(rule.effect)
                        ));
                    }
                    out.push(d);
                }
                ast::AccessSubject::Groups if !names.groups.contains_key(name) => {
                    let mut d = undefined(
                        &format!("group of gateway `{}`", gateway.name.node),
                        name,
                        value.span,
                        names.groups.keys().copied(),
                    );
                    if names.consumers.contains_key(name) {
                        d = d.with_help(format!(
                            "`{name}` is a consumer: write `{} consumers [{name}]`",
                            effect_word(rule.effect)
                        ));
                    } else if d.help.is_none() {
                        d = d.with_help("a group exists once a consumer of this gateway lists it: `consumer c { … groups [NAME] }`");
                    }
                    out.push(d);
                }
                _ => {}
            }
        }
    }
    out
}

fn effect_word(effect: ast::Effect) -> &'static str {
    match effect {
        ast::Effect::Allow => "allow",
        ast::Effect::Deny => "deny",
    }
}

/// An "undefined name" error with a "did you mean" help when a defined name is close.
pub fn undefined<'c>(
    what: &str,
    name: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(&UNDEFINED_NAME, format!("no {what} named `{name}`"))
        .with_label(span, "not defined");
    match closest(name, candidates) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `{suggestion}`?")),
        None => diagnostic,
    }
}
