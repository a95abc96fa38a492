//! Credentials shared by two consumers of one gateway (E0704).
//!
//! *What*: the same `env(…)`/`file(…)` API key, the same basic user, or the same JWT subject
//! given to two consumers (or twice to one).
//! *Why*: a request presenting it matches two consumers; which name, groups and rate-limit
//! bucket apply is a coin toss, and revoking one revokes both.
//! *Example*: `consumer picard { key env("KEY") }` and `consumer riker { key env("KEY") }`.

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Span;
use crate::syntax::ast::{CredentialKind, SecretSource};

use super::SHARED_CREDENTIAL;

/// Every credential used twice within one gateway.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for gateway in program.symbols.gateway_names.keys() {
        let mut first: BTreeMap<String, (&str, Span)> = BTreeMap::new();
        let consumers = program
            .symbols
            .gateways
            .get(gateway)
            .into_iter()
            .flatten()
            .flat_map(|g| g.consumers.iter());
        for consumer in consumers {
            for credential in &consumer.credentials {
                let key = match &credential.node {
                    CredentialKind::Key(secret) => match &secret.node {
                        SecretSource::Env(name) => format!("the API key env(\"{name}\")"),
                        SecretSource::File(path) => format!("the API key file(\"{path}\")"),
                        SecretSource::Inline(_) => continue,
                    },
                    CredentialKind::Basic { user, .. } => format!("basic user \"{}\"", user.node),
                    CredentialKind::Jwt { subject } => format!("JWT subject \"{}\"", subject.node),
                };
                match first.get(&key) {
                    Some((owner, span)) => out.push(
                        Diagnostic::error(
                            &SHARED_CREDENTIAL,
                            if *owner == consumer.name.node {
                                format!("{key} is given twice to `{owner}`")
                            } else {
                                format!(
                                    "{key} identifies both `{owner}` and `{}`",
                                    consumer.name.node
                                )
                            },
                        )
                        .with_label(credential.span, "used again")
                        .with_label(*span, format!("first given to `{owner}`"))
                        .with_help("give each consumer its own credential"),
                    ),
                    None => {
                        first.insert(key, (consumer.name.node.as_str(), credential.span));
                    }
                }
            }
        }
    }
    out
}
