//! Route lookup at 10 000 routes: exact, template, prefix and host-bound routes sorted by
//! precedence, looked up with hits of each kind and a miss.
//! Run: `cargo bench -p meshwork-bundle --bench matcher`.

use criterion::{criterion_group, criterion_main, Criterion};
use meshwork_bundle::matcher::{MatchOutcome, RequestTarget, RouteTable};
use meshwork_bundle::{
    sort_by_precedence, PathKind, PathMatch, Route, RouteAction, RouteMatch, SourceLocation,
};
use std::hint::black_box;

fn route(
    i: usize,
    method: Option<&str>,
    kind: PathKind,
    path: String,
    host: Option<String>,
) -> Route {
    Route {
        name: format!("r{i}"),
        matcher: RouteMatch {
            method: method.map(str::to_string),
            path: PathMatch {
                kind,
                value: path,
                params: Vec::new(),
            },
            host,
            headers: Vec::new(),
            query: Vec::new(),
        },
        public: true,
        admission: Vec::new(),
        action: RouteAction::Respond {
            status: 200,
            body: String::new(),
            content_type: "text/plain".to_string(),
        },
        source: SourceLocation {
            file: "bench.mesh".to_string(),
            line: u32::try_from(i + 1).unwrap(),
            column: 1,
        },
    }
}

/// 10 000 routes: 4 000 exact, 3 000 templates, 2 000 prefixes, 1 000 bound to hosts.
pub fn ten_thousand_routes() -> Vec<Route> {
    let mut routes = Vec::with_capacity(10_000);
    for i in 0..4_000 {
        routes.push(route(
            i,
            Some("GET"),
            PathKind::Exact,
            format!("/svc{}/items/list{i}", i % 50),
            None,
        ));
    }
    for i in 0..3_000 {
        let path = format!("/api/v{}/res{i}/{{id}}/detail", i % 5);
        routes.push(route(
            4_000 + i,
            Some("GET"),
            PathKind::Template,
            path,
            None,
        ));
    }
    for i in 0..2_000 {
        routes.push(route(
            7_000 + i,
            None,
            PathKind::Prefix,
            format!("/static{i}/assets"),
            None,
        ));
    }
    for i in 0..1_000 {
        let host = if i % 2 == 0 {
            format!("h{i}.example.com")
        } else {
            format!("*.t{i}.example.com")
        };
        routes.push(route(
            9_000 + i,
            Some("POST"),
            PathKind::Exact,
            format!("/hook{i}"),
            Some(host),
        ));
    }
    sort_by_precedence(&mut routes);
    routes
}

fn lookups(c: &mut Criterion) {
    let routes = ten_thousand_routes();
    let table = RouteTable::new(&routes).unwrap();
    let cases = [
        (
            "exact_hit",
            "GET",
            "api.example.com",
            "/svc7/items/list2357",
        ),
        (
            "template_hit",
            "GET",
            "api.example.com",
            "/api/v3/res2998/12345/detail",
        ),
        (
            "prefix_hit",
            "GET",
            "api.example.com",
            "/static1999/assets/css/site.css",
        ),
        ("exact_host_hit", "POST", "h998.example.com", "/hook998"),
        (
            "wildcard_host_hit",
            "POST",
            "a.t999.example.com",
            "/hook999",
        ),
        ("miss", "GET", "api.example.com", "/nothing/here/at/all"),
    ];
    for (name, method, host, path) in cases {
        let target = RequestTarget::new(method, host, path);
        let found = table.find(&target);
        assert!(
            matches!(found, MatchOutcome::Matched { .. }) == (name != "miss"),
            "{name}: {found:?}"
        );
        c.bench_function(&format!("match_10k/{name}"), |b| {
            b.iter(|| black_box(table.find(black_box(&target))))
        });
    }
    c.bench_function("match_10k/build_table", |b| {
        b.iter(|| black_box(RouteTable::new(black_box(&routes)).unwrap()))
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
