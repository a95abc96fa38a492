//! A bundle as its canonical text is written: every field borrowed, declared in key order.
//!
//! Serializing [`Bundle`] itself would hand the serializer its top-level fields out of key order,
//! and putting them in order would move the whole document (the gateways sort before fields
//! written ahead of them). Declared sorted, the view's fields arrive in place. It also lets the
//! digest print the bundle with an empty `digest` without cloning it.

use serde::Serialize;

use crate::types::bundle::{Bundle, CompilerInfo, SourceDigest};
use crate::types::gateway::Gateway;
use crate::types::graph::Graph;
use crate::types::mesh::Mesh;
use crate::types::service::Service;
use crate::types::stream::{Stream, Topic};

/// The fields of a [`Bundle`] under the same names, in key (byte) order.
#[derive(Serialize)]
pub(crate) struct BundleView<'a> {
    compiler: &'a CompilerInfo,
    digest: &'a str,
    format_version: u32,
    gateways: &'a [Gateway],
    graph: &'a Graph,
    mesh: &'a Mesh,
    #[serde(skip_serializing_if = "is_zero")]
    serial: u64,
    services: &'a [Service],
    sources: &'a [SourceDigest],
    streams: &'a [Stream],
    topics: &'a [Topic],
}

impl<'a> BundleView<'a> {
    /// `bundle` with `digest` in place of its own (the digest is taken with `""` there).
    pub(crate) fn new(bundle: &'a Bundle, digest: &'a str) -> Self {
        // Exhaustive on purpose: a field added to `Bundle` fails to compile here until the view,
        // and so the canonical text and the digest, cover it.
        let Bundle {
            format_version,
            compiler,
            serial,
            digest: _,
            sources,
            gateways,
            services,
            mesh,
            topics,
            streams,
            graph,
        } = bundle;
        BundleView {
            compiler,
            digest,
            format_version: *format_version,
            gateways,
            graph,
            mesh,
            serial: *serial,
            services,
            sources,
            streams,
            topics,
        }
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical_json::{sorted_value, to_canonical_string, Layout};
    use crate::sample::starfleet_bundle;

    #[test]
    fn the_view_prints_as_the_bundle_does() {
        let bundle = starfleet_bundle();
        let view = BundleView::new(&bundle, &bundle.digest);
        let expected = serde_json::to_string(&sorted_value(&bundle).unwrap()).unwrap();
        assert_eq!(
            to_canonical_string(&view, Layout::Compact).unwrap(),
            expected
        );
    }

    #[test]
    fn the_view_writes_its_top_level_fields_in_key_order() {
        let bundle = starfleet_bundle();
        let view = serde_json::to_value(BundleView::new(&bundle, "")).unwrap();
        let in_declared_order = serde_json::to_string(&BundleView::new(&bundle, "")).unwrap();
        let keys: Vec<&String> = view.as_object().unwrap().keys().collect();
        let mut positions = keys.iter().map(|key| {
            in_declared_order
                .find(&format!("\"{key}\":"))
                .expect("every top-level key is printed")
        });
        let mut previous = positions.next().unwrap();
        for position in positions {
            assert!(
                previous < position,
                "top-level keys out of order in {in_declared_order:.200}"
            );
            previous = position;
        }
    }
}
