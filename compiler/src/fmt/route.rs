//! `route NAME { … }`: one statement per line in source order; a short route without CEL fits
//! on one line (`route ping { match GET "/ping"  public  respond 200 "pong" }`).

use crate::source::Spanned;
use crate::syntax::ast::*;

use super::layout::{Block, Entry, Fold, Line};
use super::literals::{duration, list, percent, rate, secret, size, string};
use super::source_scan::SourceText;

/// The most statements a route may have and still be printed on one line.
pub const FOLDED_ROUTE_STATEMENTS: usize = 3;

/// The route block.
pub fn route(source: &SourceText<'_>, route: &Route) -> Entry {
    Block {
        head: format!("route {}", route.name.node),
        open: source.open_brace(route.name.span.end as usize),
        close: route.span.end as usize - 1,
        children: route
            .statements
            .iter()
            .map(|s| statement(source, s))
            .collect(),
        fold: Fold::UpTo(FOLDED_ROUTE_STATEMENTS),
    }
    .at(route.span.start as usize)
}

fn statement(source: &SourceText<'_>, statement: &RouteStatement) -> Entry {
    let span = statement.span();
    let line = match statement {
        RouteStatement::Match(m) => match_line(m),
        RouteStatement::Auth(a) => auth_line(a),
        RouteStatement::Public(_) => Line::new().text("public"),
        RouteStatement::Idempotent(_) => Line::new().text("idempotent"),
        RouteStatement::Access(a) => access_line(source, a),
        RouteStatement::RateLimit(r) => rate_limit_line(r),
        RouteStatement::When(condition) => Line::new().text("when").cel(&condition.source),
        RouteStatement::Header(h) => header_line(h),
        RouteStatement::Cors(c) => return cors(source, c),
        RouteStatement::BodyLimit(limit) => Line::new().text("body_limit").text(size(limit.node)),
        RouteStatement::Timeout(timeout) => {
            Line::new().text("timeout").text(duration(timeout.node))
        }
        RouteStatement::Fault(f) => fault_line(f),
        RouteStatement::Mirror(m) => mirror_line(m),
        RouteStatement::WebSocket(w) => websocket_line(w),
        RouteStatement::Forward(f) => forward_line(f),
        RouteStatement::Produce(p) => produce_line(source, p),
        RouteStatement::Respond(r) => respond_line(r),
    };
    line.at(span.start as usize, span.end as usize)
}

/// `fault abort PERCENT STATUS [when CEL]` or `fault delay PERCENT DURATION [when CEL]`.
fn fault_line(f: &Fault) -> Line {
    fault_words(Line::new().text("fault"), f)
}

/// A fault's words after `fault` (and, on a mesh pair, after the pair): `abort|delay P% … [when CEL]`.
pub(super) fn fault_words(line: Line, f: &Fault) -> Line {
    let effect = match &f.kind {
        FaultKind::Abort(status) => status.node.to_string(),
        FaultKind::Delay(delay) => duration(delay.node),
    };
    let line = line
        .text(f.kind.keyword())
        .text(percent(f.percent.node))
        .text(effect);
    match &f.when {
        Some(condition) => line.text("when").cel(&condition.source),
        None => line,
    }
}

/// `mirror SERVICE [P%] [max_body SIZE] [queue N]`.
fn mirror_line(m: &Mirror) -> Line {
    Line::new()
        .text("mirror")
        .text(m.service.node.clone())
        .maybe(m.percent.as_ref().map(|p| percent(p.node)))
        .maybe(
            m.max_body
                .as_ref()
                .map(|s| format!("max_body {}", size(s.node))),
        )
        .maybe(m.queue.as_ref().map(|q| format!("queue {}", q.node)))
}

/// `websocket off` or `websocket { max N  idle DURATION }`.
fn websocket_line(w: &WebSocket) -> Line {
    if !w.allowed {
        return Line::new().text("websocket").text("off");
    }
    let mut settings = Vec::new();
    if let Some(max) = &w.max {
        settings.push(format!("max {}", max.node));
    }
    if let Some(idle) = &w.idle {
        settings.push(format!("idle {}", duration(idle.node)));
    }
    let body = if settings.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", settings.join("  "))
    };
    Line::new().text("websocket").text(body)
}

