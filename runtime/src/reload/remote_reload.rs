//! The reloader's path for a bundle URL. A poll (or SIGHUP, or `POST /reload`) fetches the URL
//! conditionally; a 304 changes nothing; a new bundle is checked (schema, digest, signature,
//! serial), built and swapped in like any other, then written to the last-known-good cache. A
//! refused or unreachable bundle is logged and counted, and the served bundle keeps serving.
//!
//! At start the cache is read first, so the first GET can be conditional on the cached copy; if
//! the server is unreachable, or sends a bundle that is refused, meshd starts from the cache and
//! says so. With neither, it refuses to start.

use std::sync::Arc;

use crate::load::remote::{
    check_fetched, CacheRecord, CachedBundle, Fetch, FetchOutcome, FetchedBundle, RemoteSource,
    Validators,
};
use crate::load::LoadedInput;
use crate::state::RuntimeState;

use super::reloader::{error_chain, release_when_unused, LoadFailure, ReloadOutcome, Reloader};

/// A cached bundle that passed its checks.
struct UsableCache {
    cached: CachedBundle,
    state: RuntimeState,
    warnings: String,
}

impl Reloader {
    fn remote_source(&self) -> Result<&RemoteSource, LoadFailure> {
        self.remote
            .as_ref()
            .ok_or_else(|| LoadFailure::Task("the input is not a bundle URL".to_string()))
    }

    /// The first load from a bundle URL: fetch once (conditionally on the cached copy), and fall
    /// back to the cache when the server is unreachable or its bundle is refused.
    pub(super) fn load_initial_remote(&self) -> Result<Arc<RuntimeState>, LoadFailure> {
        let remote = self.remote_source()?;
        let mut cache_note = match &remote.cache {
            Some(cache) => format!("the cache {} holds no bundle", cache.dir().display()),
            None => "no --cache-dir was given".to_string(),
        };
        let usable = match self.usable_cache(remote) {
            Ok(usable) => usable,
            Err(note) => {
                cache_note = note;
                None
            }
        };
        let fetched = self.block_on_control(async {
            let mut fetcher = remote.fetcher.lock().await;
            if let Some(usable) = &usable {
                fetcher.accepted(validators_of(&usable.cached.record));
            }
            fetcher.fetch().await
        });
        let fetch_note = match fetched {
            Ok(Fetch::Fresh(fresh)) => match self.build_fetched(&fresh, usable.as_ref()) {
                Ok((state, warnings)) => {
                    let etag = fresh.validators.etag.clone();
                    let (installed, _) =
                        self.install(state, Vec::new(), &warnings, etag.as_deref());
                    self.fetched_accepted(remote, &fresh, &installed, FetchOutcome::Updated);
                    return Ok(installed);
                }
                Err(failure) => {
                    let reason = error_chain(&failure);
                    self.metrics.count_load(false);
                    remote
                        .status
                        .record(FetchOutcome::Refused, Some(reason.clone()));
                    tracing::error!(url = %remote.url, error = %reason, "the bundle on the server is refused");
                    format!("its bundle is refused: {reason}")
                }
            },
            Ok(Fetch::NotModified) => {
                remote.status.record(FetchOutcome::NotModified, None);
                match usable {
                    Some(usable) => {
                        tracing::info!(url = %remote.url, digest = %usable.cached.record.digest, "the server has the cached bundle (304); serving it");
                        return Ok(self.install_cached(remote, usable, false));
                    }
                    None => "it answered 304 to an unconditional request".to_string(),
                }
            }
            Err(error) => {
                let reason = error_chain(&error);
                remote
                    .status
                    .record(FetchOutcome::Error, Some(reason.clone()));
                format!("it is unreachable: {reason}")
            }
        };
        match usable {
            Some(usable) => {
                tracing::warn!(
                    url = %remote.url,
                    digest = %usable.cached.record.digest,
                    fetched_at = %usable.cached.record.fetched_at,
                    cache = %usable.cached.path.display(),
                    "the bundle server gave no usable bundle ({fetch_note}); serving the last known good bundle from the cache"
                );
                Ok(self.install_cached(remote, usable, true))
            }
            None => {
                self.metrics.count_load(false);
                Err(LoadFailure::NothingToServe {
                    url: remote.url.to_string(),
                    fetch: fetch_note,
                    cache: cache_note,
                })
            }
        }
    }

    /// Polls the bundle URL once and swaps in what it brings (serialized with other reloads).
    pub(super) async fn reload_remote(
        self: &Arc<Self>,
        trigger: &'static str,
    ) -> Result<ReloadOutcome, LoadFailure> {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        let remote = self.remote_source()?;
        let fetched = remote.fetcher.lock().await.fetch().await;
        let fresh = match fetched {
            Err(error) => {
                let reason = error_chain(&error);
                remote
                    .status
                    .record(FetchOutcome::Error, Some(reason.clone()));
                tracing::warn!(trigger, url = %remote.url, error = %reason, "cannot fetch the bundle; the current bundle keeps serving");
                return Err(LoadFailure::Fetch(error));
            }
            Ok(Fetch::NotModified) => {
                remote.status.record(FetchOutcome::NotModified, None);
                tracing::debug!(trigger, url = %remote.url, "bundle not modified");
                return Ok(ReloadOutcome {
                    digest: self.served_digest(),
                    changed: false,
                });
            }
            Ok(Fetch::Fresh(fresh)) => Arc::new(fresh),
        };
        let this = Arc::clone(self);
        let job = Arc::clone(&fresh);
        let built = tokio::task::spawn_blocking(move || this.build_fetched(&job, None))
            .await
            .map_err(|e| LoadFailure::Task(e.to_string()))
            .and_then(|built| built);
        let etag = fresh.validators.etag.as_deref();
        let result = built
            .and_then(|(state, warnings)| self.accept(state, Vec::new(), &warnings, etag))
            .map(|(outcome, replaced)| {
                if let Some(replaced) = replaced {
                    release_when_unused(replaced, self.metrics.replaced_states());
                }
                outcome
            });
        match &result {
            Ok(outcome) => {
                let outcome_kind = if outcome.changed {
                    FetchOutcome::Updated
                } else {
                    FetchOutcome::Unchanged
                };
                if let Some(installed) = self.cell().load() {
                    self.fetched_accepted(remote, &fresh, &installed, outcome_kind);
                }
                if outcome.changed {
                    tracing::info!(trigger, url = %remote.url, digest = %outcome.digest, "bundle updated from the server");
                }
            }
            Err(failure) => {
                let reason = error_chain(failure);
                self.metrics.count_load(false);
                remote
                    .status
                    .record(FetchOutcome::Refused, Some(reason.clone()));
                tracing::error!(trigger, url = %remote.url, error = %reason, "bundle refused; the previous bundle keeps serving");
            }
        }
        result
    }

