//! Shared rate limits across meshd processes on one real redis-server: three instances together
//! pass what one bucket allows (burst plus refill over the elapsed time, the documented
//! accuracy), and when Redis is down each limit does what its `fail` mode says, counted in the
//! metrics.

mod fleet_support;
mod scratch;

use std::time::Instant;

use fleet_support::meshd_process::{eventually, MeshdProcess};
use fleet_support::redis_server::{redis_installed, RedisServer};
use fleet_support::Scratch;

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route bucket { match GET "/bucket"  public  rate_limit 60/min per route burst 30 shared }
  route local  { match GET "/local"   public  rate_limit 2/h per route shared fail local }
  route open   { match GET "/open"    public  rate_limit 1/h per route shared fail open }
  route closed { match GET "/closed"  public  rate_limit 100/min per route shared fail closed }
}
"#;

fn respond_program() -> String {
    // Every route answers 200 itself; the limits are what is under test.
    PROGRAM
        .replace(" shared }", " shared respond 200 \"ok\" }")
        .replace(" fail local }", " fail local respond 200 \"ok\" }")
        .replace(" fail open }", " fail open respond 200 \"ok\" }")
        .replace(" fail closed }", " fail closed respond 200 \"ok\" }")
}

fn fleet(scratch: &Scratch, redis: &RedisServer, count: usize) -> Vec<MeshdProcess> {
    let program = scratch.path("edge.mesh");
    std::fs::write(&program, respond_program()).unwrap();
    (0..count)
        .map(|_| {
            let args: Vec<String> = [
                "run",
                &program.display().to_string(),
                "--admin",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--no-access-log",
                "--redis",
                &redis.url,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            MeshdProcess::start(&args)
        })
        .collect()
}

fn status(meshd: &MeshdProcess, path: &str) -> u16 {
    meshd.gateway_get(path).0
}

#[test]
fn three_meshd_on_one_redis_pass_what_one_bucket_allows() {
    if !redis_installed() {
        eprintln!("skipped: redis-server is not installed (apt-get install -y redis-server)");
        return;
    }
    let scratch = Scratch::new("redis-three");
    let redis = RedisServer::start();
    let fleet = fleet(&scratch, &redis, 3);

    // 150 requests, from three clients at once, each spreading its requests over the three
    // instances: one bucket of 30 refilled at one a second.
    let started = Instant::now();
    let passed: usize = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..3)
            .map(|client| {
                let fleet = &fleet;
                scope.spawn(move || {
                    (0..50)
                        .filter(|i| status(&fleet[(client + i) % 3], "/bucket") == 200)
                        .count()
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).sum()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let most = 30 + elapsed.ceil() as usize;
    eprintln!("{passed} of 150 passed in {elapsed:.2} s (bucket 30, refill 1/s: at most {most})");
    assert!(
        (30..=most).contains(&passed),
        "{passed} passed in {elapsed:.2} s; one shared bucket allows 30 plus one a second"
    );
    for meshd in &fleet {
        assert_eq!(meshd.metric("meshd_rate_limit_redis_errors_total"), 0.0);
        assert_eq!(meshd.metric("meshd_rate_limit_redis_up"), 1.0);
    }
}

#[test]
fn with_redis_down_each_limit_fails_the_way_it_says_and_recovers() {
    if !redis_installed() {
        eprintln!("skipped: redis-server is not installed (apt-get install -y redis-server)");
        return;
    }
    let scratch = Scratch::new("redis-down");
    let mut redis = RedisServer::start();
    let fleet = fleet(&scratch, &redis, 3);
    // Shared while Redis is up: 1 an hour over the whole fleet.
    assert_eq!(status(&fleet[0], "/open"), 200);
    assert_eq!(status(&fleet[1], "/open"), 429);

    redis.stop();
    for meshd in &fleet {
        // fail closed: refused with 503 while Redis cannot count.
        let (code, body) = meshd.gateway_get("/closed");
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("fails closed"), "{body}");
        // fail open: let through, however many.
        for _ in 0..3 {
            assert_eq!(status(meshd, "/open"), 200);
        }
        // fail local: this instance's own bucket of 2.
        assert_eq!(status(meshd, "/local"), 200);
        assert_eq!(status(meshd, "/local"), 200);
        assert_eq!(status(meshd, "/local"), 429);
        assert!(meshd.metric("meshd_rate_limit_redis_errors_total") >= 1.0);
        assert!(meshd.metric("meshd_rate_limit_redis_fallbacks_total{mode=\"closed\"}") >= 1.0);
        assert!(meshd.metric("meshd_rate_limit_redis_fallbacks_total{mode=\"open\"}") >= 3.0);
        assert!(meshd.metric("meshd_rate_limit_redis_fallbacks_total{mode=\"local\"}") >= 3.0);
        assert_eq!(meshd.metric("meshd_rate_limit_redis_up"), 0.0);
    }

    // Redis back (empty): shared counting resumes once the pause after the failure is over.
    redis.restart();
    for meshd in &fleet {
        eventually("the closed limit passes again", || {
            status(meshd, "/closed") == 200
        });
        assert_eq!(meshd.metric("meshd_rate_limit_redis_up"), 1.0);
    }
    assert_eq!(status(&fleet[0], "/open"), 200);
    assert_eq!(status(&fleet[2], "/open"), 429, "counted in Redis again");
}
