//! The generic cell rate algorithm (GCRA): a token bucket kept as one number per key, the
//! theoretical arrival time (TAT) of the next request. `count` per `period` with a bucket of
//! `burst` means: `burst` requests pass at once, then one every `period / count`.
//!
//! With `5/min` (burst 5), five requests at once pass and the sixth is refused with a retry
//! after 12 s, when one token has come back.

/// The verdict on one request, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let through.
    Allow(RateLimitStatus),
    /// Refused; retry after this many nanoseconds.
    Deny {
        /// Time until one request would pass.
        retry_after_ns: u64,
        /// The bucket as it stands.
        status: RateLimitStatus,
    },
}

/// The state of a bucket after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// The bucket size (`RateLimit-Limit`).
    pub limit: u64,
    /// Requests that would pass right now (`RateLimit-Remaining`).
    pub remaining: u64,
    /// Nanoseconds until the bucket is full again (`RateLimit-Reset`, in seconds rounded up).
    pub reset_ns: u64,
}

/// A rate: one request per `emission_ns`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    emission_ns: u64,
    burst: u64,
}

impl Gcra {
    /// `count` requests per `period_ms`, a bucket of `burst` (default `count`). Refuses zeroes.
    pub fn new(count: u64, period_ms: u64, burst: Option<u64>) -> Result<Self, String> {
        if count == 0 || period_ms == 0 {
            return Err(format!(
                "rate {count} per {period_ms} ms admits nothing; use `deny` to refuse all"
            ));
        }
        let burst = burst.unwrap_or(count);
        if burst == 0 {
            return Err("a burst of 0 admits nothing".to_string());
        }
        let period_ns = period_ms.saturating_mul(1_000_000);
        Ok(Gcra {
            emission_ns: (period_ns / count).max(1),
            burst,
        })
    }

    /// One request's worth of time.
    pub fn emission_ns(&self) -> u64 {
        self.emission_ns
    }

    /// The bucket size.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// The time a full bucket spans (`emission × burst`).
    pub fn tolerance_ns(&self) -> u64 {
        self.emission_ns.saturating_mul(self.burst)
    }

