//! The results of a test run: one [`CaseResult`] per test, and the coverage when asked for.

use serde::Serialize;

use super::coverage::Coverage;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Every expectation held.
    Passed,
    /// Some expectation did not hold.
    Failed,
    /// The test could not be run (a credential that cannot be sent, a program meshd refuses).
    Error,
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedExpectation {
    /// The `expect …` statement as written.
    pub expectation: String,
    /// `file:line:column` of the statement.
    pub at: String,
    /// What was expected, what happened, and the rule that decided.
    pub message: String,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    pub name: String,
    /// The test file.
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub status: CaseStatus,
    /// What happened, naming the deciding rule.
    pub outcome: String,
    pub failures: Vec<FailedExpectation>,
    /// Why the test could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub cases: Vec<CaseResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

impl TestReport {
    /// A report of `cases`, counted.
    pub fn new(cases: Vec<CaseResult>, coverage: Option<Coverage>) -> Self {
        let count = |status| cases.iter().filter(|c| c.status == status).count();
        TestReport {
            passed: count(CaseStatus::Passed),
            failed: count(CaseStatus::Failed),
            errors: count(CaseStatus::Error),
            cases,
            coverage,
        }
    }

    /// Whether every test passed.
    pub fn succeeded(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}
