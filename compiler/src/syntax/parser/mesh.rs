//! `mesh { default … allow A -> B [when …] deny … fault A -> B abort|delay … mirror A -> B to C …
//! mtls … trust_domain "…" between_sidecars h2|http1 }`.

use crate::source::Spanned;
use crate::syntax::ast::*;

use super::block::{block, report_duplicates};
use super::cel::cel;
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{ident_ref, peek_word, string, symbol, word, wrong_word, ws, ws_inline};
use super::literals::list;
use super::route_traffic::{fault, mirror};

const MESH_STATEMENTS: &[&str] = &[
    "default",
    "allow",
    "deny",
    "fault",
    "mirror",
    "mtls",
    "trust_domain",
    "between_sidecars",
];

/// The rest of a mesh block after its keyword; `start` is the keyword.
pub fn mesh<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Mesh> {
    let mut statements = Vec::new();
    let (rest, _) = block(
        cx,
        input,
        "mesh block",
        MESH_STATEMENTS,
        |start, kw, input| {
            let (rest, statement) = match kw.node {
                "default" => {
                    let (r, w) = ident_ref(cx, input, "`allow` or `deny`")?;
                    let effect = match w.node {
                        "allow" => Effect::Allow,
                        "deny" => Effect::Deny,
                        _ => return wrong_word(cx, &w, "`allow` or `deny`", &["allow", "deny"]),
                    };
                    (
                        r,
                        MeshStatement::Default(Spanned::new(effect, cx.span(start, r))),
                    )
                }
                "allow" | "deny" => {
                    let (r, rule) = rule(cx, start, kw.node, input)?;
                    (r, MeshStatement::Rule(rule))
                }
                "fault" => {
                    let (r, f) = pair_fault(cx, start, input)?;
                    (r, MeshStatement::Fault(f))
                }
                "mirror" => {
                    let (r, m) = pair_mirror(cx, start, input)?;
                    (r, MeshStatement::Mirror(m))
                }
                "mtls" => {
                    let (r, w) = ident_ref(cx, input, "`strict` or `permissive`")?;
                    let mode = match w.node {
                        "strict" => MtlsMode::Strict,
                        "permissive" => MtlsMode::Permissive,
                        _ => {
                            return wrong_word(
                                cx,
                                &w,
                                "`strict` or `permissive`",
                                &["strict", "permissive"],
                            )
                        }
                    };
                    (
                        r,
                        MeshStatement::Mtls(Spanned::new(mode, cx.span(start, r))),
                    )
                }
                "between_sidecars" => {
                    let (r, w) = ident_ref(cx, input, "`h2` or `http1`")?;
                    let hop = match w.node {
                        "h2" => SidecarHop::H2,
                        "http1" => SidecarHop::Http1,
                        _ => return wrong_word(cx, &w, "`h2` or `http1`", &["h2", "http1"]),
                    };
                    (
                        r,
                        MeshStatement::BetweenSidecars(Spanned::new(hop, cx.span(start, r))),
                    )
                }
                "trust_domain" => {
                    let (r, domain) =
                        string(cx, input, "a trust domain in quotes, e.g. \"starfleet\"")?;
                    let span = cx.span(start, r);
                    (r, MeshStatement::TrustDomain { domain, span })
                }
                _ => return Ok((input, None)),
            };
            statements.push(statement);
            Ok((rest, Some(())))
        },
    )?;
    report_duplicates(
        cx,
        &statements,
        |s| match s {
            MeshStatement::Default(_) => Some("default"),
            MeshStatement::Mtls(_) => Some("mtls"),
            MeshStatement::BetweenSidecars(_) => Some("between_sidecars"),
            MeshStatement::TrustDomain { .. } => Some("trust_domain"),
            MeshStatement::Rule(_) | MeshStatement::Fault(_) | MeshStatement::Mirror(_) => None,
        },
        |s| match s {
            MeshStatement::Default(d) => d.span,
            MeshStatement::Mtls(m) => m.span,
            MeshStatement::BetweenSidecars(h) => h.span,
            MeshStatement::TrustDomain { span, .. } => *span,
            MeshStatement::Rule(r) => r.span,
            MeshStatement::Fault(f) => f.span,
            MeshStatement::Mirror(m) => m.span,
        },
    );
    Ok((
        rest,
        Mesh {
            statements,
            span: cx.span(start, rest),
        },
    ))
}

fn name_or_star<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Ident> {
    if let Some(rest) = input.strip_prefix('*') {
        return Ok((rest, Spanned::new("*".to_string(), cx.span(input, rest))));
    }
    match word(cx, input) {
        Ok(ok) => Ok(ok),
        Err(nom::Err::Error(_)) => {
            PError::expected(input, "a gateway or service name, or `*`").fail()
        }
        Err(e) => Err(e),
    }
}

/// `SOURCE -> TARGETS` of a rule or a fault.
fn pair<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, (Ident, Vec<Ident>)> {
    let (r, source) = name_or_star(cx, input)?;
    let (r, _) = ws(cx, r)?;
    let (r, _) = symbol(r, "->")?;
    let (r, _) = ws(cx, r)?;
    if r.starts_with('[') {
        let (r, l) = list(cx, r, "service names", name_or_star)?;
        Ok((r, (source, l.node)))
    } else {
        let (r, t) = name_or_star(cx, r)?;
        Ok((r, (source, vec![t])))
    }
}

/// `fault SOURCE -> TARGETS abort|delay …`: the pair, then a route fault's words.
fn pair_fault<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, MeshFault> {
    let (r, (source, targets)) = pair(cx, input)?;
    let (r, _) = ws(cx, r)?;
    let (rest, fault) = fault(cx, r, r)?;
    Ok((
        rest,
        MeshFault {
            source,
            targets,
            fault,
            span: cx.span(start, rest),
        },
    ))
}

/// `mirror SOURCE -> TARGETS to SERVICE …`: the pair, `to`, then a route mirror's words.
fn pair_mirror<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, MeshMirror> {
    let (r, (source, targets)) = pair(cx, input)?;
    let (r, _) = ws(cx, r)?;
    let (r, to) = ident_ref(cx, r, "`to` and the service that gets the copies")?;
    if to.node != "to" {
        return wrong_word(
            cx,
            &to,
            "`to` and the service that gets the copies",
            &["to"],
        );
    }
    let (r, _) = ws(cx, r)?;
    let (rest, mirror) = mirror(cx, r, r)?;
    Ok((
        rest,
        MeshMirror {
            source,
            targets,
            mirror,
            span: cx.span(start, rest),
        },
    ))
}

fn rule<'a>(cx: &Ctx, start: &'a str, kw: &str, input: &'a str) -> PResult<'a, MeshRule> {
    let effect = if kw == "allow" {
        Effect::Allow
    } else {
        Effect::Deny
    };
    let (mut rest, (source, targets)) = pair(cx, input)?;
    let mut when = None;
    let (after_ws, _) = ws_inline(cx, rest)?;
    if peek_word(after_ws) == Some("when") {
        let (r, _) = ws(cx, &after_ws[4..])?;
        let (r, condition) = cel(cx, r, "a CEL condition")?;
        when = Some(condition);
        rest = r;
    }
    Ok((
        rest,
        MeshRule {
            effect,
            source,
            targets,
            when,
            span: cx.span(start, rest),
        },
    ))
}
