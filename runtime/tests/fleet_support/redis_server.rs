//! A throwaway `redis-server` on a loopback port, which a test can stop and start again on the
//! same port (a Redis outage).

use std::io::BufRead;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) redis-server.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// `redis://127.0.0.1:<port>/`.
    pub url: String,
}

/// Whether redis-server is installed.
pub fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok()
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = RedisServer {
            port,
            child: None,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        redis.restart();
        redis
    }

    /// Stops it (connections refused from now on).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty; waits for "Ready to accept connections".
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut child = Command::new("redis-server")
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs");
            let stdout = child.stdout.take().expect("piped stdout");
            let mut lines = std::io::BufReader::new(stdout).lines();
            let ready = lines
                .by_ref()
                .map_while(Result::ok)
                .any(|line| line.contains("Ready to accept connections"));
            if ready {
                std::thread::spawn(move || lines.for_each(drop));
                self.child = Some(child);
                return;
            }
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
