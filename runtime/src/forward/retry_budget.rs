//! A service's retry budget (Linkerd's, after Finagle's): over a sliding window, retries may
//! number at most `percent`% of the requests plus a reserve of `min_retries` per period, so an
//! outage multiplies the load on the upstream by at most 1 + `percent`/100 (plus the reserve)
//! instead of by the retry count. The count still caps each request's retries; the budget caps
//! them across requests.
//!
//! The window is ten slots of a tenth of it each; a slot older than the window is cleared when
//! its turn comes again. One lock per service, taken once per request and once per retry
//! considered, only on services that declare a budget.

use std::sync::Mutex;

use meshwork_bundle::RetryBudget as BundledBudget;
use prometheus_client::metrics::counter::Counter;

const SLOTS: usize = 10;

#[derive(Debug, Default)]
struct Slots {
    epoch: [u64; SLOTS],
    requests: [u64; SLOTS],
    retries: [u64; SLOTS],
}

impl Slots {
    /// The slot of `epoch`, cleared if it last held an older one.
    fn at(&mut self, epoch: u64) -> usize {
        let i = (epoch % SLOTS as u64) as usize;
        if self.epoch[i] != epoch {
            self.epoch[i] = epoch;
            self.requests[i] = 0;
            self.retries[i] = 0;
        }
        i
    }

    /// Requests and retries of the slots still inside the window that ends at `epoch`.
    fn totals(&self, epoch: u64) -> (u64, u64) {
        let oldest = epoch.saturating_sub(SLOTS as u64 - 1);
        (0..SLOTS)
            .filter(|&i| self.epoch[i] >= oldest && self.epoch[i] <= epoch)
            .fold((0, 0), |(q, r), i| {
                (q + self.requests[i], r + self.retries[i])
            })
    }
}

/// One service's retry budget, shared by every worker.
#[derive(Debug)]
pub struct RetryBudget {
    percent: u64,
    /// The reserve over one window, in hundredths of a retry.
    reserve_centi: u64,
    slot_ms: u64,
    slots: Mutex<Slots>,
    exhausted: Counter,
}

impl RetryBudget {
    /// The bundle's budget; `exhausted` counts retries the budget refused.
    pub fn new(budget: &BundledBudget, exhausted: Counter) -> Self {
        let window_ms = budget.window_ms.max(SLOTS as u64);
        let reserve_centi = u128::from(budget.min_retries) * u128::from(window_ms) * 100
            / u128::from(budget.min_period_ms.max(1));
        RetryBudget {
            percent: u64::from(budget.percent),
            reserve_centi: u64::try_from(reserve_centi).unwrap_or(u64::MAX),
            slot_ms: window_ms / SLOTS as u64,
            slots: Mutex::new(Slots::default()),
            exhausted,
        }
    }

    /// Counts a request (its first try) at `now_ms`.
    pub fn deposit(&self, now_ms: u64) {
        let epoch = now_ms / self.slot_ms;
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let i = slots.at(epoch);
        slots.requests[i] += 1;
    }

    /// Takes one retry from the budget at `now_ms`, or refuses (and counts the refusal) when the
    /// window's retries already reach its share of the requests plus the reserve.
    pub fn try_withdraw(&self, now_ms: u64) -> bool {
        let epoch = now_ms / self.slot_ms;
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let i = slots.at(epoch);
        let (requests, retries) = slots.totals(epoch);
        let allowed_centi = self
            .reserve_centi
            .saturating_add(self.percent.saturating_mul(requests));
        if retries.saturating_add(1).saturating_mul(100) > allowed_centi {
            drop(slots);
            self.exhausted.inc();
            return false;
        }
        slots.retries[i] += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(percent: u8, min_retries: u64, window_ms: u64) -> RetryBudget {
        RetryBudget::new(
            &BundledBudget {
                percent,
                min_retries,
                min_period_ms: 1_000,
                window_ms,
            },
            Counter::default(),
        )
    }

    #[test]
    fn retries_are_capped_at_the_share_plus_the_reserve() {
        // 20% of 100 requests + 1/s over 10 s = 30 retries.
        let b = budget(20, 1, 10_000);
        for _ in 0..100 {
            b.deposit(5);
        }
        let granted = (0..1000).filter(|_| b.try_withdraw(5)).count();
        assert_eq!(granted, 30);
        assert_eq!(b.exhausted.get(), 970);
    }

    #[test]
    fn the_reserve_lets_a_quiet_service_retry() {
        let b = budget(0, 2, 10_000);
        b.deposit(1);
        assert_eq!((0..100).filter(|_| b.try_withdraw(1)).count(), 20);
    }

    #[test]
    fn requests_and_retries_leave_the_window() {
        let b = budget(50, 0, 1_000);
        for _ in 0..10 {
            b.deposit(0);
        }
        assert_eq!((0..10).filter(|_| b.try_withdraw(0)).count(), 5);
        // A window later the old requests and retries are gone: no share, no reserve.
        assert!(!b.try_withdraw(1_500));
        b.deposit(1_500);
        b.deposit(1_500);
        assert!(b.try_withdraw(1_500));
        assert!(!b.try_withdraw(1_500));
    }
}
