//! The timer that closes idle upstream connections: every [`PoolSettings::sweep_interval`], each
//! service served at that moment closes its HTTP/1.1 connections idle too long or closed by
//! their upstream ([`ConnectionPool::sweep`]) and its HTTP/2 connections that carried no stream
//! for too long ([`H2Connections::close_idle`]). One task per process, not per state: a replaced
//! state's connections close with it, and a task per state would keep each replaced state's
//! services allocated until its next tick.
//!
//! [`ConnectionPool::sweep`]: super::pool::ConnectionPool::sweep
//! [`H2Connections::close_idle`]: super::h2::H2Connections::close_idle

use std::sync::Arc;

use super::pool::PoolSettings;
use super::service_state::ServiceState;

/// Starts sweeping, on `runtime`, the connections of the services `current` answers at each tick.
pub fn spawn_pool_sweep(
    current: impl Fn() -> Vec<Arc<ServiceState>> + Send + 'static,
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
            for service in current() {
                let mut closed: usize = service.endpoints.iter().map(|e| e.pool.sweep()).sum();
                if let Some(h2) = &service.h2 {
                    closed += h2.close_idle(settings.idle_timeout);
                }
                if closed > 0 {
                    tracing::debug!(service = %service.name, closed, "idle upstream connections closed");
                }
            }
        }
    });
}
