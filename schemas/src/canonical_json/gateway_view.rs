//! A gateway as its compact canonical text is written, with a large gateway's routes printed on
//! two threads: the second half on a thread of its own while this one prints the first, then
//! joined as printed text. Compact text does not depend on how deep it sits, so the document is
//! byte for byte what one thread prints. On a 100 000-route program printing is about a quarter
//! of `meshc build`, and it runs after lowering on the thread that emits the bundle; this takes
//! half of it off that thread.

use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use super::serializer::RawText;
use super::{to_canonical_vec, Layout, COMPACT_BYTES_PER_ROUTE};
use crate::types::bundle::SourceLocation;
use crate::types::gateway::{Consumer, Gateway, Listener, MethodMismatch, PathPolicy, Tracing};
use crate::types::route::Route;

/// Routes from which a gateway's are printed on two threads: below it a thread costs more
/// than it saves.
pub(super) const SPLIT_FROM: usize = 10_000;

/// The fields of a [`Gateway`] under the same names, in key order (as the gateway declares
/// them), its routes printed on two threads when there are at least `split_from`.
#[derive(Serialize)]
pub(super) struct GatewayView<'a> {
    consumers: &'a [Consumer],
    identity: &'a Option<String>,
    listeners: &'a [Listener],
    method_mismatch: &'a MethodMismatch,
    name: &'a str,
    #[serde(skip_serializing_if = "is_default_policy")]
    path_policy: &'a PathPolicy,
    routes: RoutesView<'a>,
    source: &'a SourceLocation,
    #[serde(skip_serializing_if = "is_untraced")]
    tracing: &'a Option<Tracing>,
}

// The gateway's own `skip_serializing_if`s, one reference deeper.
fn is_default_policy(policy: &&PathPolicy) -> bool {
    policy.is_default()
}

fn is_untraced(tracing: &&Option<Tracing>) -> bool {
    tracing.is_none()
}

/// A bundle's gateways, each as a [`GatewayView`].
pub(super) struct GatewaysView<'a> {
    pub(super) gateways: &'a [Gateway],
    pub(super) layout: Layout,
    pub(super) split_from: usize,
}

impl Serialize for GatewaysView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.gateways
                .iter()
                .map(|gateway| GatewayView::new(gateway, self.layout, self.split_from)),
        )
    }
}

impl<'a> GatewayView<'a> {
    /// `gateway` as written in `layout`; its routes are split only in compact text.
    pub(super) fn new(gateway: &'a Gateway, layout: Layout, split_from: usize) -> Self {
        // Exhaustive on purpose: a field added to `Gateway` fails to compile here until the
        // view, and so the canonical text and the digest, cover it.
        let Gateway {
            consumers,
            identity,
            listeners,
            method_mismatch,
            name,
            path_policy,
            routes,
            source,
            tracing,
        } = gateway;
        GatewayView {
            consumers,
            identity,
            listeners,
            method_mismatch,
            name,
            path_policy,
            routes: RoutesView {
                routes,
                split: layout == Layout::Compact && routes.len() >= split_from.max(2),
            },
            source,
            tracing,
        }
    }
}

/// A gateway's routes, printed on two threads when `split`.
struct RoutesView<'a> {
    routes: &'a [Route],
    split: bool,
}

impl Serialize for RoutesView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.split {
            return self.routes.serialize(serializer);
        }
        let (first, second) = self.routes.split_at(self.routes.len() / 2);
        let print_second = || {
            to_canonical_vec(
                second,
                Layout::Compact,
                second.len() * COMPACT_BYTES_PER_ROUTE,
            )
        };
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("print-routes".to_string())
                .spawn_scoped(scope, print_second);
            let mut array = serializer.serialize_seq(Some(self.routes.len()))?;
            for route in first {
                array.serialize_element(route)?;
            }
            let printed = match helper {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: printed here.
                Err(_) => print_second(),
            }
            .map_err(S::Error::custom)?;
            // `[r,…,r]`: its routes join this array as one more element's worth of text.
            array.serialize_element(&RawText(&printed[1..printed.len() - 1]))?;
            array.end()
        })
    }
}
