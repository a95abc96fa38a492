//! Reload on file change. The program's directories are watched with inotify (the `notify`
//! crate): an event on one of its files wakes the watcher, which waits until the files have been
//! quiet for a moment (an editor's save is several events), compares their content with what the
//! last reload attempt read, and reloads when it differs, so `touch` and no-op saves cost nothing.
//!
//! The comparison is with the snapshot taken *before* the last attempt, never after it: an edit
//! that lands while a reload runs (a large program takes a while to build, and a refused one is
//! followed by the fix within moments) differs from that snapshot and is reloaded in its turn.
//! Taking the snapshot after the attempt is how changes used to go missing after a refused program.
//!
//! A poll runs beside the watcher as a safety net, comparing only metadata (size, times, inode:
//! a few `stat` calls, nothing read): inotify sees nothing of changes made on another host of a
//! network file system (NFS, SMB) or through some FUSE mounts, and no watch can be added once the
//! system's inotify watch limit is reached. Either would otherwise leave meshd serving an old
//! program without a word.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::event::AccessKind;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

use super::reloader::Reloader;
use super::watched_files::{Snapshot, WatchedFiles};

/// How long the files must be quiet after an event before they are compared.
const SETTLE: Duration = Duration::from_millis(50);

/// Watches the program's files forever (until the task is dropped), reloading when their
/// content changes. The baseline is taken before the returned future first runs, so an edit made
/// right after start is not mistaken for it. `poll` is the safety-net poll's period.
pub fn watch_files(
    reloader: Arc<Reloader>,
    poll: Duration,
) -> impl std::future::Future<Output = ()> {
    let files = WatchedFiles::of(&reloader);
    let attempted = files.snapshot();
    watch_loop(reloader, poll, files, attempted)
}

async fn watch_loop(
    reloader: Arc<Reloader>,
    poll: Duration,
    mut files: WatchedFiles,
    mut attempted: Snapshot,
) {
    let changed = Arc::new(Notify::new());
    let filter = Arc::new(RwLock::new(files.clone()));
    let mut watcher = InotifyWatch::start(Arc::clone(&changed), Arc::clone(&filter));
    if let Some(watcher) = &mut watcher {
        watcher.follow(&files);
    }
    let settle = SETTLE.min(poll);
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = changed.notified() => quiet_for(&changed, settle, poll).await,
            _ = tick.tick() => {
                // Metadata only: read nothing unless something looks different.
                if attempted.stamps_match(&WatchedFiles::of(&reloader).stamps()) {
                    continue;
                }
            }
        }
        let now = WatchedFiles::of(&reloader);
        let snapshot = now.snapshot();
        if !snapshot.content_differs(&attempted) {
            attempted = snapshot;
            continue;
        }
        attempted = snapshot;
        // A refused program is logged and counted by the reloader, and not retried until its
        // files change again.
        let _ = reloader.reload("file").await;
        files = WatchedFiles::of(&reloader);
        attempted.adopt_new_files(&files);
        if let Ok(mut shared) = filter.write() {
            *shared = files.clone();
        }
        if let Some(watcher) = &mut watcher {
            watcher.follow(&files);
        }
    }
}

/// Waits until no event has come for `settle` (at most `limit` in all).
async fn quiet_for(changed: &Notify, settle: Duration, limit: Duration) {
    let give_up = tokio::time::Instant::now() + limit;
    loop {
        tokio::select! {
            () = changed.notified() => {
                if tokio::time::Instant::now() >= give_up {
                    return;
                }
            }
            () = tokio::time::sleep(settle) => return,
        }
    }
}

/// The inotify watcher and the directories it watches.
struct InotifyWatch {
    watcher: RecommendedWatcher,
    watching: BTreeMap<PathBuf, RecursiveMode>,
}

impl InotifyWatch {
    /// Starts a watcher that wakes `changed` on every event `filter` finds relevant; `None`
    /// (with a warning: the poll still runs) when the platform refuses one.
    fn start(changed: Arc<Notify>, filter: Arc<RwLock<WatchedFiles>>) -> Option<InotifyWatch> {
        let handler = move |event: notify::Result<Event>| {
            let relevant = match &event {
                Ok(event) if event.need_rescan() => true,
                Ok(event) => {
                    // Opening a file is not changing it (and meshd's own reads open them).
                    !matches!(event.kind, EventKind::Access(AccessKind::Open(_)))
                        && filter.read().is_ok_and(|files| {
                            event.paths.iter().any(|path| files.is_relevant(path))
                        })
                }
                Err(_) => true,
            };
            if relevant {
                changed.notify_one();
            }
        };
        match notify::recommended_watcher(handler) {
            Ok(watcher) => Some(InotifyWatch {
                watcher,
                watching: BTreeMap::new(),
            }),
            Err(error) => {
                tracing::warn!(%error, "cannot watch the program's files; changes are found by polling only");
                None
            }
        }
    }

    /// Watches what `files` needs, and no longer what it does not.
    fn follow(&mut self, files: &WatchedFiles) {
        let wanted = files.watch_targets();
        let stale: Vec<PathBuf> = self
            .watching
            .iter()
            .filter(|(path, mode)| wanted.get(*path) != Some(mode))
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            let _ = self.watcher.unwatch(&path);
            self.watching.remove(&path);
        }
        for (path, mode) in wanted {
            if self.watching.contains_key(&path) {
                continue;
            }
            match self.watcher.watch(&path, mode) {
                Ok(()) => {
                    self.watching.insert(path, mode);
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot watch a directory of the program; its changes are found by polling");
                }
            }
        }
    }
}
