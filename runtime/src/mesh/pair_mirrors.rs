//! Mirrors on mesh pairs (`mirror SOURCE -> TARGETS to SERVICE [P%] [max_body SIZE] [queue N]`):
//! the caller's outbound sidecar copies a share of its app's calls to a destination to a second
//! service, fire and forget, as Istio applies a VirtualService `mirror` in the client's Envoy.
//!
//! Each (line, destination) pair gets its own [`Mirror`] from `forward/` (the route mirror's
//! bounded queue, body limit and counters), copying through the mirror service's
//! [`ServiceState`]: the same balancing, timeout and mutual TLS pinned to the mirror service's
//! identity as any outbound call. The copy's answer is dropped unread.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Method};
use meshwork_bundle::MeshMirror;

use crate::forward::http1::request_encoder::{encode_head, BodyFraming, ForwardedHeaders};
use crate::forward::mirror::{shadow_host, Mirror, MirrorCopy};
use crate::forward::service_state::ServiceState;
use crate::forward::MessageHeaders;
use crate::metrics::Metrics;

/// The mirrors of one sidecar's outbound calls, by destination service, built at load.
#[derive(Debug, Default)]
pub struct PairMirrors {
    by_destination: HashMap<String, Vec<Mirror>>,
}

impl PairMirrors {
    /// The mirrors of the calls `service` makes: every line whose caller is `service` or `*`,
    /// for each destination it names (`*`: every service but the mirror itself).
    pub fn build(
        service: &str,
        lines: &[MeshMirror],
        services: &HashMap<String, Arc<ServiceState>>,
        metrics: &Metrics,
    ) -> PairMirrors {
        let mut by_destination: HashMap<String, Vec<Mirror>> = HashMap::new();
        for line in lines.iter().filter(|l| l.from == "*" || l.from == service) {
            let copies_to = &line.mirror.service;
            let Some(mirror_service) = services.get(copies_to) else {
                // The compiler refuses an unknown service (E0100); a hand-made bundle's line
                // copies nothing rather than failing the load.
                continue;
            };
            let mut destinations: Vec<&str> = services
                .keys()
                .map(String::as_str)
                .filter(|name| line.covers(service, name) && *name != copies_to.as_str())
                .collect();
            destinations.sort_unstable();
            for destination in destinations {
                let counters = metrics.mesh_mirror_counters(service, destination, copies_to);
                by_destination
                    .entry(destination.to_string())
                    .or_default()
                    .push(Mirror::new(
                        &line.mirror,
                        Arc::clone(mirror_service),
                        counters,
                    ));
            }
        }
        PairMirrors { by_destination }
    }

    /// The mirrors of calls to `destination` (none for most).
    pub fn to(&self, destination: &str) -> &[Mirror] {
        self.by_destination
            .get(destination)
            .map_or(&[], Vec::as_slice)
    }
}

/// Sends a copy of an outbound call (the app's method, target and headers) to `mirror`, its
/// `Host` suffixed with `-shadow`. Never waits.
pub fn send_pair_copy(
    mirror: &Mirror,
    method: &Method,
    target: &str,
    headers: &MessageHeaders,
    host: &str,
    body: Bytes,
) {
    let Ok(shadow) = HeaderValue::from_str(&shadow_host(host)) else {
        return;
    };
    let mut map = headers.to_header_map();
    map.insert(HOST, shadow);
    let headers = MessageHeaders::from_map(map);
    let framing = if body.is_empty() {
        BodyFraming::Empty
    } else {
        BodyFraming::Sized(body.len() as u64)
    };
    let mut head = Vec::with_capacity(512);
    encode_head(
        method,
        target,
        &headers,
        framing,
        &ForwardedHeaders::none(),
        &mut head,
    );
    mirror.send(MirrorCopy {
        head,
        body,
        head_request: method == Method::HEAD,
    });
}
