//! The timer that sweeps a state's idle upstream connections (see [`ConnectionPool::sweep`]):
//! every [`PoolSettings::sweep_interval`], each endpoint's pool closes the connections idle too
//! long or closed by their upstream. The task holds its endpoints weakly and stops once the
//! state that owns them is replaced and its last request finished.
//!
//! [`ConnectionPool::sweep`]: super::pool::ConnectionPool::sweep

use std::sync::{Arc, Weak};

use super::endpoint::Endpoint;
use super::pool::PoolSettings;

/// Starts sweeping the pools of `endpoints` on `runtime`.
pub fn spawn_pool_sweep<'a>(
    endpoints: impl IntoIterator<Item = &'a Arc<Endpoint>>,
    settings: PoolSettings,
    runtime: &tokio::runtime::Handle,
) {
    let endpoints: Vec<Weak<Endpoint>> = endpoints.into_iter().map(Arc::downgrade).collect();
    if endpoints.is_empty() {
        return;
    }
    let interval = settings.sweep_interval();
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let mut alive = false;
            for endpoint in endpoints.iter().filter_map(Weak::upgrade) {
                alive = true;
                let closed = endpoint.pool.sweep();
                if closed > 0 {
                    tracing::debug!(endpoint = %endpoint.address, closed, "idle upstream connections closed");
                }
            }
            if !alive {
                return;
            }
        }
    });
}