/// `match [METHOD|*] PATH [host "H"] [header "K" "V"]… [query "K" "V"]…`.
fn match_line(m: &Match) -> Line {
    let method = m
        .method
        .as_ref()
        .map(|method| method.node.clone())
        .unwrap_or_else(|| "*".to_string());
    let path = match m.path.kind {
        PathKind::Exact => string(&m.path.value.node),
        PathKind::Prefix => format!("prefix {}", string(&m.path.value.node)),
        PathKind::Regex => format!("regex {}", string(&m.path.value.node)),
    };
    let mut line = Line::new().text("match").text(method).text(path);
    line = line.maybe(m.host.as_ref().map(|h| format!("host {}", string(&h.node))));
    for header in &m.headers {
        line = line.text(format!(
            "header {} {}",
            string(&header.name.node),
            string(&header.value.node)
        ));
    }
    for query in &m.query {
        line = line.text(format!(
            "query {} {}",
            string(&query.name.node),
            string(&query.value.node)
        ));
    }
    line
}

/// `auth key header "K"`, `auth basic realm "R"`, `auth jwt issuer … audience … alg … keys … secret …`.
fn auth_line(auth: &Auth) -> Line {
    let line = Line::new().text("auth");
    match &auth.kind {
        AuthKind::Key { location, name } => {
            let location = match location {
                KeyLocation::Header => "header",
                KeyLocation::Query => "query",
            };
            line.text("key").text(location).text(string(&name.node))
        }
        AuthKind::Basic { realm } => line
            .text("basic")
            .maybe(realm.as_ref().map(|r| format!("realm {}", string(&r.node)))),
        AuthKind::Jwt(jwt) => line
            .text("jwt")
            .maybe(
                jwt.issuer
                    .as_ref()
                    .map(|v| format!("issuer {}", string(&v.node))),
            )
            .maybe(
                jwt.audience
                    .as_ref()
                    .map(|v| format!("audience {}", string(&v.node))),
            )
            .maybe(jwt.alg.as_ref().map(|v| format!("alg {}", v.node)))
            .maybe(
                jwt.keys
                    .as_ref()
                    .map(|v| format!("keys {}", secret(&v.node))),
            )
            .maybe(
                jwt.secret
                    .as_ref()
                    .map(|v| format!("secret {}", secret(&v.node))),
            ),
    }
}

/// `allow|deny consumers|groups|ips […]`.
fn access_line(source: &SourceText<'_>, access: &AccessRule) -> Line {
    let effect = match access.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    let (subject, quoted) = match access.subject {
        AccessSubject::Consumers => ("consumers", false),
        AccessSubject::Groups => ("groups", false),
        AccessSubject::Ips => ("ips", true),
    };
    let values = list(
        source,
        &access.values,
        |v| {
            if quoted {
                string(&v.node)
            } else {
                v.node.clone()
            }
        },
        |v| v.span,
    );
    Line::new().text(effect).text(subject).part(values)
}

/// `rate_limit RATE per KEY [burst N] [shared [fail MODE]]`; `per` is always written out.
fn rate_limit_line(limit: &RateLimit) -> Line {
    let per = match limit.key {
        RateLimitKey::Consumer => "consumer",
        RateLimitKey::Ip => "ip",
        RateLimitKey::Route => "route",
    };
    Line::new()
        .text("rate_limit")
        .text(rate(limit.rate.node))
        .text(format!("per {per}"))
        .maybe(limit.burst.as_ref().map(|b| format!("burst {}", b.node)))
        .maybe(limit.shared.then(|| "shared".to_string()))
        .maybe(limit.fail.map(|mode| {
            format!(
                "fail {}",
                match mode {
                    StoreFailure::Local => "local",
                    StoreFailure::Open => "open",
                    StoreFailure::Closed => "closed",
                }
            )
        }))
}

/// `set_header "K" "V"`, `remove_header "K"` and their `_response_` forms.
fn header_line(rule: &HeaderRule) -> Line {
    let keyword = match (rule.direction, rule.value.is_some()) {
        (HeaderDirection::Request, true) => "set_header",
        (HeaderDirection::Request, false) => "remove_header",
        (HeaderDirection::Response, true) => "set_response_header",
        (HeaderDirection::Response, false) => "remove_response_header",
    };
    Line::new()
        .text(keyword)
        .text(string(&rule.name.node))
        .maybe(rule.value.as_ref().map(|v| string(&v.node)))
}

