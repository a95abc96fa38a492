//! Which worker thread the current code runs on, so per-worker state (connection pools, counters,
//! log buffers) is touched only by its own thread.

use std::cell::Cell;

thread_local! {
    static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the current thread as worker `index` (called once when a worker thread starts).
pub fn enter_worker(index: usize) {
    SLOT.with(|slot| slot.set(Some(index)));
}

/// The slot of the current thread among `slots` per-worker slots: its worker index, or the last
/// slot (shared) for threads that are not workers.
pub fn current_slot(slots: usize) -> usize {
    SLOT.with(|slot| match slot.get() {
        Some(index) if index + 1 < slots => index,
        _ => slots.saturating_sub(1),
    })
}
