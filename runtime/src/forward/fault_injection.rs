//! Injected faults (`fault abort|delay PERCENT … [when CEL]`): a share of a route's admitted
//! requests, or of a mesh pair's allowed calls, is held for a while or answered with a status
//! without reaching the upstream, to test how clients cope (Istio's `fault`, Kuma's
//! MeshFaultInjection, Envoy's fault filter).
//!
//! Built once per route (or per sidecar, for the pairs into its service) at load; per request
//! each rule whose caller and condition match draws once. Draws
//! come from a counter run through SplitMix64, so a seed (`meshd run --fault-seed N`) makes the sequence
//! of decisions reproducible, which is what a statistical test of the percentage needs. Delays
//! are decided before aborts and both may hit one request (delayed, then aborted), as in Envoy.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use meshwork_bundle::{AdmissionStep, FaultAction, MeshFault, SourceLocation};
use prometheus_client::metrics::counter::Counter;

use crate::admit::cel::{CelInput, RequestCondition};

/// Why a route's faults cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum FaultBuildError {
    /// A `when` that does not compile.
    #[error("{at}: {scope}: fault condition: {message}")]
    Cel {
        /// `file:line:column`.
        at: String,
        /// What the fault is on: ``route `officers` `` or ``mesh pair `picard -> riker` ``.
        scope: String,
        /// The compiler's message.
        message: String,
    },
    /// An abort status that cannot be sent.
    #[error("{at}: {scope}: fault abort status {status} is not a final HTTP status")]
    Status {
        /// `file:line:column`.
        at: String,
        /// What the fault is on.
        scope: String,
        /// The status.
        status: u16,
    },
}

/// What one fault rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Abort(StatusCode),
    Delay(Duration),
}

#[derive(Debug)]
struct FaultRule {
    /// The caller a mesh pair fault is for (`None`: any caller, as on a route or `*`).
    from: Option<Box<str>>,
    effect: Effect,
    percent: u8,
    when: Option<RequestCondition>,
    injected: Counter,
}

/// What the faults decided for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultDecision {
    /// Hold the request this long first.
    pub delay: Option<Duration>,
    /// Then answer with this status instead of acting.
    pub abort: Option<StatusCode>,
}

impl FaultDecision {
    /// The access log's name for what was injected: `delay`, `abort` or `delay+abort`.
    pub fn label(&self) -> Option<&'static str> {
        match (self.delay.is_some(), self.abort.is_some()) {
            (false, false) => None,
            (true, false) => Some("delay"),
            (false, true) => Some("abort"),
            (true, true) => Some("delay+abort"),
        }
    }
}

/// One route's faults, ready per request.
#[derive(Debug)]
pub struct FaultInjection {
    rules: Vec<FaultRule>,
    seed: u64,
    draws: AtomicU64,
}

