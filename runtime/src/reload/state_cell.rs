//! The state requests read: swapped whole and atomically; a request keeps the state it started
//! with (an `Arc`) until it finishes, however many reloads happen meanwhile.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::state::RuntimeState;

/// The current runtime state, empty until the first bundle is loaded.
#[derive(Debug, Default)]
pub struct StateCell {
    current: ArcSwapOption<RuntimeState>,
}

impl StateCell {
    /// The state being served, if a bundle is loaded.
    pub fn load(&self) -> Option<Arc<RuntimeState>> {
        self.current.load_full()
    }

    /// Whether a bundle is loaded (readiness).
    pub fn is_loaded(&self) -> bool {
        self.current.load().is_some()
    }

    /// Serves `state` from now on; returns the state it replaces, which requests that started on
    /// it may still hold.
    pub fn swap(&self, state: Arc<RuntimeState>) -> Option<Arc<RuntimeState>> {
        self.current.swap(Some(state))
    }
}
