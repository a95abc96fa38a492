//! Walks one parsed CEL expression: every variable against the contract and the context (at its
//! exact column in the `.mesh` file), every comparison between visibly different types, and the
//! type of the whole expression.

use cel::common::ast::{Expr, IdedExpr, LiteralValue, SourceInfo};

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::resolve::path_params::unknown_param;
use crate::source::Span;
use crate::syntax::ast;

use super::contract::{fields, CelContext, BUILTIN_IDENTS, ROOTS};
use super::types::Ty;
use super::{MISMATCHED_COMPARISON, UNKNOWN_CEL_VARIABLE, VARIABLE_OUT_OF_CONTEXT};

/// What the walk found.
pub struct Analysis {
    pub diagnostics: Vec<Diagnostic>,
    /// The expression's type, as far as it can be seen.
    pub ty: Ty,
    /// The first use of `consumer`, if any.
    pub consumer_use: Option<Span>,
    /// The first use of `jwt`, if any.
    pub jwt_use: Option<Span>,
}

/// Analyses `expression` (the parse of `cel`) evaluated in `context`; `params` are the route's
/// path parameters where `request.params` is visible.
pub fn analyze(
    cel: &ast::Cel,
    expression: &IdedExpr,
    info: &SourceInfo,
    context: CelContext,
    params: Option<&[String]>,
) -> Analysis {
    let mut walker = Walker {
        cel,
        info,
        context,
        params,
        bound: Vec::new(),
        reported_roots: Vec::new(),
        analysis: Analysis {
            diagnostics: Vec::new(),
            ty: Ty::Dyn,
            consumer_use: None,
            jwt_use: None,
        },
    };
    let ty = walker.walk(expression);
    walker.analysis.ty = ty;
    walker.analysis
}

struct Walker<'a> {
    cel: &'a ast::Cel,
    info: &'a SourceInfo,
    context: CelContext,
    params: Option<&'a [String]>,
    /// Comprehension variables in scope.
    bound: Vec<&'a str>,
    reported_roots: Vec<&'a str>,
    analysis: Analysis,
}

impl<'a> Walker<'a> {
    /// The file span of a node's token (the CEL parser's offsets are inclusive byte offsets).
    fn span_of(&self, id: u64) -> Span {
        let (start, stop) = self.info.offset_for(id).unwrap_or((0, 0));
        self.at(start as usize, (stop as usize + 1).max(start as usize))
    }

    fn at(&self, start: usize, end: usize) -> Span {
        let len = self.cel.source.len();
        let base = self.cel.span.start as usize;
        Span::new(
            self.cel.span.file,
            base + start.min(len),
            base + end.min(len),
        )
    }

    /// The span of `field` in a selection whose node sits at the `.`.
    fn field_span(&self, select_id: u64, field: &str) -> Span {
        let dot = self
            .info
            .offset_for(select_id)
            .map_or(0, |(s, _)| s as usize);
        let after = self.cel.source.get(dot + 1..).unwrap_or("");
        let start = dot + 1 + (after.len() - after.trim_start().len());
        self.at(start, start + field.len())
    }

