//! CEL checks: every variable is in the documented contract and visible where it is used (the
//! error points at its exact column), comparisons between visibly different types, and
//! expressions whose type cannot serve their purpose (a condition that is not a bool, a record
//! key that is not a string). The syntax itself was checked by the parser (E0012).

pub mod analyze;
pub mod contract;
pub mod requirements;
pub mod schema_fields;
pub mod stream_output;
pub mod types;

use std::collections::HashMap;
use std::rc::Rc;

use cel::common::ast::{IdedExpr, SourceInfo};

use crate::diagnostics::Diagnostic;
use crate::resolve::route_match::route_params;
use crate::resolve::Program;
use crate::syntax::ast;

use analyze::analyze;
use contract::CelContext;
use requirements::requirements;
use types::Ty;

crate::diagnostics::codes::codes! {
    /// A variable or field outside the CEL contract.
    UNKNOWN_CEL_VARIABLE = "E0500", "unknown CEL variable",
        "Expressions may only use the documented variables: `request.{method,path,host,headers,query,remote_addr,params}`, `consumer.{name,groups}`, `jwt.claims`, `source.service` and `event.{topic,partition,offset,key,value,headers,timestamp}`. Anything else would be an evaluation error on every request or record. The label points at the exact column.",
        "Use a contract variable (the help suggests the closest one).",
        "route r { match GET \"/\" public when request.methd == \"GET\" respond 200 \"x\" }";
    /// A contract variable used where it does not exist.
    VARIABLE_OUT_OF_CONTEXT = "E0501", "CEL variable out of context",
        "Each place sees its own variables: gateway routes and produce keys see `request`, `consumer` and `jwt`; mesh rules and balance hashes see `request` and `source`; streams see only `event`. `event.*` in a route or `request.*` in a stream has no value.",
        "Use the variables of the context (the help lists them).",
        "stream s { from topic \"log\" when request.method == \"POST\" to topic \"x\" }";
    /// A comparison between values of different types.
    MISMATCHED_COMPARISON = "E0502", "comparison of different types",
        "CEL does not convert between types: `request.method == 1` or `event.partition == \"0\"` has no matching overload and fails at run time (a failed condition refuses the request or dead-letters the record). Caught wherever both types are visible: literals and contract fields.",
        "Compare like with like, converting explicitly (`int(…)`, `string(…)`).",
        "route r { match GET \"/\" public when request.method == 1 respond 200 \"x\" }";
    /// An expression whose type cannot serve its purpose.
    WRONG_EXPRESSION_TYPE = "E0503", "wrong expression type",
        "A `when` condition must be a bool; a record key (`produce … key`, stream `to … key`) must be a string or bytes; a balance hash must be a scalar. `when request.headers[\"x-ship\"]` is a string, so every request would fail the condition.",
        "Write a comparison (`… != \"\"`), or convert the key with `string(…)`.",
        "route r { match GET \"/\" public when request.headers[\"x-ship\"] respond 200 \"x\" }";
}

type Parsed = Option<Rc<(IdedExpr, SourceInfo)>>;

/// Parses expressions once per distinct source text (programs repeat conditions).
#[derive(Default)]
struct ParseCache<'a> {
    parsed: HashMap<&'a str, Parsed>,
}

impl<'a> ParseCache<'a> {
    fn get(&mut self, source: &'a str) -> Parsed {
        self.parsed
            .entry(source)
            .or_insert_with(|| {
                cel::parser::Parser::new()
                    .parse_with_source_info(source)
                    .ok()
                    .map(Rc::new)
            })
            .clone()
    }
}