impl FaultInjection {
    /// The faults among `steps` (a route's admission), or `None` when it has none.
    /// `counter(kind)` hands out the route's injected-fault counter for `abort` or `delay`.
    pub fn build(
        route: &str,
        steps: &[AdmissionStep],
        seed: Option<u64>,
        mut counter: impl FnMut(&'static str) -> Counter,
    ) -> Result<Option<Self>, FaultBuildError> {
        let scope = || format!("route `{route}`");
        let mut rules = Vec::new();
        for step in steps {
            let AdmissionStep::Fault {
                action,
                percent,
                when,
                source,
            } = step
            else {
                continue;
            };
            let spec = RuleSpec {
                action: *action,
                percent: *percent,
                when: when.as_deref(),
                source,
            };
            rules.push(spec.build(None, scope, &mut counter)?);
        }
        Ok(Self::seeded(rules, route, seed))
    }

    /// The faults on mesh pairs into `service` (the sidecar's own), or `None` when none is.
    /// `counter(fault, kind)` hands out the injected-fault counter of one pair fault.
    pub fn build_pairs(
        service: &str,
        faults: &[MeshFault],
        seed: Option<u64>,
        mut counter: impl FnMut(&MeshFault, &'static str) -> Counter,
    ) -> Result<Option<Self>, FaultBuildError> {
        let mut rules = Vec::new();
        for fault in faults {
            if !fault.to.iter().any(|t| t == "*" || t == service) {
                continue;
            }
            let spec = RuleSpec {
                action: fault.action,
                percent: fault.percent,
                when: fault.when.as_deref(),
                source: &fault.source,
            };
            let from = (fault.from != "*").then(|| fault.from.as_str().into());
            let scope = || format!("mesh pair `{} -> {service}`", fault.from);
            rules.push(spec.build(from, scope, |kind| counter(fault, kind))?);
        }
        Ok(Self::seeded(rules, &format!("mesh:{service}"), seed))
    }

    fn seeded(rules: Vec<FaultRule>, scope: &str, seed: Option<u64>) -> Option<Self> {
        if rules.is_empty() {
            return None;
        }
        let seed = match seed {
            Some(seed) => seed ^ std::hash::BuildHasherDefault::<Fnv>::default().hash_one(scope),
            None => std::collections::hash_map::RandomState::new().hash_one(scope),
        };
        Some(FaultInjection {
            rules,
            seed,
            draws: AtomicU64::new(0),
        })
    }

    /// Decides the faults of one admitted request. A condition that fails to evaluate does not
    /// fault the request: a broken chaos rule must not become an outage.
    pub fn decide(&self, input: CelInput<'_>) -> FaultDecision {
        self.decide_call(None, input)
    }

    /// Decides the faults of one call from `caller` (a member's name; `None` for a caller the
    /// mesh does not know, which only faults on `*` match).
    pub fn decide_call(&self, caller: Option<&str>, input: CelInput<'_>) -> FaultDecision {
        let mut decision = FaultDecision::default();
        for rule in &self.rules {
            if rule
                .from
                .as_deref()
                .is_some_and(|from| Some(from) != caller)
            {
                continue;
            }
            let taken = match rule.effect {
                Effect::Abort(_) => decision.abort.is_some(),
                Effect::Delay(_) => decision.delay.is_some(),
            };
            if taken || rule.percent == 0 {
                continue;
            }
            let applies = match &rule.when {
                Some(condition) => condition.evaluate(input).unwrap_or(false),
                None => true,
            };
            if !applies || self.draw() >= u64::from(rule.percent) {
                continue;
            }
            rule.injected.inc();
            match rule.effect {
                Effect::Abort(status) => decision.abort = Some(status),
                Effect::Delay(delay) => decision.delay = Some(delay),
            }
        }
        decision
    }

    /// The next draw, uniform in 0..100.
    fn draw(&self) -> u64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        splitmix64(
            self.seed
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        ) % 100
    }
}

/// One fault as written, before its condition is compiled.
struct RuleSpec<'a> {
    action: FaultAction,
    percent: u8,
    when: Option<&'a str>,
    source: &'a SourceLocation,
}

impl RuleSpec<'_> {
    fn build(
        self,
        from: Option<Box<str>>,
        scope: impl Fn() -> String,
        mut counter: impl FnMut(&'static str) -> Counter,
    ) -> Result<FaultRule, FaultBuildError> {
        let (effect, kind) = match self.action {
            FaultAction::Abort { status } => {
                let code = StatusCode::from_u16(status)
                    .ok()
                    .filter(|c| !c.is_informational())
                    .ok_or_else(|| FaultBuildError::Status {
                        at: at(self.source),
                        scope: scope(),
                        status,
                    })?;
                (Effect::Abort(code), "abort")
            }
            FaultAction::Delay { delay_ms } => {
                (Effect::Delay(Duration::from_millis(delay_ms)), "delay")
            }
        };
        let when = self
            .when
            .map(RequestCondition::compile)
            .transpose()
            .map_err(|e| FaultBuildError::Cel {
                at: at(self.source),
                scope: scope(),
                message: e.message,
            })?;
        Ok(FaultRule {
            from,
            effect,
            percent: self.percent,
            when,
            injected: counter(kind),
        })
    }
}

/// SplitMix64's output function: a counter in, a well-mixed 64-bit value out.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fixed hasher (FNV-1a), so a seeded route's draws do not depend on the process.
#[derive(Debug, Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

