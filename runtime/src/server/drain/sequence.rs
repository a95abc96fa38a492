//! The drain, step by step, from the signal to the moment the workers may stop: the phases of
//! [`super::DrainPhase`] on a clock, and the count of what the timeout cut.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{DrainPhase, DrainState, LoadTotals};

/// How often the sequence looks at what is left (it only waits on it; nothing here is on the
/// request path).
const RECOUNT_EVERY: Duration = Duration::from_millis(10);

/// The longest time before the timeout at which the last call is made.
const LAST_CALL_MARGIN: Duration = Duration::from_secs(1);

/// How long a drain may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainPlan {
    /// How long inbound listeners keep accepting after the signal (for load balancers and
    /// Kubernetes endpoints to stop sending), like Envoy's drain time or a preStop sleep.
    pub delay: Duration,
    /// From the signal to the end: what is still running then is cut.
    pub timeout: Duration,
}

impl DrainPlan {
    /// The same plan without the delay (the listeners close at once).
    pub fn without_delay(self) -> Self {
        DrainPlan {
            delay: Duration::ZERO,
            ..self
        }
    }

    /// When, before the timeout, requests that can still be answered are told to answer now:
    /// a tenth of the timeout, at most a second.
    fn last_call(&self) -> Duration {
        self.timeout
            .saturating_sub((self.timeout / 10).min(LAST_CALL_MARGIN))
    }
}

/// What a drain came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// From the signal to the end of the drain.
    pub elapsed: Duration,
    /// Requests still in flight when the drain ended (cut).
    pub cut_requests: u64,
    /// Inbound connections still open when the drain ended (cut).
    pub cut_connections: u64,
    /// Outbound connections the local app had left open, idle, closed at the end (nothing cut).
    pub idle_outbound_closed: u64,
    /// A second signal ended the drain before its timeout.
    pub interrupted: bool,
}

impl DrainReport {
    /// Whether every request was answered and every inbound connection closed in time.
    pub fn is_clean(&self) -> bool {
        self.cut_requests == 0 && self.cut_connections == 0
    }

    /// Says in the log how the drain went: what was cut, if anything.
    pub fn log(&self) {
        if self.is_clean() {
            tracing::info!(elapsed = ?self.elapsed, "drained: every request was answered");
        } else {
            tracing::warn!(
                elapsed = ?self.elapsed,
                cut_requests = self.cut_requests,
                cut_connections = self.cut_connections,
                "drain {}: {} requests in flight and {} connections cut",
                if self.interrupted {
                    "ended by a second signal"
                } else {
                    "timed out"
                },
                self.cut_requests,
                self.cut_connections,
            );
        }
        if self.idle_outbound_closed > 0 {
            tracing::info!(
                connections = self.idle_outbound_closed,
                "idle outbound connections the app left open were closed"
            );
        }
    }
}

/// Whether nothing is left: inbound listeners are closed (none can take a connection any more)
/// and have no connection, and the app has no request in flight and no connection open on the
/// outbound side.
fn settled(totals: &LoadTotals) -> bool {
    totals.inbound_listeners == 0
        && totals.inbound_connections == 0
        && totals.outbound_requests == 0
        && totals.outbound_connections == 0
}

/// What the process does at two moments of a drain.
#[derive(Debug)]
pub struct DrainHooks<C, L> {
    /// Just before the listeners close (give up copies of the listening sockets kept for a
    /// hand-over, so that the listeners' own close is the last).
    pub before_close: C,
    /// Shortly before the timeout, if something is still in flight: work that can still be
    /// answered (a produce waiting on Kafka) answers now rather than be cut.
    pub last_call: L,
}

