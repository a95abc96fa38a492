//! A test run for people, as JSON, or as JUnit XML for CI systems.

use std::fmt::Write;

use super::coverage::{Coverage, Tally};
use super::report::{CaseStatus, TestReport};

fn fraction(tally: &Tally) -> String {
    format!("{}/{}", tally.reached, tally.total)
}

fn render_coverage(out: &mut String, coverage: &Coverage) {
    let _ = writeln!(
        out,
        "\ncoverage: {} routes, {} mesh rules, {} admission steps, {} streams",
        fraction(&coverage.routes),
        fraction(&coverage.mesh_rules),
        fraction(&coverage.admission_steps),
        fraction(&coverage.streams)
    );
    if coverage.not_reached.is_empty() {
        let _ = writeln!(
            out,
            "every route, mesh rule, admission step and stream is reached"
        );
        return;
    }
    let _ = writeln!(out, "not reached by any test:");
    for decider in &coverage.not_reached {
        let _ = writeln!(
            out,
            "  {} {}  ({})",
            decider.kind, decider.name, decider.source
        );
    }
}

/// Text for people: one line per test, each failure with its expectation, what happened and
/// the deciding rule, then the totals (and the coverage).
pub fn render_human(report: &TestReport) -> String {
    let mut out = String::new();
    for case in &report.cases {
        let mark = match case.status {
            CaseStatus::Passed => "ok   ",
            CaseStatus::Failed => "FAIL ",
            CaseStatus::Error => "ERROR",
        };
        let _ = writeln!(
            out,
            "{mark} {}  ({}:{}:{})",
            case.name, case.file, case.line, case.column
        );
        if let Some(error) = &case.error {
            let _ = writeln!(out, "      {error}");
        }
        for failure in &case.failures {
            let _ = writeln!(out, "      {}  ({})", failure.expectation, failure.at);
            let _ = writeln!(out, "        {}", failure.message);
        }
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed{}",
        report.passed,
        report.failed,
        if report.errors > 0 {
            format!(", {} could not run", report.errors)
        } else {
            String::new()
        }
    );
    if let Some(coverage) = &report.coverage {
        render_coverage(&mut out, coverage);
    }
    out
}

/// One JSON document.
pub fn render_json(report: &TestReport) -> String {
    let mut json = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".to_string());
    json.push('\n');
    json
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `testsuite` per test file, one `testcase` per test.
pub fn render_junit(report: &TestReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"meshc test\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        report.cases.len(),
        report.failed,
        report.errors
    );
    let mut files: Vec<&str> = report.cases.iter().map(|c| c.file.as_str()).collect();
    files.dedup();
    for file in files {
        let cases: Vec<_> = report.cases.iter().filter(|c| c.file == file).collect();
        let count = |status| cases.iter().filter(|c| c.status == status).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            xml(file),
            cases.len(),
            count(CaseStatus::Failed),
            count(CaseStatus::Error)
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml(&case.name),
                xml(file),
                xml(file),
                case.line
            );
            match case.status {
                CaseStatus::Passed => out.push_str("/>\n"),
                CaseStatus::Failed => {
                    out.push_str(">\n");
                    let first = case.failures.first().map_or("", |f| f.message.as_str());
                    let details: Vec<String> = case
                        .failures
                        .iter()
                        .map(|f| format!("{} ({}): {}", f.expectation, f.at, f.message))
                        .collect();
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\">{}</failure>",
                        xml(first),
                        xml(&details.join("\n"))
                    );
                    out.push_str("    </testcase>\n");
                }
                CaseStatus::Error => {
                    out.push_str(">\n");
                    let message = case.error.as_deref().unwrap_or("");
                    let _ = writeln!(
                        out,
                        "      <error message=\"{}\">{}</error>",
                        xml(message),
                        xml(message)
                    );
                    out.push_str("    </testcase>\n");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
