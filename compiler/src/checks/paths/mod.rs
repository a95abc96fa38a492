//! Path checks: route paths against the gateway's path policy (`merge_slashes`,
//! `escaped_slashes`), which normalizes request paths before they are matched and forwarded. The
//! policy and the normalization are the bundle crate's, so the check agrees with meshd.

pub mod normal_form;

use std::collections::BTreeMap;

use meshwork_bundle::{EscapedSlashes, PathPolicy};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

crate::diagnostics::codes::codes! {
    /// A route path that the gateway's path policy refuses in every request.
    ROUTE_PATH_REFUSED = "E0020", "route path refused by the path policy",
        "meshd normalizes every request path before matching it, and answers 400 to a path with an encoded slash or backslash (`%2F`, `%5C`) or a `\\` under `escaped_slashes reject` (the default), with an encoded NUL (`%00`), or with a `%` not followed by two hex digits. A route whose own path holds one of these can never match a request, and meshd refuses the bundle.",
        "Write the path with `/` separators, `%25` for a literal `%`; or, when the upstream really keeps `%2F` inside a segment (object-store keys), set `escaped_slashes keep` on the gateway.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route files { match GET prefix \"/files%2Fprivate\" public respond 200 \"x\" }\n}";
    /// A route path that is not in the normal form requests are matched in.
    ROUTE_PATH_NOT_NORMAL = "E0021", "route path not in normal form",
        "Request paths are normalized before matching (RFC 3986: `.` and `..` segments removed, escapes of unreserved characters decoded, hex digits upper-cased; runs of `/` merged unless `merge_slashes off`; `%2F` decoded under `escaped_slashes unescape`), and the normalized path is what the upstream receives. A route path written another way is matched as its normal form, so the program says something other than what happens.",
        "Write the normal form the diagnostic shows.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route admin { match GET prefix \"/api/../admin\" public respond 200 \"x\" }\n}";
}

/// Runs the path checks.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    normal_form::check(program)
}

/// Each gateway's path policy by name, as the bundle gets it (a gateway defined twice is E0101).
pub fn gateway_policies<'p>(program: &Program<'p>) -> BTreeMap<&'p str, PathPolicy> {
    let mut policies: BTreeMap<&str, PathPolicy> = BTreeMap::new();
    for gateway in program.gateways.iter().copied() {
        let policy = policies.entry(gateway.name.node.as_str()).or_default();
        for setting in &gateway.path_settings {
            apply(policy, setting.node);
        }
    }
    policies
}

/// Applies one `merge_slashes` or `escaped_slashes` line to a policy.
pub fn apply(policy: &mut PathPolicy, setting: ast::PathSetting) {
    match setting {
        ast::PathSetting::MergeSlashes(merge) => policy.merge_slashes = merge,
        ast::PathSetting::EscapedSlashes(mode) => {
            policy.escaped_slashes = match mode {
                ast::EscapedSlashes::Reject => EscapedSlashes::Reject,
                ast::EscapedSlashes::Keep => EscapedSlashes::Keep,
                ast::EscapedSlashes::Unescape => EscapedSlashes::Unescape,
            }
        }
    }
}