fn at(source: &SourceLocation) -> String {
    format!("{}:{}:{}", source.file, source.line, source.column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::RequestFacts;
    use http::Method;
    use meshwork_bundle::SourceLocation;

    fn fault(action: FaultAction, percent: u8, when: Option<&str>) -> AdmissionStep {
        AdmissionStep::Fault {
            action,
            percent,
            when: when.map(str::to_string),
            source: SourceLocation {
                file: "t.mesh".into(),
                line: 1,
                column: 1,
            },
        }
    }

    fn faults(steps: &[AdmissionStep], seed: u64) -> FaultInjection {
        FaultInjection::build("r", steps, Some(seed), |_| Counter::default())
            .unwrap()
            .unwrap()
    }

    fn decide(f: &FaultInjection) -> FaultDecision {
        let headers = http::HeaderMap::new();
        let facts = RequestFacts::new(&Method::GET, "/", &headers, "127.0.0.1:1".parse().unwrap());
        f.decide(CelInput::request(&facts))
    }

    #[test]
    fn the_abort_share_stays_within_four_standard_deviations_of_the_percentage() {
        for percent in [1u8, 10, 50, 90] {
            let f = faults(
                &[fault(FaultAction::Abort { status: 503 }, percent, None)],
                7,
            );
            let n = 10_000.0;
            let hits = (0..10_000).filter(|_| decide(&f).abort.is_some()).count() as f64;
            let p = f64::from(percent) / 100.0;
            let sd = (n * p * (1.0 - p)).sqrt();
            assert!(
                (hits - n * p).abs() <= 4.0 * sd,
                "{percent}%: {hits} of {n}"
            );
        }
    }

    #[test]
    fn one_seed_gives_one_sequence_of_decisions() {
        let steps = [fault(FaultAction::Abort { status: 503 }, 30, None)];
        let run = |seed| {
            let f = faults(&steps, seed);
            (0..200)
                .map(|_| decide(&f).abort.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn zero_and_hundred_percent_are_exact() {
        let none = faults(&[fault(FaultAction::Abort { status: 503 }, 0, None)], 1);
        let all = faults(&[fault(FaultAction::Delay { delay_ms: 5 }, 100, None)], 1);
        for _ in 0..1000 {
            assert_eq!(decide(&none), FaultDecision::default());
            assert_eq!(decide(&all).delay, Some(Duration::from_millis(5)));
        }
    }

    #[test]
    fn a_false_condition_never_faults() {
        let f = faults(
            &[fault(
                FaultAction::Abort { status: 503 },
                100,
                Some(r#"request.headers["x-chaos"] == "on""#),
            )],
            1,
        );
        assert_eq!(decide(&f).abort, None);
    }

    #[test]
    fn a_pair_fault_applies_to_its_caller_and_destination_only() {
        let pair = |from: &str, to: &[&str]| MeshFault {
            from: from.into(),
            to: to.iter().map(|t| t.to_string()).collect(),
            action: FaultAction::Abort { status: 503 },
            percent: 100,
            when: None,
            source: SourceLocation {
                file: "t.mesh".into(),
                line: 1,
                column: 1,
            },
        };
        let faults = [pair("picard", &["riker"]), pair("*", &["data"])];
        let build = |service| {
            FaultInjection::build_pairs(service, &faults, Some(1), |_, _| Counter::default())
                .unwrap()
        };
        assert!(build("worf").is_none());
        let headers = http::HeaderMap::new();
        let facts = RequestFacts::new(&Method::GET, "/", &headers, "127.0.0.1:1".parse().unwrap());
        let riker = build("riker").unwrap();
        let call = |f: &FaultInjection, caller| f.decide_call(caller, CelInput::request(&facts));
        assert!(call(&riker, Some("picard")).abort.is_some());
        assert!(call(&riker, Some("data")).abort.is_none());
        assert!(call(&riker, None).abort.is_none());
        let data = build("data").unwrap();
        assert!(call(&data, None).abort.is_some());
        assert!(call(&data, Some("riker")).abort.is_some());
    }

    #[test]
    fn an_informational_abort_status_is_refused_at_load() {
        let built = FaultInjection::build(
            "r",
            &[fault(FaultAction::Abort { status: 101 }, 10, None)],
            None,
            |_| Counter::default(),
        );
        assert!(matches!(built, Err(FaultBuildError::Status { .. })));
    }
}
