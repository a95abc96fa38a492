//! Traffic splits whose weights do not add up (E0702).
//!
//! *What*: every target of a `forward` has a weight and they do not sum to 100; written weights
//! exceed 100; written weights reach 100 while other targets have none (they would get 0%); or
//! one service appears twice in a split.
//! *Why*: the runtime would silently rescale or drop traffic; a canary meant to get 10% could
//! get 0% or 50%.
//! *Example*: `forward picard 90%, riker 20%`.

use std::collections::HashSet;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::SPLIT_WEIGHTS;

/// Every forward with inconsistent weights.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(forward) = route.forward() else {
            continue;
        };
        if forward.targets.len() == 1 && forward.targets[0].weight.is_none() {
            continue;
        }
        let mut seen = HashSet::new();
        for target in &forward.targets {
            if !seen.insert(target.service.node.as_str()) {
                out.push(
                    Diagnostic::error(
                        &SPLIT_WEIGHTS,
                        format!("`{}` appears twice in one split", target.service.node),
                    )
                    .with_label(target.service.span, "again")
                    .with_help("list each service once, with its whole weight"),
                );
            }
        }
        let weights: Vec<u32> = forward
            .targets
            .iter()
            .filter_map(|t| t.weight.as_ref())
            .map(|w| u32::from(w.node.value))
            .collect();
        if weights.is_empty() {
            continue;
        }
        let sum: u32 = weights.iter().sum();
        let unweighted = forward.targets.len() - weights.len();
        let problem = if unweighted == 0 && sum != 100 {
            Some(format!("the weights add up to {sum}%, not 100%"))
        } else if sum > 100 {
            Some(format!("the written weights already add up to {sum}%"))
        } else if unweighted > 0 && sum == 100 {
            Some(
                "the written weights add up to 100%, so the targets without one get 0%".to_string(),
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(
                Diagnostic::error(
                    &SPLIT_WEIGHTS,
                    format!(
                        "route `{}` splits traffic inconsistently: {problem}",
                        route.name.node
                    ),
                )
                .with_label(forward.span, problem)
                .with_help(
                    "give weights that sum to 100 (targets without a weight share what is left)",
                ),
            );
        }
    }
    out
}
