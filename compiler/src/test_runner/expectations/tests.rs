use super::*;
use crate::source::FileId;
use crate::syntax::parser::test_file::parse_test_file;
use crate::syntax::test_ast::TestStatement;
use crate::test_runner::outcome::Refusal;

/// The expectations of a one-test file whose body is `lines`.
fn expectations(lines: &str) -> Vec<Expectation> {
    let text = format!("test \"t\" {{\n  request GET \"/\"\n{lines}\n}}\n");
    let (file, diagnostics) = parse_test_file(FileId(0), &text);
    assert!(diagnostics.is_empty(), "{text}");
    file.tests[0]
        .statements
        .iter()
        .filter_map(|s| match s {
            TestStatement::Expect(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn failures(lines: &str, outcome: &Outcome) -> Vec<String> {
    expectations(lines)
        .iter()
        .filter_map(|e| check(e, outcome))
        .collect()
}

fn at_line(line: u32) -> SourceLocation {
    SourceLocation {
        file: "bridge.mesh".to_string(),
        line,
        column: 5,
    }
}

fn split() -> Outcome {
    Outcome {
        gateway: Some("edge".into()),
        route: Some(("helm".into(), at_line(8))),
        allowed: true,
        forward: Some(vec![("conn".into(), 90), ("autopilot".into(), 10)]),
        upstream_headers: vec![("x-helm".into(), "manual".into())],
        ..Outcome::default()
    }
}

#[test]
fn a_split_is_checked_as_the_whole_set_with_its_weights() {
    let outcome = split();
    assert!(failures("  expect forward conn 90%, autopilot 10%", &outcome).is_empty());
    assert!(failures("  expect forward autopilot, conn", &outcome).is_empty());
    let partial = failures("  expect forward conn", &outcome);
    assert_eq!(partial.len(), 1);
    assert!(
        partial[0].contains("conn 90%, autopilot 10%"),
        "{partial:?}"
    );
    assert_eq!(
        failures("  expect forward conn 50%, autopilot 50%", &outcome).len(),
        1
    );
}

#[test]
fn a_forwarded_request_has_no_status_of_its_own() {
    let failed = failures("  expect status 200", &split());
    assert_eq!(failed.len(), 1);
    assert!(failed[0].contains("expect `forward` instead"), "{failed:?}");
}

#[test]
fn upstream_headers_are_checked_after_header_rules() {
    let outcome = split();
    assert!(failures("  expect header \"x-helm\" \"manual\"", &outcome).is_empty());
    assert!(failures("  expect no_header \"cookie\"", &outcome).is_empty());
    assert_eq!(failures("  expect no_header \"x-helm\"", &outcome).len(), 1);
    assert_eq!(
        failures("  expect header \"x-helm\" \"autopilot\"", &outcome).len(),
        1
    );
}

#[test]
fn a_refusal_names_its_step_and_rule() {
    let outcome = Outcome {
        gateway: Some("edge".into()),
        route: Some(("helm".into(), at_line(8))),
        status: Some(403),
        refusal: Some(Refusal {
            step: "access".into(),
            reason: "consumer wesley is not allowed".into(),
            source: Some(at_line(11)),
        }),
        ..Outcome::default()
    };
    let holds = "  expect status 403\n  expect denied access\n  expect reason \"wesley\"\n  expect rule \"bridge.mesh:11\"";
    assert!(failures(holds, &outcome).is_empty());
    let wrong_step = failures("  expect denied auth", &outcome);
    assert_eq!(wrong_step.len(), 1);
    assert!(
        wrong_step[0].contains("refused with 403 by access at bridge.mesh:11:5"),
        "{wrong_step:?}"
    );
    assert_eq!(
        failures("  expect rule \"bridge.mesh:12\"", &outcome).len(),
        1
    );
    assert_eq!(failures("  expect allowed", &outcome).len(), 1);
}
