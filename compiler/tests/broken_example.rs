//! The deliberately broken copy of the starfleet example (`golden-tests/invalid_starfleet_broken.mesh`)
//! holds one mistake of every kind the checks know: one run must report every code that name
//! resolution and the checks declare. A new check needs its mistake added there.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn one_run_over_the_broken_example_reports_every_check_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let case = root.join("golden-tests/invalid_starfleet_broken.mesh");
    let compilation = meshc::compile_paths(&[case]).expect("readable");
    let reported: BTreeSet<&str> = compilation.diagnostics.iter().map(|d| d.code.id).collect();
    let tables: &[&[&meshc::diagnostics::Code]] = &[
        meshc::resolve::CODES,
        meshc::checks::routes::CODES,
        meshc::checks::mesh::CODES,
        meshc::checks::events::CODES,
        meshc::checks::cel::CODES,
        meshc::checks::security::CODES,
        meshc::checks::sanity::CODES,
    ];
    let missing: Vec<&str> = tables
        .iter()
        .flat_map(|t| t.iter())
        .map(|c| c.id)
        .filter(|id| !reported.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "codes not reported by the broken example: {missing:?}"
    );
    for also in ["E0030", "E0010"] {
        assert!(
            reported.contains(also),
            "{also} (front-end code reported by the checks) missing"
        );
    }
    assert!(compilation.bundle.is_none());
}

#[test]
fn the_example_itself_checks_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let compilation = meshc::compile_paths(&[root.join("examples/starfleet")]).expect("readable");
    let codes: Vec<&str> = compilation.diagnostics.iter().map(|d| d.code.id).collect();
    assert!(codes.is_empty(), "examples/starfleet reports {codes:?}");
    assert!(compilation
        .bundle
        .is_some_and(|b| b.graph.node("route:edge/officers").is_some()));
}
