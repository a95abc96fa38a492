//! Path regexes that cannot compile (E0202), path templates the matcher cannot use (E0206) and
//! host names no request can carry (E0208).
//!
//! *Why*: the runtime compiles every route when it loads the bundle; a route that cannot compile
//! must fail at `meshc check`, not when the new bundle is refused in production. Regexes are
//! compiled with the `regex` crate, the one the runtime matcher uses, with the same size limit.
//! *Example*: `match regex "^/v[0-9+/"`, `match GET "/items{id}"`, `match GET "/" host "api.test:8080"`.

use std::collections::HashSet;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::{INVALID_HOST, INVALID_PATH_REGEX, INVALID_PATH_TEMPLATE};

/// The most memory one compiled path regex may take (the runtime uses the same bound).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Checks every route's path and host.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(matcher) = route.matcher() else {
            continue;
        };
        let path = &matcher.path.value;
        match matcher.path.kind {
            ast::PathKind::Regex => out.extend(check_regex(path)),
            ast::PathKind::Exact => out.extend(check_template(program, path)),
            ast::PathKind::Prefix => {
                if let Some(at) = path.node.find(['{', '}']) {
                    out.push(
                        Diagnostic::error(&INVALID_PATH_TEMPLATE, format!("prefix \"{}\" contains a template", path.node))
                            .with_label(program.span_in_string(path, at, 1), "prefixes cannot capture parameters")
                            .with_help("match the parameters with an exact template (`match GET \"/ships/{ship}\"`), or use a prefix without braces"),
                    );
                }
            }
        }
        if let Some(host) = &matcher.host {
            if let Some(problem) = host_problem(&host.node) {
                out.push(
                    Diagnostic::error(&INVALID_HOST, format!("\"{}\" is not a host name a request can carry", host.node))
                        .with_label(host.span, problem)
                        .with_help("write a host name (`api.starfleet.test`) or a leading wildcard (`*.starfleet.test`), without scheme, port or path"),
                );
            }
        }
    }
    out
}

/// Compiles a path regex the way the runtime does.
pub fn compile_path_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

fn check_regex(path: &crate::source::Spanned<String>) -> Option<Diagnostic> {
    let error = compile_path_regex(&path.node).err()?;
    let reason = match &error {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(text)
            .to_string(),
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled expression exceeds {limit} bytes")
        }
        other => other.to_string(),
    };
    Some(
        Diagnostic::error(&INVALID_PATH_REGEX, format!("the path regex does not compile: {reason}"))
            .with_label(path.span, reason)
            .with_help("path regexes use the Rust `regex` syntax (https://docs.rs/regex); escape literal characters such as `.` and `+`"),
    )
}

fn check_template(program: &Program, path: &crate::source::Spanned<String>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = 0;
    for segment in path.node.split('/') {
        let at = offset;
        offset += segment.len() + 1;
        if !segment.contains(['{', '}']) {
            continue;
        }
        let span = program.span_in_string(path, at, segment.len());
        let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        let problem = match name {
            None => Some("a parameter must be a whole segment: `/{name}/`".to_string()),
            Some(name) if !is_param_name(name) => Some(format!("`{name}` is not a parameter name (letters, digits, `_`; not starting with a digit)")),
            Some(name) if !seen.insert(name) => Some(format!("`{name}` is captured twice")),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            out.push(
                Diagnostic::error(&INVALID_PATH_TEMPLATE, format!("path template \"{}\" cannot be matched", path.node))
                    .with_label(span, problem)
                    .with_help("a template captures whole segments by distinct names: \"/ships/{ship}/crew/{id}\""),
            );
        }
    }
    out
}

fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a route host can never equal a request's host (without port), if it cannot.
pub fn host_problem(host: &str) -> Option<String> {
    if host.contains("://") {
        return Some("a host has no scheme".to_string());
    }
    if host.contains('/') {
        return Some("a host has no path".to_string());
    }
    if host.contains(':') {
        return Some("requests are matched on the host without its port".to_string());
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.contains('*') {
        return Some("`*` may only be the whole first label (`*.example.com`)".to_string());
    }
    if name.is_empty() || name.len() > 253 {
        return Some("a host name has 1 to 253 characters".to_string());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Some(format!(
                "`{label}` is not a DNS label (letters, digits and inner `-`, 1 to 63 characters)"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_ports_schemes_or_inner_wildcards_are_refused() {
        assert!(host_problem("api.starfleet.test").is_none());
        assert!(host_problem("*.starfleet.test").is_none());
        assert!(host_problem("api.test:8080").is_some());
        assert!(host_problem("https://api.test").is_some());
        assert!(host_problem("api.*.test").is_some());
        assert!(host_problem("bad_label.test").is_some());
    }

    #[test]
    fn regexes_compile_with_the_runtime_limits() {
        assert!(compile_path_regex("^/v[0-9]+/").is_ok());
        assert!(compile_path_regex("^/v[0-9+/").is_err());
        assert!(compile_path_regex("(a{1000}){1000}").is_err(), "too big");
    }
}
