//! A bundle as its canonical text is written: every field borrowed, declared in key order.
//!
//! Serializing [`Bundle`] itself would hand the serializer its top-level fields out of key order,
//! and putting them in order would move the whole document (the gateways sort before fields
//! written ahead of them). Declared sorted, the view's fields arrive in place. It also lets the
//! digest print the bundle with an empty `digest` without cloning it. Gateways are written
//! through [`GatewayView`], which prints a large gateway's routes on two threads.

use serde::Serialize;

use super::gateway_view::{GatewaysView, SPLIT_FROM};
use super::Layout;
use crate::types::bundle::{Bundle, CompilerInfo, SourceDigest};
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
    gateways: GatewaysView<'a>,
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
    /// `bundle` with `digest` in place of its own (the digest is taken with `""` there), to be
    /// written in `layout`.
    pub(crate) fn new(bundle: &'a Bundle, digest: &'a str, layout: Layout) -> Self {
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
            gateways: GatewaysView {
                gateways,
                layout,
                split_from: SPLIT_FROM,
            },
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

impl BundleView<'_> {
    /// The view with gateways' routes printed on two threads from `routes` routes.
    #[cfg(test)]
    fn splitting_from(mut self, routes: usize) -> Self {
        self.gateways.split_from = routes;
        self
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
        let view = BundleView::new(&bundle, &bundle.digest, Layout::Compact);
        let expected = serde_json::to_string(&sorted_value(&bundle).unwrap()).unwrap();
        assert_eq!(
            to_canonical_string(&view, Layout::Compact).unwrap(),
            expected
        );
    }

    /// The keys of the JSON object `text`, in the order they are written.
    fn written_keys(text: &str) -> Vec<String> {
        let (mut keys, mut depth, mut string, mut escaped) = (Vec::new(), 0, None, false);
        for (at, c) in text.char_indices() {
            match (string, c) {
                (Some(_), _) if escaped => escaped = false,
                (Some(_), '\\') => escaped = true,
                (Some(start), '"') => {
                    // A key is a depth-1 string followed by a colon.
                    if depth == 1 && text[at + 1..].starts_with(':') {
                        keys.push(text[start + 1..at].to_string());
                    }
                    string = None;
                }
                (Some(_), _) => {}
                (None, '"') => string = Some(at),
                (None, '{' | '[') => depth += 1,
                (None, '}' | ']') => depth -= 1,
                (None, _) => {}
            }
        }
        keys
    }

    /// Asserts that `value`'s own fields are written in key order (the canonical writer then
    /// leaves them where they are).
    fn assert_written_in_key_order<T: Serialize>(value: &T) {
        let keys = written_keys(&serde_json::to_string(value).unwrap());
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "fields written out of key order");
        assert!(keys.len() > 3, "too few fields to tell: {keys:?}");
    }

    #[test]
    fn the_view_writes_its_top_level_fields_in_key_order() {
        let bundle = starfleet_bundle();
        assert_written_in_key_order(&BundleView::new(&bundle, "", Layout::Pretty));
    }

    /// A gateway holds every route: were its fields out of key order, putting them in order
    /// would move all its routes (110 MB for 100k routes) through a scratch buffer as large.
    #[test]
    fn a_gateway_writes_its_fields_in_key_order() {
        let mut bundle = starfleet_bundle();
        let gateway = &mut bundle.gateways[0];
        // Every optional field present.
        gateway.tracing = Some(crate::types::gateway::Tracing { sample_percent: 10 });
        gateway.path_policy.merge_slashes = false;
        assert_written_in_key_order(gateway);
    }

    /// The text of the view, split from `split_from` routes, against serde_json's of the bundle.
    fn assert_prints_as_the_bundle(bundle: &Bundle, split_from: usize) {
        let view =
            BundleView::new(bundle, &bundle.digest, Layout::Compact).splitting_from(split_from);
        let expected = serde_json::to_string(&sorted_value(bundle).unwrap()).unwrap();
        assert_eq!(
            to_canonical_string(&view, Layout::Compact).unwrap(),
            expected,
            "{} routes split from {split_from}",
            bundle.gateways[0].routes.len()
        );
    }

    #[test]
    fn routes_printed_on_two_threads_join_into_the_same_text() {
        let mut bundle = starfleet_bundle();
        let routes = bundle.gateways[0].routes.clone();
        // Every length from none to 12 (odd and even halves), split and not.
        for count in 0..=12 {
            bundle.gateways[0].routes = routes.iter().cycle().take(count).cloned().collect();
            for split_from in [0, 1, 2, 3, 7, usize::MAX] {
                assert_prints_as_the_bundle(&bundle, split_from);
            }
        }
    }

    #[test]
    fn pretty_text_is_never_split() {
        let bundle = starfleet_bundle();
        let view = BundleView::new(&bundle, &bundle.digest, Layout::Pretty).splitting_from(1);
        let expected = serde_json::to_string_pretty(&sorted_value(&bundle).unwrap()).unwrap();
        assert_eq!(
            to_canonical_string(&view, Layout::Pretty).unwrap(),
            expected
        );
    }

    #[test]
    fn a_gateway_view_writes_its_fields_in_key_order() {
        let mut bundle = starfleet_bundle();
        let gateway = &mut bundle.gateways[0];
        gateway.tracing = Some(crate::types::gateway::Tracing { sample_percent: 10 });
        gateway.path_policy.merge_slashes = false;
        let view = super::super::gateway_view::GatewayView::new(gateway, Layout::Pretty, 1);
        assert_written_in_key_order(&view);
    }
}
