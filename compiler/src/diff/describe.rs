//! Short descriptions of bundle items for change messages.

use meshwork_bundle::{
    AdmissionStep, AuthMethod, HeaderDirection, KeyLocation, ProduceTopic, Route, RouteAction,
    SourceLocation,
};

/// `file:line:column`.
pub fn at(location: &SourceLocation) -> String {
    format!("{}:{}:{}", location.file, location.line, location.column)
}

/// What an admitted request turns into: `forward to picard`, `produce to topic "log"`.
pub fn describe_action(action: &RouteAction) -> String {
    match action {
        RouteAction::Forward { targets, .. } => {
            let services: Vec<String> = targets
                .iter()
                .map(|t| {
                    if targets.len() == 1 {
                        t.service.clone()
                    } else {
                        format!("{} {}%", t.service, t.weight)
                    }
                })
                .collect();
            format!("forward to {}", services.join(", "))
        }
        RouteAction::Produce { topic, .. } => match topic {
            ProduceTopic::Fixed { name } => format!("produce to topic \"{name}\""),
            ProduceTopic::Param { param, allow } => format!(
                "produce to the topic named by `{param}` ({})",
                allow
                    .as_ref()
                    .map(|a| format!("one of {}", a.join(", ")))
                    .unwrap_or_else(|| "any topic".to_string())
            ),
        },
        RouteAction::Serve { topic, when, .. } => format!(
            "serve topic \"{topic}\" to HTTP clients{}",
            when.as_ref()
                .map(|w| format!(" when {w}"))
                .unwrap_or_default()
        ),
        RouteAction::Respond { status, body, .. } => format!("respond {status} {body:?}"),
    }
}

/// An auth method with its settings: `API key in header x-api-key`, `JWT ES256 from …`.
pub fn describe_auth(method: Option<&AuthMethod>) -> String {
    match method {
        None => "no auth".to_string(),
        Some(AuthMethod::Key { location, name }) => format!(
            "API key in {} {name}",
            match location {
                KeyLocation::Header => "header",
                KeyLocation::Query => "query parameter",
            }
        ),
        Some(AuthMethod::Basic { realm }) => format!(
            "basic auth{}",
            realm
                .as_ref()
                .map(|r| format!(" (realm {r:?})"))
                .unwrap_or_default()
        ),
        Some(AuthMethod::Jwt {
            issuer,
            audience,
            alg,
            ..
        }) => {
            let mut text = "JWT".to_string();
            if let Some(alg) = alg {
                text.push_str(&format!(" {alg}"));
            }
            if let Some(issuer) = issuer {
                text.push_str(&format!(" issuer {issuer:?}"));
            }
            if let Some(audience) = audience {
                text.push_str(&format!(" audience {audience:?}"));
            }
            text
        }
    }
}

/// The route's auth method, if it has one.
pub fn route_auth(route: &Route) -> Option<&AuthMethod> {
    route.admission.iter().find_map(|step| match step {
        AdmissionStep::Auth { method, .. } => Some(method),
        _ => None,
    })
}

/// A route in one phrase: `GET "/officers/{id}" (API key; forward to picard)`.
pub fn describe_route(route: &Route) -> String {
    format!(
        "{} ({}; {})",
        crate::explain::render::describe_match(route),
        describe_auth(route_auth(route)),
        describe_action(&route.action)
    )
}

/// A header rule: `set request header x-source: edge`, `remove response header server`.
pub fn describe_header_rule(direction: HeaderDirection, name: &str, value: Option<&str>) -> String {
    let whose = match direction {
        HeaderDirection::Request => "request",
        HeaderDirection::Response => "response",
    };
    match value {
        Some(value) => format!("set {whose} header {name}: {value}"),
        None => format!("remove {whose} header {name}"),
    }
}
