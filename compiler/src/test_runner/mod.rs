//! `meshc test`: the program's tests (`test "name" { … }` blocks in `*.test.mesh` files), run
//! with the decision code meshd runs and no network. A request goes through the shared route
//! matcher and the route's admission from `meshwork-policy` (auth with credentials made for the
//! test, access lists, rate limits on a clock the test sets, CEL conditions, CORS, header
//! rules) to its action; a record through the streams that read its topic; a mesh call through
//! the mesh policy. Failures name the test, the expectation and the rule that decided.
//!
//! Each test starts from nothing: fresh rate-limit buckets, its own clock.

pub mod case_plan;
pub mod coverage;
pub mod credentials;
pub mod expectations;
pub mod gateway_case;
pub mod lazy_admission;
pub mod mesh_case;
pub mod outcome;
pub mod produce_case;
pub mod record_case;
pub mod render;
pub mod report;
pub mod traffic_case;
pub mod traffic_expectations;

use std::collections::BTreeMap;

use meshwork_bundle::matcher::RouteTable;
use meshwork_bundle::Bundle;
use meshwork_policy::admit::{AdmitClock, AdmitOptions, GatewayAdmission};
use meshwork_policy::secrets::{Secret, SecretStore};

use crate::diagnostics::Diagnostic;
use crate::explain::route_choice::gateways_for;
use crate::source::SourceMap;
use crate::syntax::test_ast::TestFile;

use case_plan::{plan_case, CasePlan, Subject};
use coverage::{coverage, Reached};
use credentials::{synthetic_secret, TestKeys};
use expectations::{check, describe_outcome};
use gateway_case::{add_credentials, decide_request, GatewayRun, SentRequest};
use lazy_admission::LazyAdmission;
use outcome::Outcome;
use report::{CaseResult, CaseStatus, FailedExpectation, TestReport};

/// The program, prepared once for every test: route tables, secrets made for tests, keys.
pub struct TestBed<'b> {
    bundle: &'b Bundle,
    tables: BTreeMap<String, RouteTable>,
    secrets: SecretStore,
    keys: TestKeys,
    /// Gateways whose admission meshd would refuse to build, with why.
    refused: BTreeMap<String, String>,
}

impl<'b> TestBed<'b> {
    /// Prepares `bundle` for tests.
    pub fn new(bundle: &'b Bundle) -> Result<Self, String> {
        let keys = TestKeys::generate()?;
        let mut tables = BTreeMap::new();
        for gateway in &bundle.gateways {
            let table = RouteTable::with_path_policy(&gateway.routes, &gateway.path_policy)
                .map_err(|e| format!("gateway `{}`: {e}", gateway.name))?;
            tables.insert(gateway.name.clone(), table);
        }
        let secrets = test_secrets(bundle, &keys);
        // Whether meshd accepts each gateway's admission, once (tests build routes lazily).
        let mut refused = BTreeMap::new();
        for gateway in &bundle.gateways {
            if let Err(error) = GatewayAdmission::build(gateway, &secrets, &AdmitOptions::default())
            {
                refused.insert(
                    gateway.name.clone(),
                    format!("meshd would refuse this program: {error}"),
                );
            }
        }
        Ok(TestBed {
            bundle,
            tables,
            secrets,
            keys,
            refused,
        })
    }

