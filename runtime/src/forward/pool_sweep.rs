//! The timer that sweeps idle upstream connections (see [`ConnectionPool::sweep`]): every
//! [`PoolSettings::sweep_interval`], each pool of the endpoints served at that moment closes the
//! connections idle too long or closed by their upstream. One task per process, not per state: a
//! replaced state's pools close with it, and a task per state would keep each replaced state's
//! endpoints allocated until its next tick.
//!
//! [`ConnectionPool::sweep`]: super::pool::ConnectionPool::sweep

use std::sync::Arc;

use super::endpoint::Endpoint;
use super::pool::PoolSettings;

/// Starts sweeping, on `runtime`, the pools of the endpoints `current` answers at each tick.
pub fn spawn_pool_sweep(
    current: impl Fn() -> Vec<Arc<Endpoint>> + Send + 'static,
    settings: PoolSettings,
    runtime: &tokio::runtime::Handle,
) {
    let interval = settings.sweep_interval();
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            for endpoint in current() {
                let closed = endpoint.pool.sweep();
                if closed > 0 {
                    tracing::debug!(endpoint = %endpoint.address, closed, "idle upstream connections closed");
                }
            }
        }
    });
}
