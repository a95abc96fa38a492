//! Polls a bundle URL forever (until the task is dropped): wait the schedule's interval plus
//! jitter (longer after failures), then reload from the URL. The fetch, checks and swap are the
//! reloader's; this file only keeps time.

use std::sync::Arc;
use std::time::SystemTime;

use super::reloader::Reloader;

/// Polls `reloader`'s bundle URL; returns at once if its input is not a URL.
pub async fn poll_url(reloader: Arc<Reloader>) {
    let Some(remote) = reloader.remote() else {
        return;
    };
    let schedule = remote.schedule;
    let status = Arc::clone(&remote.status);
    tracing::info!(
        url = %remote.url,
        interval = ?schedule.interval,
        jitter = ?schedule.jitter,
        max_backoff = ?schedule.max_backoff,
        "polling the bundle URL"
    );
    loop {
        let delay = schedule.next_delay(status.consecutive_failures());
        status.scheduled(SystemTime::now() + delay);
        tokio::time::sleep(delay).await;
        // Failures are logged, counted and turned into backoff by the reloader and the status.
        let _ = reloader.reload("poll").await;
    }
}
