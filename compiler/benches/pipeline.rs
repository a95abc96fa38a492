//! Whole-pipeline benchmark: parse + check + emit generated programs of 1k, 10k and 100k routes
//! across 100 services, then each stage on its own: the parser, resolve + graph + checks,
//! lowering + seal, the seal alone (canonical JSON + SHA-256) and the pretty JSON `meshc build`
//! writes. Run: `cargo bench -p meshc --bench pipeline` (add `-- parse_check_emit`,
//! `-- resolve_graph_check` or `-- stages` for one group; figures in BENCHMARKS.md).

#[path = "support/generated_program.rs"]
mod generated_program;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The generated program of `routes` routes (`generated_program.rs`, shared with the bench/ scripts).
fn generate_program(routes: usize) -> String {
    generated_program::generate_program(&generated_program::ProgramShape::new(routes))
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_check_emit");
    for routes in [1_000usize, 10_000, 100_000] {
        let program = generate_program(routes);
        group.throughput(Throughput::Elements(routes as u64));
        group.sample_size(if routes >= 100_000 { 10 } else { 20 });
        group.measurement_time(Duration::from_secs(if routes >= 100_000 { 20 } else { 8 }));
        group.bench_with_input(
            BenchmarkId::from_parameter(routes),
            &program,
            |b, program| {
                b.iter(|| {
                    let compilation = meshc::compile_text("bench.mesh", black_box(program));
                    assert!(!compilation.has_errors());
                    black_box(compilation.bundle)
                })
            },
        );
    }
    group.finish();
}

/// The sizes every stage is measured at, with criterion's sample count and time for each.
const SIZES: [(usize, usize, u64); 3] = [(1_000, 20, 5), (10_000, 10, 5), (100_000, 10, 15)];

/// The verified-graph stage alone on already-parsed programs: resolve, build the graph and run
/// every check (what `meshc check` adds to parsing), to keep the checks near-linear.
fn checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve_graph_check");
    for (routes, samples, seconds) in SIZES {
        let loaded = meshc::input::loader::load_text("bench.mesh", &generate_program(routes));
        group.throughput(Throughput::Elements(routes as u64));
        group.sample_size(samples);
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_with_input(BenchmarkId::from_parameter(routes), &loaded, |b, loaded| {
            b.iter(|| {
                let program = meshc::resolve::Program::new(&loaded.sources, &loaded.files);
                let mut diagnostics = meshc::resolve::check_names(&program);
                let graph = meshc::graph::build::build_graph(&program);
                diagnostics.extend(meshc::checks::run_all(&program, &graph));
                assert!(diagnostics.is_empty());
                black_box(graph.graph.node_count())
            })
        });
    }
    group.finish();
}

/// The other stages on their own, to see where the time goes: the parser (text → syntax tree),
/// lowering + seal (syntax tree and graph → sealed bundle), the seal alone (canonical JSON +
/// SHA-256 of a finished bundle) and the pretty JSON `meshc build` writes to disk.
fn stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("stages");
    for (routes, samples, seconds) in SIZES {
        let program = generate_program(routes);
        let loaded = meshc::input::loader::load_text("bench.mesh", &program);
        let graph = meshc::graph::build::build_graph(&meshc::resolve::Program::new(
            &loaded.sources,
            &loaded.files,
        ));
        let bundle = meshc::compile_text("bench.mesh", &program)
            .bundle
            .expect("the generated program compiles");
        group.throughput(Throughput::Elements(routes as u64));
        group.sample_size(samples);
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_with_input(BenchmarkId::new("parse", routes), &program, |b, program| {
            b.iter(|| {
                black_box(meshc::syntax::parser::parse_file(
                    meshc::source::FileId(0),
                    black_box(program),
                ))
            })
        });
        group.bench_function(BenchmarkId::new("lower_and_seal", routes), |b| {
            b.iter(|| {
                let (bundle, diagnostics) =
                    meshc::emit::emit_bundle_with_graph(&loaded.sources, &loaded.files, &graph);
                assert!(diagnostics.is_empty());
                black_box(bundle)
            })
        });
        group.bench_function(BenchmarkId::new("seal", routes), |b| {
            b.iter(|| black_box(meshwork_bundle::compute_digest(black_box(&bundle))))
        });
        group.bench_function(BenchmarkId::new("pretty_json", routes), |b| {
            b.iter(|| black_box(black_box(&bundle).to_pretty_json()))
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline, checks, stages);
criterion_main!(benches);