/// Runs a drain of `state` by `plan`: Draining now, Closing after the delay, and at the timeout
/// (or when `interrupt` resolves: a second signal) Cutting, with what was left counted.
pub async fn run_drain<C: FnOnce(), L: FnOnce()>(
    state: &DrainState,
    plan: DrainPlan,
    hooks: DrainHooks<C, L>,
    interrupt: impl Future<Output = ()>,
) -> DrainReport {
    let started = Instant::now();
    let timeout = started + plan.timeout;
    let last_call_at = started + plan.last_call();
    let delay_ends = started + plan.delay.min(plan.timeout);
    tokio::pin!(interrupt);
    state.advance(DrainPhase::Draining);
    tracing::info!(
        delay = ?plan.delay,
        timeout = ?plan.timeout,
        "draining: /readyz answers 503, responses close their connections"
    );

    let mut interrupted = false;
    tokio::select! {
        () = tokio::time::sleep_until(delay_ends) => {}
        () = &mut interrupt => interrupted = true,
    }
    if !interrupted {
        (hooks.before_close)();
        state.advance(DrainPhase::Closing);
        let totals = state.load().totals();
        tracing::info!(
            connections = totals.connections(),
            requests = totals.requests(),
            "drain delay over: listeners closed, waiting for requests in flight"
        );
        let mut last_call = Some(hooks.last_call);
        interrupted = loop {
            if settled(&state.load().totals()) {
                break false;
            }
            let now = Instant::now();
            if now >= timeout {
                break false;
            }
            if now >= last_call_at {
                if let Some(call) = last_call.take() {
                    call();
                }
            }
            tokio::select! {
                () = tokio::time::sleep(RECOUNT_EVERY) => {}
                () = &mut interrupt => break true,
            }
        };
    }
    let left = state.load().totals();
    state.advance(DrainPhase::Cutting);
    DrainReport {
        elapsed: started.elapsed(),
        cut_requests: left.requests(),
        cut_connections: left.inbound_connections,
        idle_outbound_closed: if left.outbound_requests == 0 {
            left.outbound_connections
        } else {
            0
        },
        interrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::drain::{OpenConnection, OpenListener, Side};

    fn hooks<L: FnOnce()>(last_call: L) -> DrainHooks<fn(), L> {
        DrainHooks {
            before_close: || {},
            last_call,
        }
    }

    fn plan(delay_ms: u64, timeout_ms: u64) -> DrainPlan {
        DrainPlan {
            delay: Duration::from_millis(delay_ms),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_drain_waits_for_the_listeners_to_close() {
        let state = DrainState::new(1);
        let listener = OpenListener::new(state.load().worker(0), Side::Inbound);
        let drain = run_drain(
            &state,
            plan(0, 10_000),
            hooks(|| {}),
            std::future::pending(),
        );
        tokio::pin!(drain);
        tokio::select! {
            _ = &mut drain => panic!("drained while a listener was still open"),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        drop(listener);
        assert!(drain.await.is_clean());
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_server_drains_cleanly_after_the_delay() {
        let state = DrainState::new(1);
        let mut phases = state.watch();
        let report = run_drain(
            &state,
            plan(500, 5_000),
            hooks(|| {}),
            std::future::pending(),
        )
        .await;
        assert!(report.is_clean(), "{report:?}");
        assert!(!report.interrupted);
        assert!(report.elapsed >= Duration::from_millis(500), "{report:?}");
        assert_eq!(*phases.borrow_and_update(), DrainPhase::Cutting);
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_counts_what_it_cuts_and_makes_the_last_call_first() {
        let state = DrainState::new(1);
        let connection = OpenConnection::new(state.load().worker(0), Side::Inbound);
        let _request = connection.requests().start();
        let called = std::cell::Cell::new(None);
        let report = run_drain(
            &state,
            plan(100, 2_000),
            hooks(|| called.set(Some(Instant::now()))),
            std::future::pending(),
        )
        .await;
        assert_eq!((report.cut_requests, report.cut_connections), (1, 1));
        assert!(!report.is_clean());
        let called = called.get().expect("the last call was made");
        assert!(report.elapsed >= Duration::from_millis(2_000), "{report:?}");
        let before_the_end = Instant::now() - called;
        assert!(
            (190..=210).contains(&before_the_end.as_millis()),
            "the last call came {before_the_end:?} before the end"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn outbound_keeps_the_drain_open_until_the_app_closes_its_connections() {
        let state = DrainState::new(1);
        let app = OpenConnection::new(state.load().worker(0), Side::Outbound);
        let drain = run_drain(
            &state,
            plan(0, 10_000),
            hooks(|| {}),
            std::future::pending(),
        );
        tokio::pin!(drain);
        tokio::select! {
            _ = &mut drain => panic!("drained while the app was still connected"),
            () = tokio::time::sleep(Duration::from_secs(3)) => {}
        }
        assert_eq!(state.phase(), DrainPhase::Closing);
        drop(app);
        let report = drain.await;
        assert!(report.is_clean());
        assert!(report.elapsed < Duration::from_secs(4), "{report:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_outbound_connections_left_at_the_timeout_are_not_cut_work() {
        let state = DrainState::new(1);
        let _app = OpenConnection::new(state.load().worker(0), Side::Outbound);
        let report = run_drain(&state, plan(0, 1_000), hooks(|| {}), std::future::pending()).await;
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.idle_outbound_closed, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_signal_ends_the_drain_at_once() {
        let state = DrainState::new(1);
        let connection = OpenConnection::new(state.load().worker(0), Side::Inbound);
        let _request = connection.requests().start();
        let report = run_drain(&state, plan(5_000, 30_000), hooks(|| {}), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
        })
        .await;
        assert!(report.interrupted);
        assert_eq!(report.cut_requests, 1);
        assert!(report.elapsed < Duration::from_secs(1));
    }
}