    /// The gateway a request goes to: the one the test names, else the one listening on the
    /// URL's port, else the only one.
    fn gateway_for(&self, plan: &CasePlan<'_>) -> Result<&'b meshwork_bundle::Gateway, String> {
        if let Some(name) = &plan.gateway {
            return self
                .bundle
                .gateways
                .iter()
                .find(|g| &g.name == name)
                .ok_or_else(|| format!("no gateway `{name}`"));
        }
        let candidates = gateways_for(&self.bundle.gateways, &plan.request);
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err("the program has no gateway".to_string()),
            many => Err(format!(
                "{} gateways could take the request ({}); name one with `gateway NAME` or put its port in the URL",
                many.len(),
                many.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Runs one planned test to its outcome.
    fn run_request(&self, plan: &CasePlan<'_>) -> Result<Outcome, String> {
        self.send_request(plan).map(|(_, outcome)| outcome)
    }

    /// Runs one planned request: what was sent (with its credential) and what happened.
    fn send_request(&self, plan: &CasePlan<'_>) -> Result<(SentRequest, Outcome), String> {
        let gateway = self.gateway_for(plan)?;
        let clock = AdmitClock::manual(plan.at);
        let options = AdmitOptions {
            shared_store: None,
            clock: clock.clone(),
            fault_seed: None,
        };
        if let Some(error) = self.refused.get(&gateway.name) {
            return Err(error.clone());
        }
        let admission = LazyAdmission::new(gateway, &self.secrets, options)?;
        let run = GatewayRun {
            gateway,
            topics: &self.bundle.topics,
            table: &self.tables[&gateway.name],
            admission,
            faults: plan.faults,
        };
        let mut request = SentRequest::from_plan(plan)?;
        add_credentials(&run, plan, &self.keys, &mut request)?;
        let mut outcome = Outcome::default();
        let mut reached = Vec::new();
        for i in 0..plan.repeat {
            clock.set(plan.at + plan.every * u32::try_from(i).unwrap_or(u32::MAX));
            outcome = decide_request(&run, &request);
            reached.extend(outcome.steps_reached.iter().copied());
        }
        reached.sort_unstable();
        reached.dedup();
        outcome.steps_reached = reached;
        record_case::follow_produced(self.bundle, plan, &mut outcome)?;
        Ok((request, outcome))
    }

    fn run_plan(&self, plan: &CasePlan<'_>) -> Result<Outcome, String> {
        match &plan.subject {
            Subject::Request => self.run_request(plan),
            Subject::Call {
                source,
                by_identity,
                destination,
            } => mesh_case::decide_call(self.bundle, plan, source, *by_identity, destination),
            Subject::Record { topic } => record_case::decide_record(self.bundle, plan, topic),
        }
    }
}

/// Every secret the program names, with a value made for tests; JWT key sets get the run's keys.
fn test_secrets(bundle: &Bundle, keys: &TestKeys) -> SecretStore {
    let mut store = SecretStore::new();
    let jwks = keys.jwks();
    for gateway in &bundle.gateways {
        for consumer in &gateway.consumers {
            for credential in &consumer.credentials {
                match credential {
                    meshwork_bundle::Credential::Key { secret } => {
                        store.insert(secret, Secret::new(synthetic_secret(secret)))
                    }
                    meshwork_bundle::Credential::Basic { password, .. } => {
                        store.insert(password, Secret::new(synthetic_secret(password)))
                    }
                    meshwork_bundle::Credential::Jwt { .. } => {}
                }
            }
        }
        for route in &gateway.routes {
            for step in &route.admission {
                if let meshwork_bundle::AdmissionStep::Auth {
                    method:
                        meshwork_bundle::AuthMethod::Jwt {
                            keys: set, secret, ..
                        },
                    ..
                } = step
                {
                    if let Some(set) = set {
                        store.insert(set, Secret::new(jwks.clone().into_bytes()));
                    }
                    if let Some(secret) = secret {
                        store.insert(secret, Secret::new(synthetic_secret(secret)));
                    }
                }
            }
        }
    }
    store
}

/// The source text of an `expect` statement, for failure lines.
fn statement_text(sources: &SourceMap, span: crate::source::Span) -> String {
    let file = sources.file(span.file);
    file.text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("expect …")
        .to_string()
}

fn location(sources: &SourceMap, span: crate::source::Span) -> (String, u32, u32) {
    let line_col = sources.line_col(span);
    (
        sources.file(span.file).path.clone(),
        line_col.line,
        line_col.column,
    )
}

/// A gateway test as `meshc test` sends and decides it, to send the same to a live meshd and
/// check that it decides the same (runtime/tests/meshc_test_agreement.rs does).
#[derive(Debug, Clone)]
pub struct ReplayCase {
    /// The test's name.
    pub name: String,
    /// The request as sent, with the credential `as CONSUMER` made.
    pub request: SentRequest,
    /// How many times it is sent (the outcome is the last one's).
    pub repeat: u64,
    /// What meshc test decided.
    pub outcome: Outcome,
}

/// A record test as `meshc test` sends and decides it.
#[derive(Debug, Clone)]
pub struct ReplayRecord {
    /// The test's name.
    pub name: String,
    /// The topic the record is written to.
    pub topic: String,
    pub key: Option<String>,
    pub value: String,
    pub headers: Vec<(String, String)>,
    /// What meshc test decided: each stream's verdict.
    pub outcome: Outcome,
}

/// The gateway and record tests of a program as sent and decided, with what a live meshd needs
/// to decide them the same.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The request tests, in file order.
    pub cases: Vec<ReplayCase>,
    /// The record tests, in file order.
    pub records: Vec<ReplayRecord>,
    /// The JWKS document every JWT key set of the program stood for in the run: serve it to
    /// meshd as the key set's file.
    pub jwks: String,
}

/// Every test of `files` that sends an HTTP request at one instant (no `every`), sent and
/// decided. The secrets the requests carry are [`credentials::synthetic_secret`]'s values: give
/// a live meshd the same (`env("NAME")` holds `meshc-test-env-NAME`), and [`Replay::jwks`] as
/// every JWT key set.
pub fn replay_cases(
    bundle: &Bundle,
    files: &[(crate::source::FileId, TestFile)],
) -> Result<Replay, String> {
    let bed = TestBed::new(bundle)?;
    let mut cases = Vec::new();
    let mut records = Vec::new();
    for (_, file) in files {
        for test in &file.tests {
            let plan = plan_case(bundle, test).map_err(|found| {
                format!(
                    "test \"{}\" does not fit the program: {}",
                    test.name.node,
                    found
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
            if !plan.every.is_zero() {
                continue;
            }
            if let Subject::Record { topic } = &plan.subject {
                records.push(ReplayRecord {
                    name: test.name.node.clone(),
                    topic: topic.clone(),
                    key: plan.key.clone(),
                    value: plan.body.clone().unwrap_or_default(),
                    headers: plan.request.headers.clone(),
                    outcome: bed.run_plan(&plan)?,
                });
                continue;
            }
            if !matches!(plan.subject, Subject::Request) {
                continue;
            }
            let (request, outcome) = bed.send_request(&plan)?;
            cases.push(ReplayCase {
                name: test.name.node.clone(),
                request,
                repeat: plan.repeat,
                outcome,
            });
        }
    }
    Ok(Replay {
        cases,
        records,
        jwks: bed.keys.jwks(),
    })
}

/// The result of running every test of `files`; `Err` holds the diagnostics of tests that do not
/// fit the program (nothing runs then).
pub fn run_tests(
    bundle: &Bundle,
    sources: &SourceMap,
    files: &[(crate::source::FileId, TestFile)],
    with_coverage: bool,
) -> Result<TestReport, Vec<Diagnostic>> {
    let mut plans = Vec::new();
    let mut diagnostics = Vec::new();
    for (_, file) in files {
        for test in &file.tests {
            match plan_case(bundle, test) {
                Ok(plan) => plans.push(plan),
                Err(found) => diagnostics.extend(found),
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let bed = match TestBed::new(bundle) {
        Ok(bed) => bed,
        Err(error) => {
            return Ok(TestReport::new(
                plans
                    .iter()
                    .map(|plan| error_result(sources, plan, error.clone()))
                    .collect(),
                None,
            ))
        }
    };
    let mut reached = Reached::default();
    let mut cases = Vec::new();
    for plan in &plans {
        let outcome = match bed.run_plan(plan) {
            Ok(outcome) => outcome,
            Err(error) => {
                cases.push(error_result(sources, plan, error));
                continue;
            }
        };
        reached.add(bundle, &outcome);
        let failures: Vec<FailedExpectation> = plan
            .expectations
            .iter()
            .filter_map(|expectation| {
                let message = check(expectation, &outcome)?;
                let (file, line, column) = location(sources, expectation.span);
                Some(FailedExpectation {
                    expectation: statement_text(sources, expectation.span),
                    at: format!("{file}:{line}:{column}"),
                    message,
                })
            })
            .collect();
        let (file, line, column) = location(sources, plan.test.span);
        cases.push(CaseResult {
            name: plan.test.name.node.clone(),
            file,
            line,
            column,
            status: if failures.is_empty() {
                CaseStatus::Passed
            } else {
                CaseStatus::Failed
            },
            outcome: describe_outcome(&outcome),
            failures,
            error: None,
        });
    }
    let coverage = with_coverage.then(|| coverage(bundle, &reached));
    Ok(TestReport::new(cases, coverage))
}

fn error_result(sources: &SourceMap, plan: &CasePlan<'_>, error: String) -> CaseResult {
    let (file, line, column) = location(sources, plan.test.span);
    CaseResult {
        name: plan.test.name.node.clone(),
        file,
        line,
        column,
        status: CaseStatus::Error,
        outcome: String::new(),
        failures: Vec::new(),
        error: Some(error),
    }
}
