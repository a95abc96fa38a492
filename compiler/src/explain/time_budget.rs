//! The time a forwarded request may take, as meshd applies it (Envoy's semantics): the service's
//! `timeout` per try, the route's `timeout` over every try and backoff, a retry made only when its
//! backoff ends before the route's deadline. `meshc explain` shows the result.

use meshwork_bundle::{Retry, Service};

/// One route → service pair's limits, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBudget {
    /// The service's timeout, for each try.
    pub per_try_ms: u64,
    /// Retries after the first try.
    pub retries: u64,
    /// The backoff bounds (each retry waits between half its step and its step; the step
    /// doubles from the minimum up to the maximum).
    pub backoff_ms: (u64, u64),
    /// The route's timeout, over every try.
    pub overall_ms: Option<u64>,
}

impl TimeBudget {
    /// The budget of a route with timeout `route_ms` forwarding to `service`.
    pub fn of(service: &Service, route_ms: Option<u64>) -> Self {
        let (retries, backoff_ms) = match &service.retry {
            Some(Retry {
                attempts,
                backoff_min_ms,
                backoff_max_ms,
                ..
            }) => (
                *attempts,
                (*backoff_min_ms, (*backoff_max_ms).max(*backoff_min_ms)),
            ),
            None => (0, (0, 0)),
        };
        TimeBudget {
            per_try_ms: service.timeout_ms,
            retries,
            backoff_ms,
            overall_ms: route_ms,
        }
    }

    /// The backoff step before retry `n` (0 for the first): the wait is between half of it and it.
    fn step(&self, n: u64) -> u64 {
        let (min, max) = self.backoff_ms;
        min.saturating_mul(1u64 << n.min(20)).min(max)
    }

    /// The longest the request can take when every try times out and no route timeout cuts it.
    pub fn longest_without_deadline(&self) -> u64 {
        let tries = self.per_try_ms.saturating_mul(self.retries + 1);
        (0..self.retries).fold(tries, |total, n| total.saturating_add(self.step(n)))
    }

    /// The most tries that can start when every try times out (with the shortest backoffs):
    /// every try when there is no route timeout.
    pub fn tries_within_deadline(&self) -> u64 {
        let Some(overall) = self.overall_ms else {
            return self.retries + 1;
        };
        let (mut elapsed, mut tries) = (0u64, 1u64);
        loop {
            elapsed = elapsed.saturating_add(self.per_try_ms).min(overall);
            if tries > self.retries {
                return tries;
            }
            let shortest_wait = self.step(tries - 1) / 2;
            if elapsed.saturating_add(shortest_wait) >= overall {
                return tries;
            }
            elapsed += shortest_wait;
            tries += 1;
        }
    }

    /// Lines for `meshc explain`.
    pub fn describe(&self) -> Vec<String> {
        let per_try = self.per_try_ms;
        let mut lines = Vec::new();
        match self.overall_ms {
            None => lines.push(format!(
                "time budget: each try {per_try}ms (the service's timeout); no route timeout{}",
                if self.retries == 0 {
                    String::new()
                } else {
                    format!(
                        ", so with every retry the request may take up to {}ms",
                        self.longest_without_deadline()
                    )
                }
            )),
            Some(overall) if overall <= per_try && self.retries == 0 => lines.push(format!(
                "time budget: the route's timeout of {overall}ms (the service's {per_try}ms per try is longer)"
            )),
            Some(overall) => {
                lines.push(format!(
                    "time budget: each try {per_try}ms (the service's timeout), the whole request {overall}ms (the route's timeout, across every retry)"
                ));
                let all = self.retries + 1;
                let fit = self.tries_within_deadline();
                if self.retries > 0 && fit >= all && self.longest_without_deadline() <= overall {
                    lines.push(format!(
                        "  all {all} tries fit even when every one times out ({}ms at most)",
                        self.longest_without_deadline()
                    ));
                } else if self.retries > 0 {
                    lines.push(format!(
                        "  when every try times out, at most {fit} of the {all} tries start before the deadline; a retry whose backoff would end past it is not made"
                    ));
                }
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(
        per_try_ms: u64,
        retries: u64,
        backoff_ms: (u64, u64),
        overall_ms: Option<u64>,
    ) -> TimeBudget {
        TimeBudget {
            per_try_ms,
            retries,
            backoff_ms,
            overall_ms,
        }
    }

    #[test]
    fn the_issue_case_fits_three_tries_in_the_route_timeout() {
        let b = budget(400, 2, (25, 50), Some(3_000));
        assert_eq!(b.tries_within_deadline(), 3);
        assert_eq!(b.longest_without_deadline(), 1_200 + 25 + 50);
        assert!(
            b.describe()[1].contains("all 3 tries fit"),
            "{:?}",
            b.describe()
        );
    }

    #[test]
    fn a_short_deadline_cuts_the_tries_as_meshd_does() {
        // As the runtime test `the_route_timeout_cuts_the_last_try…`: 600ms tries, 20ms backoff.
        assert_eq!(
            budget(600, 5, (20, 20), Some(1_500)).tries_within_deadline(),
            3
        );
        // The first try ends at 900ms; a 100–200ms backoff cannot end before 1000ms.
        assert_eq!(
            budget(900, 3, (200, 200), Some(1_000)).tries_within_deadline(),
            1
        );
        let lines = budget(900, 3, (200, 200), Some(1_000)).describe();
        assert!(lines[1].contains("at most 1 of the 4 tries"), "{lines:?}");
    }

    #[test]
    fn without_a_route_timeout_every_try_runs() {
        let b = budget(2_000, 3, (25, 250), None);
        assert_eq!(b.tries_within_deadline(), 4);
        assert_eq!(b.longest_without_deadline(), 8_000 + 25 + 50 + 100);
        assert!(b.describe()[0].contains("up to 8175ms"));
    }
}
