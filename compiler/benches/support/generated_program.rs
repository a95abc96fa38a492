//! The generated program every scale benchmark compiles or serves: one gateway with N routes across
//! 100 services. Each route has key auth, a group allow, a per-consumer rate limit and a forward
//! with `strip_prefix`; every tenth route adds a CEL condition, as real gateways do. Shared by the
//! criterion bench (`benches/pipeline.rs`) and `examples/generate_program.rs`, which the
//! `bench/` scripts run, so every figure in BENCHMARKS.md is taken on the same text.

use std::fmt::Write;

/// The number of services the routes are spread over.
pub const SERVICES: usize = 100;

/// Where the generated gateway listens and where its services point.
#[derive(Debug, Clone)]
pub struct ProgramShape {
    /// How many routes.
    pub routes: usize,
    /// The gateway's listen address.
    pub listen: String,
    /// One endpoint for every service, or `None` for `127.0.0.1:10000 + n` (service `n`).
    pub upstream: Option<String>,
    /// Every route's rate limit (`100/min` unless a run needs more requests than that).
    pub rate: String,
    /// Every service's timeout (`2s`; another value makes a different bundle of the same routes).
    pub timeout: String,
}

impl ProgramShape {
    /// `routes` routes, listening on 0.0.0.0:8080, services on ports 10000–10099.
    pub fn new(routes: usize) -> Self {
        ProgramShape {
            routes,
            listen: "0.0.0.0:8080".to_string(),
            upstream: None,
            rate: "100/min".to_string(),
            timeout: "2s".to_string(),
        }
    }
}

/// The program text, about 196 bytes per route (19.6 MB for 100 000 routes).
pub fn generate_program(shape: &ProgramShape) -> String {
    let mut out = String::with_capacity(shape.routes * 200 + SERVICES * 120 + 256);
    let _ = writeln!(out, "gateway edge {{\n  listen \"{}\"", shape.listen);
    out.push_str("  consumer picard { key env(\"PICARD_KEY\") groups [captains] }\n");
    for i in 0..shape.routes {
        let service = i % SERVICES;
        let _ = write!(
            out,
            "  route r{i} {{\n    match GET \"/s{service}/items{i}/{{id}}\"\n    auth key header \"x-api-key\"\n    allow groups [captains]\n    rate_limit {} per consumer\n",
            shape.rate
        );
        if i % 10 == 0 {
            out.push_str(
                "    when request.headers[\"x-stardate\"] != \"\" && request.method == \"GET\"\n",
            );
        }
        let _ = write!(
            out,
            "    forward svc{service} strip_prefix \"/s{service}\"\n  }}\n"
        );
    }
    out.push_str("}\n\n");
    for s in 0..SERVICES {
        let endpoint = match &shape.upstream {
            Some(address) => address.clone(),
            None => format!("127.0.0.1:{}", 10_000 + s),
        };
        let _ = write!(
            out,
            "service svc{s} {{\n  endpoints [\"{endpoint}\"]\n  timeout {}\n  retry 2 on [connect_failure, 503] backoff 25ms..250ms\n}}\n",
            shape.timeout
        );
    }
    out.push_str("mesh {\n  default deny\n  allow edge -> *\n}\n");
    out
}
