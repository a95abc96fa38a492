//! Whole-pipeline benchmark: parse + check + emit generated programs of 1k, 10k and 100k routes
//! across 100 services; the resolve + graph + checks stage, the parser and the bundle's seal on
//! their own. Run: `cargo bench -p meshc --bench pipeline` (add `-- resolve_graph_check` for the
//! checks only, `-- parts` for the parser and the seal; figures in BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A program with `routes` routes on one gateway, forwarding to 100 services; every tenth route
/// carries a CEL condition, as real gateways do.
fn generate_program(routes: usize) -> String {
    const SERVICES: usize = 100;
    let mut out = String::with_capacity(routes * 260);
    out.push_str("gateway edge {\n  listen \"0.0.0.0:8080\"\n");
    out.push_str("  consumer picard { key env(\"PICARD_KEY\") groups [captains] }\n");
    for i in 0..routes {
        let service = i % SERVICES;
        out.push_str(&format!(
            "  route r{i} {{\n    match GET \"/s{service}/items{i}/{{id}}\"\n    auth key header \"x-api-key\"\n    allow groups [captains]\n    rate_limit 100/min per consumer\n"
        ));
        if i % 10 == 0 {
            out.push_str(
                "    when request.headers[\"x-stardate\"] != \"\" && request.method == \"GET\"\n",
            );
        }
        out.push_str(&format!(
            "    forward svc{service} strip_prefix \"/s{service}\"\n  }}\n"
        ));
    }
    out.push_str("}\n\n");
    for s in 0..SERVICES {
        out.push_str(&format!(
            "service svc{s} {{\n  endpoints [\"127.0.0.1:{}\"]\n  timeout 2s\n  retry 2 on [connect_failure, 503] backoff 25ms..250ms\n}}\n",
            10_000 + s
        ));
    }
    out.push_str("mesh {\n  default deny\n  allow edge -> *\n}\n");
    out
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

/// The verified-graph stage alone on already-parsed programs: resolve, build the graph and run
/// every check (what `meshc check` adds to parsing), to keep the checks near-linear.
fn checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve_graph_check");
    for routes in [10_000usize, 100_000] {
        let loaded = meshc::input::loader::load_text("bench.mesh", &generate_program(routes));
        group.throughput(Throughput::Elements(routes as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if routes >= 100_000 { 15 } else { 5 }));
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

/// The two largest parts of the pipeline on their own, to see where the time goes: the parser
/// (text → syntax tree) and the bundle's seal (canonical JSON + SHA-256 digest).
fn parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("parts");
    for routes in [10_000usize, 100_000] {
        let program = generate_program(routes);
        group.throughput(Throughput::Elements(routes as u64));
        group.sample_size(10);
        group.bench_with_input(BenchmarkId::new("parse", routes), &program, |b, program| {
            b.iter(|| black_box(meshc::syntax::parser::parse_file(meshc::source::FileId(0), black_box(program))))
        });
    }
    let program = generate_program(10_000);
    let bundle = meshc::compile_text("bench.mesh", &program).bundle.expect("the generated program compiles");
    group.bench_function(BenchmarkId::new("seal", 10_000), |b| {
        b.iter(|| {
            let mut bundle = bundle.clone();
            bundle.seal();
            black_box(bundle.digest)
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline, checks, parts);
criterion_main!(benches);
