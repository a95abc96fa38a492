//! Every diagnostic code of every stage, for `meshc codes` and `docs/diagnostics.md`
//! (`cargo run -p meshc -- codes --markdown > docs/diagnostics.md`; a test keeps the file in step).

use crate::diagnostics::codes::Code;

/// All codes, sorted by id.
pub fn all_codes() -> Vec<&'static Code> {
    let stages: &[&[&'static Code]] = &[
        crate::diagnostics::codes::CODES,
        crate::resolve::CODES,
        crate::checks::paths::CODES,
        crate::checks::routes::CODES,
        crate::checks::mesh::CODES,
        crate::checks::events::CODES,
        crate::topic_schema::CODES,
        crate::checks::cel::CODES,
        crate::checks::cel::schema_fields::CODES,
        crate::checks::cel::stream_output::CODES,
        crate::checks::security::CODES,
        crate::checks::sanity::CODES,
        crate::checks::traffic::CODES,
        crate::checks::upgrades::CODES,
    ];
    let mut all: Vec<&'static Code> = stages.iter().flat_map(|s| s.iter().copied()).collect();
    all.sort_by_key(|c| c.id);
    all
}

/// Looks a code up by its id (`"E0001"`).
pub fn code_by_id(id: &str) -> Option<&'static Code> {
    all_codes().into_iter().find(|c| c.id == id)
}

/// The code table as text, or as the Markdown of `docs/diagnostics.md`.
pub fn render_table(markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out.push_str("# Diagnostics\n\nEvery diagnostic `meshc` reports: what it means, why it matters, how to fix it.\nGenerated from the code tables in `compiler/src` (`cargo run -p meshc -- codes --markdown > docs/diagnostics.md`).\n");
        for code in all_codes() {
            out.push_str(&format!(
                "\n## {} — {}\n\n{}\n\n**How to fix:** {}\n\n```mesh\n{}\n```\n",
                code.id, code.title, code.explanation, code.fix, code.example
            ));
        }
    } else {
        for code in all_codes() {
            out.push_str(&format!("{}  {}\n", code.id, code.title));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_ids_are_unique_and_well_formed() {
        let all = all_codes();
        for pair in all.windows(2) {
            assert_ne!(pair[0].id, pair[1].id, "duplicate code id");
        }
        for code in &all {
            assert!(
                code.id.len() == 5 && (code.id.starts_with('E') || code.id.starts_with('W')),
                "{}",
                code.id
            );
            assert!(
                !code.explanation.is_empty() && !code.fix.is_empty() && !code.example.is_empty(),
                "{} undocumented",
                code.id
            );
        }
        assert_eq!(code_by_id("E0001").map(|c| c.title), Some("syntax error"));
    }
}
