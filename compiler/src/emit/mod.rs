//! Lowering the checked program into the bundle.
//!
//! Files arrive in any order; everything is visited in program order — files sorted by path,
//! items by offset — and every list without a meaningful order is sorted, so identical sources
//! always give a byte-identical bundle.

mod context;
mod lower_gateway;
mod lower_graph;
mod lower_mesh;
mod lower_route;
mod lower_service;
mod lower_stream;
mod source_digest;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use meshwork_bundle::{Bundle, CompilerInfo};

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, SourceMap};
use crate::syntax::ast;
use context::EmitContext;

pub use crate::resolve::route_match::template_params;
pub use crate::resolve::traffic_split::split_weights;
pub use lower_route::DEFAULT_RESPOND_CONTENT_TYPE;
pub use lower_service::{
    DEFAULT_BACKOFF_MS, DEFAULT_CIRCUIT_BREAKER, DEFAULT_HEALTH_THRESHOLDS,
    DEFAULT_HEALTH_TIMEOUT_MS, DEFAULT_RETRY_ON, DEFAULT_TIMEOUT_MS,
};
pub use lower_stream::{
    DEFAULT_DELIVER_BACKOFF_MS, DEFAULT_DELIVER_CONCURRENCY, DEFAULT_DELIVER_PATH,
    DEFAULT_DELIVER_RETRY,
};

/// The program's items grouped by kind and name, each group in program order.
#[derive(Default)]
struct ProgramItems<'f> {
    gateways: BTreeMap<&'f str, Vec<&'f ast::Gateway>>,
    services: BTreeMap<&'f str, Vec<&'f ast::Service>>,
    streams: BTreeMap<&'f str, Vec<&'f ast::Stream>>,
    topics: BTreeMap<&'f str, Vec<&'f ast::Topic>>,
    meshes: Vec<&'f ast::Mesh>,
}

impl<'f> ProgramItems<'f> {
    fn collect(sources: &SourceMap, files: &'f [(FileId, ast::File)]) -> Self {
        let mut ordered: Vec<&(FileId, ast::File)> = files.iter().collect();
        ordered.sort_by(|(a, _), (b, _)| sources.file(*a).path.cmp(&sources.file(*b).path));
        let mut items: Vec<&ast::Item> = Vec::new();
        for (_, file) in ordered {
            let mut in_file: Vec<&ast::Item> = file.items.iter().collect();
            in_file.sort_by_key(|item| item.span().start);
            items.extend(in_file);
        }
        let mut program = ProgramItems::default();
        for item in items {
            match item {
                ast::Item::Include(_) => {}
                ast::Item::Gateway(g) => program.gateways.entry(&g.name.node).or_default().push(g),
                ast::Item::Service(s) => program.services.entry(&s.name.node).or_default().push(s),
                ast::Item::Stream(s) => program.streams.entry(&s.name.node).or_default().push(s),
                ast::Item::Topic(t) => program.topics.entry(&t.name.node).or_default().push(t),
                ast::Item::Mesh(m) => program.meshes.push(m),
            }
        }
        program
    }
}

/// The compiler identity recorded in every bundle.
pub fn compiler_info() -> CompilerInfo {
    CompilerInfo {
        name: "meshc".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Builds the sealed bundle for a program that parsed without errors, deriving its graph.
pub fn emit_bundle(
    sources: &SourceMap,
    files: &[(FileId, ast::File)],
) -> (Bundle, Vec<Diagnostic>) {
    let program = crate::resolve::Program::new(sources, files);
    let graph = crate::graph::build::build_graph(&program);
    emit_bundle_with_graph(sources, files, &graph)
}

/// Builds the sealed bundle for a program that parsed without errors. Items with the same name
/// are merged naively (duplicates are reported by a later check, not here); a block that cannot
/// run (a route without an action, a stream without `from`, an inline secret) is reported.
pub fn emit_bundle_with_graph(
    sources: &SourceMap,
    files: &[(FileId, ast::File)],
    graph: &crate::graph::ProgramGraph,
) -> (Bundle, Vec<Diagnostic>) {
    let (mut bundle, diagnostics) = emit_unsealed(sources, files, graph);
    bundle.seal();
    (bundle, diagnostics)
}

/// [`emit_bundle_with_graph`] without the seal, for a caller that seals once it has set the
/// build's own fields (`meshc build`'s serial) and keeps the sealed text.
pub fn emit_unsealed(
    sources: &SourceMap,
    files: &[(FileId, ast::File)],
    graph: &crate::graph::ProgramGraph,
) -> (Bundle, Vec<Diagnostic>) {
    let program = ProgramItems::collect(sources, files);
    let mut cx = EmitContext::new(sources);
    let mut bundle = Bundle::new(compiler_info());
    bundle.sources = source_digest::source_digests(sources, files);
    // The mesh first: its trust domain gives identities to the gateways and services.
    bundle.mesh = lower_mesh::lower_mesh(&cx, &program.meshes);
    let trust_domain = bundle.mesh.trust_domain.as_deref();
    bundle.gateways = program
        .gateways
        .values()
        .filter_map(|decls| lower_gateway::lower_gateway(&mut cx, decls, trust_domain))
        .collect();
    bundle.services = program
        .services
        .values()
        .filter_map(|decls| lower_service::lower_service(&cx, decls, trust_domain))
        .collect();
    bundle.topics = program
        .topics
        .values()
        .filter_map(|decls| lower_stream::lower_topic(&cx, decls))
        .collect();
    bundle.streams = program
        .streams
        .values()
        .filter_map(|decls| lower_stream::lower_stream(&mut cx, decls))
        .collect();
    bundle.graph = lower_graph::lower_graph(graph);
    (bundle, cx.diagnostics)
}
