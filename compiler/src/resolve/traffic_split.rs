//! How a `forward` splits traffic between its services: the weights the runtime uses, shared by
//! emit (the bundle), the graph (edge labels) and the split-weight check.

use meshwork_bundle::ForwardTarget;

use crate::syntax::ast;

/// Targets without a weight share what the written weights leave of 100 evenly (earlier
/// targets take the remainder), so `forward a, b` is 50/50 and `forward a` is 100.
pub fn split_weights(targets: &[ast::ForwardTarget]) -> Vec<ForwardTarget> {
    let written: u32 = targets
        .iter()
        .filter_map(|t| t.weight.as_ref())
        .map(|w| u32::from(w.node.value))
        .sum();
    let unweighted = targets.iter().filter(|t| t.weight.is_none()).count() as u32;
    let left = 100u32.saturating_sub(written);
    let (share, mut remainder) = match unweighted {
        0 => (0, 0),
        n => (left / n, left % n),
    };
    targets
        .iter()
        .map(|target| {
            let weight = match &target.weight {
                Some(w) => w.node.value,
                None => {
                    let extra = u32::from(remainder > 0);
                    remainder = remainder.saturating_sub(1);
                    u8::try_from(share + extra).unwrap_or(100)
                }
            };
            ForwardTarget {
                service: target.service.node.clone(),
                weight,
            }
        })
        .collect()
}