    fn walk(&mut self, e: &'a IdedExpr) -> Ty {
        match &e.expr {
            Expr::Literal(literal) => literal_type(literal),
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(select) => {
                if let Expr::Ident(root) = &select.operand.expr {
                    if ROOTS.contains(&root.as_str()) && !self.bound.contains(&root.as_str()) {
                        self.ident(select.operand.id, root);
                        let ty = self.root_field(e.id, root, &select.field);
                        return if select.test { Ty::Bool } else { ty };
                    }
                }
                if let Some(params) = self.params {
                    if is_request_params(&select.operand) && !params.contains(&select.field) {
                        let span = self.field_span(e.id, &select.field);
                        self.analysis
                            .diagnostics
                            .push(unknown_param(&select.field, span, params));
                    }
                }
                let ty = self.walk(&select.operand);
                if select.test {
                    Ty::Bool
                } else {
                    ty.index()
                }
            }
            Expr::Call(call) => {
                let target = call.target.as_ref().map(|t| self.walk(t));
                let args: Vec<Ty> = call.args.iter().map(|a| self.walk(a)).collect();
                self.call(e.id, &call.func_name, target, &args, &call.args)
            }
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range);
                let accumulator = self.walk(&c.accu_init);
                self.bound.push(&c.iter_var);
                if let Some(second) = &c.iter_var2 {
                    self.bound.push(second);
                }
                self.bound.push(&c.accu_var);
                self.walk(&c.loop_cond);
                self.walk(&c.loop_step);
                let result = self.walk(&c.result);
                self.bound
                    .truncate(self.bound.len() - 2 - usize::from(c.iter_var2.is_some()));
                match &c.result.expr {
                    Expr::Ident(name) if *name == c.accu_var => accumulator,
                    _ => result,
                }
            }
            Expr::List(list) => {
                let elements: Vec<Ty> = list.elements.iter().map(|x| self.walk(x)).collect();
                if !elements.is_empty() && elements.iter().all(|t| *t == Ty::String) {
                    Ty::StringList
                } else {
                    Ty::List
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                        self.walk(&m.key);
                        self.walk(&m.value);
                    }
                }
                Ty::Map
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                        self.walk(&f.value);
                    }
                }
                Ty::Dyn
            }
            Expr::Unspecified => Ty::Dyn,
        }
    }

    fn ident(&mut self, id: u64, name: &'a str) -> Ty {
        if self.bound.contains(&name) || name.starts_with('@') || BUILTIN_IDENTS.contains(&name) {
            return Ty::Dyn;
        }
        let span = self.span_of(id);
        if !ROOTS.contains(&name) {
            let roots = self.context.roots();
            let mut d = Diagnostic::error(
                &UNKNOWN_CEL_VARIABLE,
                format!("`{name}` is not a CEL variable"),
            )
            .with_label(span, "unknown variable");
            d = match closest(name, roots.iter().copied()) {
                Some(s) => d.with_help(format!(
                    "did you mean `{s}`? {} can use {}",
                    self.context.describe(),
                    list(roots)
                )),
                None => d.with_help(format!(
                    "{} can use {}",
                    self.context.describe(),
                    list(roots)
                )),
            };
            self.analysis.diagnostics.push(d);
            return Ty::Dyn;
        }
        match name {
            "consumer" => self.analysis.consumer_use = self.analysis.consumer_use.or(Some(span)),
            "jwt" => self.analysis.jwt_use = self.analysis.jwt_use.or(Some(span)),
            _ => {}
        }
        if !self.context.roots().contains(&name) && !self.reported_roots.contains(&name) {
            self.reported_roots.push(name);
            let why = match (name, self.context.is_stream()) {
                ("event", false) => {
                    "`event` is the Kafka record a stream reads; there is none here"
                }
                (_, true) if self.context == CelContext::ServeCondition => {
                    "a serve condition judges each Kafka record, as `event`, not the request"
                }
                (_, true) => "a stream sees only the Kafka record, as `event`",
                ("source", _) => "`source` is the calling service, known only to mesh rules",
                ("consumer" | "jwt", _) => "the caller's identity is known only in gateway routes",
                _ => "it is not provided here",
            };
            self.analysis.diagnostics.push(
                Diagnostic::error(
                    &VARIABLE_OUT_OF_CONTEXT,
                    format!("`{name}` is not available in {}", self.context.describe()),
                )
                .with_label(span, why)
                .with_help(format!(
                    "{} can use {}",
                    self.context.describe(),
                    list(self.context.roots())
                )),
            );
        }
        Ty::Map
    }

    fn root_field(&mut self, select_id: u64, root: &str, field: &str) -> Ty {
        let extra = self.context.extra_fields(root);
        let known = || fields(root).iter().chain(extra);
        if let Some((_, ty)) = known().find(|(name, _)| *name == field) {
            return *ty;
        }
        let span = self.field_span(select_id, field);
        let names: Vec<&str> = known().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::error(
            &UNKNOWN_CEL_VARIABLE,
            format!("`{root}` has no field `{field}`"),
        )
        .with_label(span, "not in the contract");
        d = match closest(field, names.iter().copied()) {
            Some(s) => d.with_help(format!(
                "did you mean `{root}.{s}`? `{root}` has {}",
                list(&names)
            )),
            None => d.with_help(format!("`{root}` has {}", list(&names))),
        };
        self.analysis.diagnostics.push(d);
        Ty::Dyn
    }

    fn call(
        &mut self,
        id: u64,
        function: &str,
        target: Option<Ty>,
        args: &[Ty],
        arg_exprs: &[IdedExpr],
    ) -> Ty {
        match function {
            "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" => {
                if let [a, b] = args {
                    if !a.comparable_with(*b) {
                        self.mismatch(id, function.trim_matches('_'), *a, *b);
                    }
                }
                Ty::Bool
            }
            "@in" => {
                if let [element, container] = args {
                    if !element.comparable_with(container.element()) {
                        self.mismatch(id, "in", *element, container.element());
                    }
                }
                Ty::Bool
            }
            "_[_]" | "_[?_]" => {
                if let (Some(params), [container, key]) = (self.params, arg_exprs) {
                    if let (true, Expr::Literal(LiteralValue::String(name))) =
                        (is_request_params(container), &key.expr)
                    {
                        let name = name.to_string();
                        if !params.contains(&name) {
                            let span = self.span_of(key.id);
                            self.analysis
                                .diagnostics
                                .push(unknown_param(&name, span, params));
                        }
                    }
                }
                args.first().map_or(Ty::Dyn, |t| t.index())
            }
            "_&&_" | "_||_" | "!_" | "@not_strictly_false" => Ty::Bool,
            "_?_:_" => match args {
                [_, a, b] if a == b => *a,
                _ => Ty::Dyn,
            },
            "_+_" => match args {
                [Ty::String, Ty::String] => Ty::String,
                [a, b] if a == b && matches!(a, Ty::Int | Ty::Uint | Ty::Double | Ty::Bytes) => *a,
                _ => Ty::Dyn,
            },
            "_-_" | "_*_" | "_/_" | "_%_" => match args {
                [a, b] if a == b && matches!(a, Ty::Int | Ty::Uint | Ty::Double) => *a,
                _ => Ty::Dyn,
            },
            "-_" => args
                .first()
                .copied()
                .filter(|a| matches!(a, Ty::Int | Ty::Double))
                .unwrap_or(Ty::Dyn),
            "size" => Ty::Int,
            "startsWith" | "endsWith" | "contains" | "matches" => Ty::Bool,
            "int" => Ty::Int,
            "uint" => Ty::Uint,
            "double" => Ty::Double,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "bool" => Ty::Bool,
            "timestamp" => Ty::Timestamp,
            "duration" => Ty::Duration,
            _ => {
                let _ = target;
                Ty::Dyn
            }
        }
    }

    fn mismatch(&mut self, id: u64, operator: &str, a: Ty, b: Ty) {
        let span = self.span_of(id);
        self.analysis.diagnostics.push(
            Diagnostic::error(&MISMATCHED_COMPARISON, format!("`{operator}` compares {} with {}", a.name(), b.name()))
                .with_label(span, format!("{} {operator} {}", a.name(), b.name()))
                .with_help("CEL does not convert between types: the comparison fails at run time. Compare like with like, e.g. `int(request.headers[\"x-n\"]) > 3` or `request.method == \"GET\"`"),
        );
    }
}

/// True for `request.params`.
fn is_request_params(e: &IdedExpr) -> bool {
    matches!(&e.expr, Expr::Select(s) if s.field == "params" && !s.test && matches!(&s.operand.expr, Expr::Ident(r) if r == "request"))
}

fn literal_type(literal: &LiteralValue) -> Ty {
    match literal {
        LiteralValue::Boolean(_) => Ty::Bool,
        LiteralValue::Bytes(_) => Ty::Bytes,
        LiteralValue::Double(_) => Ty::Double,
        LiteralValue::Int(_) => Ty::Int,
        LiteralValue::Null => Ty::Null,
        LiteralValue::String(_) => Ty::String,
        LiteralValue::UInt(_) => Ty::Uint,
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
