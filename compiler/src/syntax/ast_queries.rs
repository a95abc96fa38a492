//! Read-only questions later stages ask of the tree ("what does this route match?"), answered
//! once here so every check reads statements the same way.

use super::ast::*;

impl Route {
    /// The route's `match` (the first, if it has several: that is a parse error already).
    pub fn matcher(&self) -> Option<&Match> {
        self.statements.iter().find_map(|s| match s {
            RouteStatement::Match(m) => Some(&**m),
            _ => None,
        })
    }

    /// The route's `auth`, if any.
    pub fn auth(&self) -> Option<&Auth> {
        self.statements.iter().find_map(|s| match s {
            RouteStatement::Auth(a) => Some(&**a),
            _ => None,
        })
    }

    /// True when the route is marked `public`.
    pub fn is_public(&self) -> bool {
        self.statements
            .iter()
            .any(|s| matches!(s, RouteStatement::Public(_)))
    }

    /// True when the route is marked `idempotent`.
    pub fn is_idempotent(&self) -> bool {
        self.statements
            .iter()
            .any(|s| matches!(s, RouteStatement::Idempotent(_)))
    }

    /// The route's `forward`, if it forwards.
    pub fn forward(&self) -> Option<&Forward> {
        self.statements.iter().find_map(|s| match s {
            RouteStatement::Forward(f) => Some(&**f),
            _ => None,
        })
    }

    /// The route's `fault` lines, in source order.
    pub fn faults(&self) -> impl Iterator<Item = &Fault> {
        self.statements.iter().filter_map(|s| match s {
            RouteStatement::Fault(f) => Some(&**f),
            _ => None,
        })
    }

    /// The route's `mirror`, if it mirrors.
    pub fn mirror(&self) -> Option<&Mirror> {
        self.statements.iter().find_map(|s| match s {
            RouteStatement::Mirror(m) => Some(&**m),
            _ => None,
        })
    }

    /// The route's `websocket` line, if it has one.
    pub fn websocket(&self) -> Option<&WebSocket> {
        self.statements.iter().find_map(|s| match s {
            RouteStatement::WebSocket(w) => Some(&**w),
            _ => None,
        })
    }

    /// The route's `produce`, if it produces.
    pub fn produce(&self) -> Option<&Produce> {
        self.statements.iter().find_map(|s| match s {
            RouteStatement::Produce(p) => Some(&**p),
            _ => None,
        })
    }

    /// Every CEL expression of the route (`when` conditions and the produce key).
    pub fn cel_expressions(&self) -> Vec<&Cel> {
        let mut out = Vec::new();
        for statement in &self.statements {
            match statement {
                RouteStatement::When(c) => out.push(c),
                RouteStatement::Produce(p) => out.extend(p.key.as_ref()),
                RouteStatement::Fault(f) => out.extend(f.when.as_ref()),
                _ => {}
            }
        }
        out
    }
}

impl Service {
    /// The endpoints, if the service lists them.
    pub fn endpoints(
        &self,
    ) -> Option<&crate::source::Spanned<Vec<crate::source::Spanned<String>>>> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::Endpoints(e) => Some(e),
            _ => None,
        })
    }

    /// The service's `timeout`, if set.
    pub fn timeout(&self) -> Option<&crate::source::Spanned<Duration>> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::Timeout(t) => Some(t),
            _ => None,
        })
    }

    /// The service's `retry`, if set.
    pub fn retry(&self) -> Option<&Retry> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::Retry(r) => Some(r),
            _ => None,
        })
    }

    /// The service's `circuit_breaker`, if set.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::CircuitBreaker(c) => Some(c),
            _ => None,
        })
    }

    /// The service's `health_check`, if set.
    pub fn health_check(&self) -> Option<&HealthCheck> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::HealthCheck(h) => Some(h),
            _ => None,
        })
    }

    /// The service's `identity`, if set.
    pub fn identity(&self) -> Option<&crate::source::Spanned<String>> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::Identity(i) => Some(i),
            _ => None,
        })
    }

    /// The service's `balance`, if set.
    pub fn balance(&self) -> Option<&crate::source::Spanned<Balance>> {
        self.statements.iter().find_map(|s| match s {
            ServiceStatement::Balance(b) => Some(b),
            _ => None,
        })
    }
}

impl Stream {
    /// The source topic statement: `(topic, group, span)`.
    pub fn source_topic(&self) -> Option<&crate::source::Spanned<String>> {
        self.statements.iter().find_map(|s| match s {
            StreamStatement::From { topic, .. } => Some(topic),
            _ => None,
        })
    }

    /// The target topic, if the stream writes to one.
    pub fn target_topic(&self) -> Option<&crate::source::Spanned<String>> {
        self.statements.iter().find_map(|s| match s {
            StreamStatement::To { topic, .. } => Some(topic),
            _ => None,
        })
    }

    /// The dead-letter topic, if any.
    pub fn dead_letter(&self) -> Option<&crate::source::Spanned<String>> {
        self.statements.iter().find_map(|s| match s {
            StreamStatement::DeadLetter(t) => Some(t),
            _ => None,
        })
    }

    /// The `deliver` settings, if the stream delivers to a service.
    pub fn deliver(&self) -> Option<&Deliver> {
        self.statements.iter().find_map(|s| match s {
            StreamStatement::Deliver(d) => Some(d),
            _ => None,
        })
    }

    /// Every CEL expression of the stream (`when`, target key and value).
    pub fn cel_expressions(&self) -> Vec<&Cel> {
        let mut out = Vec::new();
        for statement in &self.statements {
            match statement {
                StreamStatement::When(c) => out.push(c),
                StreamStatement::To { key, value, .. } => {
                    out.extend(key.as_ref());
                    out.extend(value.as_ref());
                }
                _ => {}
            }
        }
        out
    }
}