    /// Decides a request arriving at `now` on a bucket whose TAT is `tat` (0 for a new key).
    /// Returns the new TAT when the request passes.
    pub fn decide(&self, tat: u64, now: u64) -> (Option<u64>, Verdict) {
        let start = tat.max(now);
        let new_tat = start.saturating_add(self.emission_ns);
        let horizon = now.saturating_add(self.tolerance_ns());
        if new_tat > horizon {
            let status = RateLimitStatus {
                limit: self.burst,
                remaining: 0,
                reset_ns: start - now,
            };
            return (
                None,
                Verdict::Deny {
                    retry_after_ns: new_tat - horizon,
                    status,
                },
            );
        }
        let status = RateLimitStatus {
            limit: self.burst,
            remaining: (horizon - new_tat) / self.emission_ns,
            reset_ns: new_tat - now,
        };
        (Some(new_tat), Verdict::Allow(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn run(gcra: &Gcra, tat: &mut u64, now: u64) -> Verdict {
        let (next, verdict) = gcra.decide(*tat, now);
        if let Some(next) = next {
            *tat = next;
        }
        verdict
    }

    #[test]
    fn sixth_request_in_a_minute_is_refused_with_five_per_minute() {
        let gcra = Gcra::new(5, 60_000, None).unwrap();
        let mut tat = 0;
        let now = 1_000 * SECOND;
        for expected_remaining in [4, 3, 2, 1, 0] {
            match run(&gcra, &mut tat, now) {
                Verdict::Allow(status) => {
                    assert_eq!(status.limit, 5);
                    assert_eq!(status.remaining, expected_remaining);
                }
                denied => panic!("request should pass: {denied:?}"),
            }
        }
        match run(&gcra, &mut tat, now + SECOND) {
            Verdict::Deny {
                retry_after_ns,
                status,
            } => {
                assert_eq!(retry_after_ns, 11 * SECOND);
                assert_eq!(status.remaining, 0);
            }
            allowed => panic!("sixth request should be refused: {allowed:?}"),
        }
    }

    #[test]
    fn a_token_comes_back_after_one_emission_interval() {
        let gcra = Gcra::new(5, 60_000, None).unwrap();
        let mut tat = 0;
        for _ in 0..5 {
            run(&gcra, &mut tat, 0);
        }
        assert!(matches!(
            run(&gcra, &mut tat, 12 * SECOND - 1),
            Verdict::Deny { .. }
        ));
        assert!(matches!(
            run(&gcra, &mut tat, 12 * SECOND),
            Verdict::Allow(_)
        ));
        assert!(matches!(
            run(&gcra, &mut tat, 12 * SECOND),
            Verdict::Deny { .. }
        ));
    }

    #[test]
    fn reset_reports_when_the_bucket_is_full_again() {
        let gcra = Gcra::new(10, 1_000, None).unwrap();
        let mut tat = 0;
        match run(&gcra, &mut tat, 0) {
            Verdict::Allow(status) => {
                assert_eq!(status.remaining, 9);
                assert_eq!(status.reset_ns, SECOND / 10);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn burst_overrides_the_bucket_size() {
        let gcra = Gcra::new(1, 1_000, Some(3)).unwrap();
        let mut tat = 0;
        let passed = (0..10)
            .filter(|_| matches!(run(&gcra, &mut tat, 0), Verdict::Allow(_)))
            .count();
        assert_eq!(passed, 3);
    }

    #[test]
    fn zero_rates_are_refused() {
        assert!(Gcra::new(0, 1_000, None).is_err());
        assert!(Gcra::new(1, 0, None).is_err());
        assert!(Gcra::new(1, 1_000, Some(0)).is_err());
    }

    /// A rate (1..20 per 1 ms..10 s, burst 1..20) and arrival times in nanoseconds.
    fn rate_and_arrivals() -> impl Strategy<Value = (Gcra, Vec<u64>)> {
        (
            1u64..20,
            1u64..10_000,
            prop::option::of(1u64..20),
            prop::collection::vec(0u64..3 * SECOND, 1..60),
        )
            .prop_map(|(count, period_ms, burst, mut gaps)| {
                let gcra = Gcra::new(count, period_ms, burst).unwrap();
                let mut now = 1_000 * SECOND;
                for gap in gaps.iter_mut() {
                    // Many arrivals at the same instant or close together, some far apart.
                    now += *gap % (gcra.emission_ns() * 3);
                    *gap = now;
                }
                (gcra, gaps)
            })
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// GCRA's conformance bound: in any interval, at most `burst` plus one per emission
        /// interval elapsed pass. A limit that let more through would not be the limit written.
        #[test]
        fn no_interval_passes_more_than_the_burst_and_the_rate(
            (gcra, arrivals) in rate_and_arrivals(),
        ) {
            let mut tat = 0;
            let passed: Vec<u64> = arrivals
                .iter()
                .filter(|now| matches!(run(&gcra, &mut tat, **now), Verdict::Allow(_)))
                .copied()
                .collect();
            for (i, first) in passed.iter().enumerate() {
                for (j, last) in passed.iter().enumerate().skip(i) {
                    let allowed = gcra.burst() + (last - first) / gcra.emission_ns();
                    prop_assert!((j - i + 1) as u64 <= allowed, "{} passed in {} ns", j - i + 1, last - first);
                }
            }
        }

        /// What the headers say is true: after a pass, exactly `remaining` more pass at the same
        /// instant; after a refusal, a request `retry_after` later passes (and not a nanosecond
        /// sooner); `reset` later, a whole burst passes at once.
        #[test]
        fn remaining_retry_after_and_reset_tell_the_truth(
            (gcra, arrivals) in rate_and_arrivals(),
        ) {
            let mut tat = 0;
            for now in arrivals {
                let before = tat;
                match run(&gcra, &mut tat, now) {
                    Verdict::Allow(status) => {
                        let mut probe = tat;
                        for _ in 0..status.remaining {
                            prop_assert!(matches!(run(&gcra, &mut probe, now), Verdict::Allow(_)));
                        }
                        let after = run(&gcra, &mut probe, now);
                        prop_assert!(matches!(after, Verdict::Deny { .. }), "one more passed: {:?}", after);
                        let mut full = tat;
                        let later = now + status.reset_ns;
                        for _ in 0..gcra.burst() {
                            prop_assert!(matches!(run(&gcra, &mut full, later), Verdict::Allow(_)));
                        }
                    }
                    Verdict::Deny { retry_after_ns, status } => {
                        prop_assert_eq!(tat, before, "a refusal moved the bucket");
                        prop_assert_eq!(status.remaining, 0);
                        let mut probe = tat;
                        prop_assert!(matches!(
                            run(&gcra, &mut probe, now + retry_after_ns),
                            Verdict::Allow(_)
                        ));
                        if retry_after_ns > 0 {
                            let mut early = tat;
                            let too_soon = run(&gcra, &mut early, now + retry_after_ns - 1);
                            prop_assert!(
                                matches!(too_soon, Verdict::Deny { .. }),
                                "passed before retry_after: {:?}",
                                too_soon
                            );
                        }
                    }
                }
            }
        }
    }
}
