//! Rate limits through `RouteAdmission`: per consumer, address and route, shared across
//! instances through a store, and their buckets kept across a reload.

use super::*;

#[tokio::test]
async fn sixth_request_in_the_window_gets_429_with_retry_after() {
    let admission = build(vec![key_auth(), limit(5, RateLimitKey::Consumer, false)]);
    for remaining in (0..5).rev() {
        let request = Request::get().key("engage");
        let facts = request.facts();
        let admitted = admission.admit(&facts).await.unwrap();
        let mut response = HeaderMap::new();
        admitted.apply_response_headers(&mut response);
        assert_eq!(response[&RATELIMIT_LIMIT], "5");
        assert_eq!(
            response[&RATELIMIT_REMAINING],
            remaining.to_string().as_str()
        );
    }
    let sixth = admit(&admission, &Request::get().key("engage"))
        .await
        .unwrap_err();
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        sixth.reason,
        "rate limit of 5 per minute per consumer exceeded"
    );
    assert_eq!(sixth.headers[RETRY_AFTER], "12");
    assert_eq!(sixth.headers[&RATELIMIT_REMAINING], "0");
    assert_eq!(sixth.headers[&RATELIMIT_RESET], "60");
    assert_eq!(
        sixth.denied_by_header(),
        "route=officers; step=rate_limit; source=edge.mesh:10"
    );
    // another consumer has its own bucket
    assert!(admit(&admission, &Request::get().key("shut-up-wesley"))
        .await
        .is_ok());
}

#[tokio::test]
async fn refused_auth_does_not_spend_the_consumers_tokens() {
    let admission = build(vec![key_auth(), limit(1, RateLimitKey::Consumer, false)]);
    for _ in 0..3 {
        assert!(admit(&admission, &Request::get().key("wrong"))
            .await
            .is_err());
    }
    assert!(admit(&admission, &Request::get().key("engage"))
        .await
        .is_ok());
}

#[tokio::test]
async fn per_ip_and_per_route_limits_count_what_they_say() {
    let per_ip = build(vec![limit(1, RateLimitKey::Ip, false)]);
    assert!(admit(&per_ip, &Request::get().from("10.0.0.1:1"))
        .await
        .is_ok());
    assert!(admit(&per_ip, &Request::get().from("10.0.0.1:2"))
        .await
        .is_err());
    assert!(admit(&per_ip, &Request::get().from("10.0.0.2:1"))
        .await
        .is_ok());

    let per_route = build(vec![limit(2, RateLimitKey::Route, false)]);
    assert!(admit(&per_route, &Request::get().from("10.0.0.1:1"))
        .await
        .is_ok());
    assert!(admit(&per_route, &Request::get().from("10.0.0.2:1"))
        .await
        .is_ok());
    assert!(admit(&per_route, &Request::get().from("10.0.0.3:1"))
        .await
        .is_err());
}

/// A shared store that counts in memory, standing in for Redis: admission must use it for
/// shared limits and fall back to local counting when it fails.
#[derive(Debug, Default)]
struct MemoryCounter {
    tats: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    failing: std::sync::atomic::AtomicBool,
}

impl crate::admit::limit::SharedCounter for MemoryCounter {
    fn decide<'a>(
        &'a self,
        key: &'a str,
        gcra: &'a crate::admit::limit::Gcra,
    ) -> crate::admit::limit::CountFuture<'a> {
        Box::pin(async move {
            if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(crate::admit::limit::SharedCountError("down".into()));
            }
            let mut tats = self.tats.lock().unwrap();
            let tat = tats.get(key).copied().unwrap_or(0);
            let (next, verdict) = gcra.decide(tat, 1_000_000_000);
            if let Some(next) = next {
                tats.insert(key.to_string(), next);
            }
            Ok(verdict)
        })
    }
}

#[tokio::test]
async fn shared_limit_is_one_bucket_across_instances() {
    let store: Arc<dyn crate::admit::limit::SharedCounter> = Arc::new(MemoryCounter::default());
    let options = AdmitOptions {
        shared_store: Some(Arc::clone(&store)),
        ..AdmitOptions::default()
    };
    let first = build_with(
        vec![key_auth(), limit(3, RateLimitKey::Consumer, true)],
        &options,
    );
    let second = build_with(
        vec![key_auth(), limit(3, RateLimitKey::Consumer, true)],
        &options,
    );
    assert!(first.has_shared_limit());
    let mut passed = 0;
    for i in 0..6 {
        let instance = if i % 2 == 0 { &first } else { &second };
        if admit(instance, &Request::get().key("engage")).await.is_ok() {
            passed += 1;
        }
    }
    assert_eq!(passed, 3);
    let refused = admit(&first, &Request::get().key("engage"))
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key(RETRY_AFTER));
}

#[tokio::test]
async fn shared_limit_counts_locally_when_the_store_fails_or_is_absent() {
    let store = Arc::new(MemoryCounter::default());
    store
        .failing
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let down = AdmitOptions {
        shared_store: Some(store),
        ..AdmitOptions::default()
    };
    let admission = build_with(
        vec![key_auth(), limit(2, RateLimitKey::Consumer, true)],
        &down,
    );
    let outcomes: Vec<bool> = outcomes_for_picard(&admission, 4).await;
    assert_eq!(
        outcomes,
        [true, true, false, false],
        "still limited while the store is down"
    );

    let absent = build(vec![key_auth(), limit(2, RateLimitKey::Consumer, true)]);
    assert!(!absent.has_shared_limit());
    assert_eq!(absent.warnings().len(), 1);
    assert!(
        absent.warnings()[0].contains("no --redis"),
        "{:?}",
        absent.warnings()
    );
}

async fn outcomes_for_picard(admission: &RouteAdmission, n: usize) -> Vec<bool> {
    let mut outcomes = Vec::new();
    for _ in 0..n {
        outcomes.push(
            admit(admission, &Request::get().key("engage"))
                .await
                .is_ok(),
        );
    }
    outcomes
}

#[tokio::test]
async fn reload_keeps_the_buckets_of_unchanged_limits() {
    let gateway = gateway(vec![route(vec![
        key_auth(),
        limit(2, RateLimitKey::Consumer, false),
    ])]);
    let before = GatewayAdmission::build(&gateway, &secrets(), &AdmitOptions::default()).unwrap();
    let officers = before.route(0).unwrap();
    assert!(admit(officers, &Request::get().key("engage")).await.is_ok());
    assert!(admit(officers, &Request::get().key("engage")).await.is_ok());

    let after =
        GatewayAdmission::rebuild(&gateway, &secrets(), &AdmitOptions::default(), &before).unwrap();
    let refused = admit(after.route(0).unwrap(), &Request::get().key("engage")).await;
    assert_eq!(refused.unwrap_err().status, StatusCode::TOO_MANY_REQUESTS);

    let changed = self::gateway(vec![route(vec![
        key_auth(),
        limit(3, RateLimitKey::Consumer, false),
    ])]);
    let fresh =
        GatewayAdmission::rebuild(&changed, &secrets(), &AdmitOptions::default(), &after).unwrap();
    assert!(
        admit(fresh.route(0).unwrap(), &Request::get().key("engage"))
            .await
            .is_ok()
    );
    let kept = after.route(0).unwrap().rate_limits().next().unwrap();
    let replaced = fresh.route(0).unwrap().rate_limits().next().unwrap();
    assert!(
        !replaced.shares_buckets_with(kept),
        "a changed rate starts afresh"
    );
}