/// `cors { … }`: always one setting per line, in a fixed order.
fn cors(source: &SourceText<'_>, cors: &Cors) -> Entry {
    let open = source.open_brace(cors.span.start as usize + "cors".len());
    let close = cors.span.end as usize - 1;
    let mut children = Vec::new();
    let lists: [(&str, &Vec<Spanned<String>>, bool); 4] = [
        ("origins", &cors.origins, true),
        ("methods", &cors.methods, false),
        ("headers", &cors.headers, true),
        ("expose", &cors.expose, true),
    ];
    for (keyword, values, quoted) in lists {
        if let (Some(first), Some(last)) = (values.first(), values.last()) {
            let items = list(
                source,
                values,
                |v| {
                    if quoted {
                        string(&v.node)
                    } else {
                        v.node.clone()
                    }
                },
                |v| v.span,
            );
            let start = source
                .find_word(open, first.span.start as usize, keyword)
                .map(|(s, _)| s)
                .unwrap_or(first.span.start as usize);
            let end = source.close_bracket(last.span.end as usize) + 1;
            children.push(Line::new().text(keyword).part(items).at(start, end));
        }
    }
    if cors.credentials {
        let (start, end) = source
            .find_word(open, close, "credentials")
            .unwrap_or((close, close));
        children.push(Line::new().text("credentials").at(start, end));
    }
    if let Some(max_age) = &cors.max_age {
        let start = source
            .find_word(open, max_age.span.start as usize, "max_age")
            .map(|(s, _)| s)
            .unwrap_or(max_age.span.start as usize);
        children.push(
            Line::new()
                .text("max_age")
                .text(duration(max_age.node))
                .at(start, max_age.span.end as usize),
        );
    }
    Block {
        head: "cors".to_string(),
        open,
        close,
        children,
        fold: Fold::Never,
    }
    .at(cors.span.start as usize)
}

/// `forward A [W%], B [W%] [strip_prefix "P"] [rewrite "P"]`.
fn forward_line(forward: &Forward) -> Line {
    let targets: Vec<String> = forward
        .targets
        .iter()
        .map(|t| match &t.weight {
            Some(weight) => format!("{} {}", t.service.node, percent(weight.node)),
            None => t.service.node.clone(),
        })
        .collect();
    Line::new()
        .text("forward")
        .text(targets.join(", "))
        .maybe(
            forward
                .strip_prefix
                .as_ref()
                .map(|p| format!("strip_prefix {}", string(&p.node))),
        )
        .maybe(
            forward
                .rewrite
                .as_ref()
                .map(|p| format!("rewrite {}", string(&p.node))),
        )
}

/// `produce topic T [key CEL] [value raw|envelope] [headers […]] [acks 0|1|all] [mode sync|async]`.
fn produce_line(source: &SourceText<'_>, produce: &Produce) -> Line {
    let mut line = Line::new().text("produce topic");
    line = match &produce.topic {
        TopicRef::Fixed(name) => line.text(string(&name.node)),
        TopicRef::Param { param, allow } => {
            let line = line.text("param").text(string(&param.node));
            match allow {
                Some(topics) => {
                    line.text("allow")
                        .part(list(source, topics, |t| string(&t.node), |t| t.span))
                }
                None => line,
            }
        }
    };
    if let Some(key) = &produce.key {
        line = line.text("key").cel(&key.source);
    }
    if let Some(value) = &produce.value {
        line = line.text(match value.node {
            ValueFormat::Raw => "value raw",
            ValueFormat::Envelope => "value envelope",
        });
    }
    if !produce.headers.is_empty() {
        line = line.text("headers").part(list(
            source,
            &produce.headers,
            |h| string(&h.node),
            |h| h.span,
        ));
    }
    if let Some(acks) = &produce.acks {
        line = line.text(match acks.node {
            Acks::None => "acks 0",
            Acks::Leader => "acks 1",
            Acks::All => "acks all",
        });
    }
    if let Some(mode) = &produce.mode {
        line = line.text(match mode.node {
            ProduceMode::Sync => "mode sync",
            ProduceMode::Async => "mode async",
        });
    }
    line
}

/// `respond STATUS ["BODY"] [content_type "T"]`.
fn respond_line(respond: &Respond) -> Line {
    Line::new()
        .text("respond")
        .text(respond.status.node.to_string())
        .maybe(respond.body.as_ref().map(|b| string(&b.node)))
        .maybe(
            respond
                .content_type
                .as_ref()
                .map(|t| format!("content_type {}", string(&t.node))),
        )
}