/// Runs every CEL check.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut cache = ParseCache::default();
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let mut params = None;
        let mut conjuncts = Vec::new();
        for statement in &route.statements {
            if let ast::RouteStatement::When(cel) = statement {
                if let Some(parsed) = cache.get(&cel.source) {
                    conjuncts.extend(requirements(cel, &parsed.0, &parsed.1).into_iter().map(
                        |c| {
                            let text = program.text(c.span).to_string();
                            (c, text)
                        },
                    ));
                }
            }
            let (cel, context) = match statement {
                ast::RouteStatement::When(cel) => (cel, CelContext::RouteCondition),
                ast::RouteStatement::Produce(produce) => match &produce.key {
                    Some(key) => (key, CelContext::ProduceKey),
                    None => continue,
                },
                _ => continue,
            };
            let params = params.get_or_insert_with(|| route_params(route));
            out.extend(check_expression(
                &mut cache,
                cel,
                context,
                Some(params),
                Some(route),
            ));
            if let ast::RouteStatement::Produce(produce) = statement {
                out.extend(produce_key_against_schema(program, &mut cache, produce));
            }
        }
        if !conjuncts.is_empty() {
            out.extend(
                crate::checks::routes::contradictory_conditions::check_route(route, &conjuncts),
            );
        }
    }
    for rule in program.mesh_rules() {
        if let Some(cel) = &rule.when {
            out.extend(check_expression(
                &mut cache,
                cel,
                CelContext::MeshCondition,
                None,
                None,
            ));
            if rule.effect == ast::Effect::Allow {
                out.extend(crate::checks::mesh::dead_allow::contradictory_condition(
                    program,
                    rule,
                    cache.get(&cel.source).as_deref(),
                ));
            }
        }
    }
    for fault in program.mesh_faults() {
        if let Some(cel) = &fault.fault.when {
            out.extend(check_expression(
                &mut cache,
                cel,
                CelContext::MeshCondition,
                None,
                None,
            ));
        }
    }
    for service in &program.services {
        if let Some(ast::Balance::Hash(cel)) = service.balance().map(|b| &b.node) {
            out.extend(check_expression(
                &mut cache,
                cel,
                CelContext::BalanceHash,
                None,
                None,
            ));
        }
    }
    for stream in &program.streams {
        let source = stream.statements.iter().find_map(|s| match s {
            ast::StreamStatement::From { topic, .. } => Some(topic.node.as_str()),
            _ => None,
        });
        let schema = source.and_then(|topic| Some((topic, program.schemas.get(topic)?)));
        for statement in &stream.statements {
            let checked: Vec<(&ast::Cel, CelContext)> = match statement {
                ast::StreamStatement::When(cel) => vec![(cel, CelContext::StreamCondition)],
                ast::StreamStatement::To { key, value, .. } => [
                    (key, CelContext::StreamKey),
                    (value, CelContext::StreamValue),
                ]
                .into_iter()
                .filter_map(|(cel, context)| Some((cel.as_ref()?, context)))
                .collect(),
                _ => Vec::new(),
            };
            if let ast::StreamStatement::To {
                topic, value, span, ..
            } = statement
            {
                if let Some(destination_schema) = program.schemas.get(&topic.node) {
                    let parsed = value
                        .as_ref()
                        .and_then(|v| Some((v, cache.get(&v.source)?)));
                    let output = stream_output::Output {
                        stream,
                        destination: &topic.node,
                        destination_schema,
                        to_span: *span,
                        source: schema,
                        value: parsed.as_ref().map(|(cel, p)| (*cel, &p.0, &p.1)),
                    };
                    // A value that does not parse was reported (E0012): nothing to compare.
                    if value.is_none() || parsed.is_some() {
                        out.extend(stream_output::check(program.sources, &output));
                    }
                }
            }
            for (cel, context) in checked {
                out.extend(check_expression(&mut cache, cel, context, None, None));
                if let (Some((topic, schema)), Some(parsed)) = (schema, cache.get(&cel.source)) {
                    out.extend(schema_fields::check(
                        program.sources,
                        cel,
                        &parsed.0,
                        &parsed.1,
                        schema_fields::EVENT_VALUE,
                        topic,
                        schema,
                    ));
                }
            }
        }
    }
    out
}

/// A produce key reading `request.body` of a route that produces the raw body to a topic with a
/// schema: the body is the record, so its fields are the schema's.
fn produce_key_against_schema<'a>(
    program: &Program<'a>,
    cache: &mut ParseCache<'a>,
    produce: &'a ast::Produce,
) -> Vec<Diagnostic> {
    let (Some(key), ast::TopicRef::Fixed(topic)) = (&produce.key, &produce.topic) else {
        return Vec::new();
    };
    if produce
        .value
        .as_ref()
        .is_some_and(|v| v.node == ast::ValueFormat::Envelope)
    {
        return Vec::new();
    }
    let (Some(schema), Some(parsed)) = (program.schemas.get(&topic.node), cache.get(&key.source))
    else {
        return Vec::new();
    };
    schema_fields::check(
        program.sources,
        key,
        &parsed.0,
        &parsed.1,
        schema_fields::REQUEST_BODY,
        &topic.node,
        schema,
    )
}

fn check_expression<'a>(
    cache: &mut ParseCache<'a>,
    cel: &'a ast::Cel,
    context: CelContext,
    params: Option<&[String]>,
    route: Option<&ast::Route>,
) -> Vec<Diagnostic> {
    let Some(parsed) = cache.get(&cel.source) else {
        return Vec::new();
    };
    let analysis = analyze(cel, &parsed.0, &parsed.1, context, params);
    let mut out = analysis.diagnostics;
    if let Some(problem) = type_problem(context, analysis.ty) {
        out.push(
            Diagnostic::error(
                &WRONG_EXPRESSION_TYPE,
                format!(
                    "{} is {}, not {problem}",
                    context.describe(),
                    analysis.ty.name()
                ),
            )
            .with_label(cel.span, analysis.ty.name().to_string())
            .with_help(match context {
                CelContext::ProduceKey | CelContext::StreamKey => {
                    "convert it: `string(…)`".to_string()
                }
                CelContext::BalanceHash => {
                    "hash on a string or number, e.g. `request.headers[\"x-user\"]`".to_string()
                }
                _ => "write a comparison, e.g. `request.headers[\"x-ship\"] != \"\"`".to_string(),
            }),
        );
    }
    if let Some(route) = route {
        out.extend(crate::checks::security::identity::cel_identity(
            route,
            analysis.consumer_use,
            analysis.jwt_use,
        ));
    }
    out
}

/// What the expression should be instead, when its type cannot serve the context.
fn type_problem(context: CelContext, ty: Ty) -> Option<&'static str> {
    if !ty.is_known() {
        return None;
    }
    match context {
        CelContext::RouteCondition | CelContext::MeshCondition | CelContext::StreamCondition => {
            (ty != Ty::Bool).then_some("a bool")
        }
        CelContext::ProduceKey | CelContext::StreamKey => {
            (!matches!(ty, Ty::String | Ty::Bytes)).then_some("a string or bytes")
        }
        CelContext::BalanceHash => matches!(
            ty,
            Ty::Bool | Ty::Null | Ty::List | Ty::StringList | Ty::Map | Ty::StringMap
        )
        .then_some("a string or number"),
        CelContext::StreamValue => None,
    }
}