    /// Checks a fetched bundle (and, before anything is built, its serial against the served
    /// bundle's or, at start, the cached one's) and builds its state.
    fn build_fetched(
        &self,
        fresh: &FetchedBundle,
        floor: Option<&UsableCache>,
    ) -> Result<(RuntimeState, String), LoadFailure> {
        let remote = self.remote_source()?;
        let bundle = check_fetched(
            &fresh.bytes,
            fresh.signature.as_deref(),
            self.verify_key(),
            remote.url.as_str(),
        )?;
        let serving = self
            .cell()
            .load()
            .map(|state| state.info.serial)
            .or(floor.map(|usable| usable.cached.record.serial));
        if let Some(serving) = serving {
            self.check_serial(serving, bundle.serial)?;
        }
        let loaded = LoadedInput {
            bundle,
            files: Vec::new(),
            warnings: String::new(),
        };
        let (state, _, warnings) = self.build_loaded(Ok(loaded))?;
        Ok((state, warnings))
    }

    /// Reads and checks the cache; `Err` says why it cannot be used (for the start-up message).
    fn usable_cache(&self, remote: &RemoteSource) -> Result<Option<UsableCache>, String> {
        let Some(cache) = &remote.cache else {
            return Ok(None);
        };
        let cached = match cache.load() {
            Ok(Some(cached)) => cached,
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "the bundle cache is unreadable; ignoring it");
                return Err(format!("the cache is unreadable: {}", error_chain(&error)));
            }
        };
        let origin = cached.path.display().to_string();
        let checked = check_fetched(
            &cached.bytes,
            cached.signature.as_deref(),
            self.verify_key(),
            &origin,
        )
        .map_err(LoadFailure::from)
        .and_then(|bundle| {
            let loaded = LoadedInput {
                bundle,
                files: Vec::new(),
                warnings: String::new(),
            };
            self.build_loaded(Ok(loaded))
        });
        match checked {
            Ok((state, _, warnings)) => Ok(Some(UsableCache {
                cached,
                state,
                warnings,
            })),
            Err(failure) => {
                let reason = error_chain(&failure);
                tracing::warn!(cache = %origin, error = %reason, "the cached bundle is refused; ignoring it");
                Err(format!("the cached bundle is refused: {reason}"))
            }
        }
    }

    fn install_cached(
        &self,
        remote: &RemoteSource,
        usable: UsableCache,
        from_cache: bool,
    ) -> Arc<RuntimeState> {
        let record = &usable.cached.record;
        let (installed, _) = self.install(
            usable.state,
            Vec::new(),
            &usable.warnings,
            record.etag.as_deref(),
        );
        remote.status.serving(
            record.etag.clone(),
            record.last_modified.clone(),
            from_cache,
        );
        installed
    }

    /// Records an accepted fetch: status, validators, and the last-known-good cache.
    fn fetched_accepted(
        &self,
        remote: &RemoteSource,
        fresh: &FetchedBundle,
        installed: &RuntimeState,
        outcome: FetchOutcome,
    ) {
        let validators = fresh.validators.clone();
        remote.status.record(outcome, None);
        remote.status.serving(
            validators.etag.clone(),
            validators.last_modified.clone(),
            false,
        );
        if let Ok(mut fetcher) = remote.fetcher.try_lock() {
            fetcher.accepted(validators.clone());
        }
        let Some(cache) = &remote.cache else {
            return;
        };
        let record = CacheRecord {
            url: remote.url.to_string(),
            digest: installed.info.digest.clone(),
            serial: installed.info.serial,
            etag: validators.etag,
            last_modified: validators.last_modified,
            fetched_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        if let Err(error) = cache.store(&fresh.bytes, fresh.signature.as_deref(), &record) {
            tracing::warn!(error = %error_chain(&error), "cannot write the last-known-good cache; a restart while the server is down would not find this bundle");
        }
    }

    fn served_digest(&self) -> String {
        self.cell()
            .load()
            .map(|state| state.info.digest.clone())
            .unwrap_or_default()
    }

    /// Runs `future` on the control runtime from a plain thread (the first load happens before
    /// the caller serves anything, possibly inside another runtime's context).
    fn block_on_control<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        let control = self.control();
        std::thread::scope(|scope| {
            scope
                .spawn(|| control.block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

fn validators_of(record: &CacheRecord) -> Validators {
    Validators {
        etag: record.etag.clone(),
        last_modified: record.last_modified.clone(),
    }
}
