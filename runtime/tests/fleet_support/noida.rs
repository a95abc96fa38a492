//! A Kafka-compatible broker with real transactions, in its own process, for the exactly-once
//! drill: `noida-db` (PyPI `noida-db`, a single binary), its Kafka service alone, on an ephemeral
//! loopback port, with its data in a scratch directory.
//!
//! librdkafka's mock cluster (meshd's embedded broker) answers the transaction requests but writes
//! no commit/abort markers and keeps aborted records visible to `read_committed` readers, so the
//! no-duplicate half of exactly-once can only be checked against a broker like this one (see
//! docs/fleet.md, "Which brokers can prove exactly-once").

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running noida-db with only its Kafka service.
pub struct NoidaKafka {
    child: Child,
    /// `noida-db activity -f`, following every request from the start into `activity`.
    follower: Option<Child>,
    activity: PathBuf,
    /// `127.0.0.1:<port>`.
    pub bootstrap: String,
}

/// The noida-db binary: `MESHD_TEST_NOIDA_DB`, else the one the `noida_db` Python package ships.
/// (Its `noida-db` console script is a Python wrapper whose child would outlive a kill, so the
/// tests run the binary itself.)
pub fn noida_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MESHD_TEST_NOIDA_DB") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "from importlib.resources import files; print(files('noida_db').joinpath('noida-db'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    (output.status.success() && path.is_file()).then_some(path)
}

impl NoidaKafka {
    /// Starts `binary` with its data under `dir`; returns once it printed its Kafka address.
    pub fn start(binary: &Path, dir: &Path) -> NoidaKafka {
        // A wheel's file modes are not always kept by the installer; its own wrapper sets them.
        if let Ok(metadata) = std::fs::metadata(binary) {
            if metadata.permissions().mode() & 0o111 == 0 {
                let _ = std::fs::set_permissions(binary, std::fs::Permissions::from_mode(0o755));
            }
        }
        let mut child = Command::new(binary)
            .arg("start")
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--host",
                "127.0.0.1",
                "--only",
                "kafka",
                "--kafka-port",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        // "  kafka          127.0.0.1:37459": read on a thread so that a silent broker fails the
        // test instead of hanging it.
        let (address_tx, address_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let mut words = line.split_whitespace();
                if !sent && words.next() == Some("kafka") {
                    if let Some(address) = words.next() {
                        let _ = address_tx.send(address.to_owned());
                        sent = true;
                    }
                }
            }
        });
        let bootstrap = match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("noida-db printed no Kafka address (exit: {status:?})");
            }
        };
        // `noida-db activity` alone shows a short window of recent requests, which a drill's
        // own polling fills; followed from the start, nothing is missed.
        let activity = dir.with_extension("activity");
        let follower = std::fs::File::create(&activity).ok().and_then(|file| {
            Command::new(binary)
                .args(["activity", "-f", "--data-dir"])
                .arg(dir)
                .stdout(file)
                .stderr(Stdio::null())
                .spawn()
                .ok()
        });
        NoidaKafka {
            child,
            follower,
            activity,
            bootstrap,
        }
    }

    /// The consumer-group requests the broker has served, one per line with its time
    /// (`noida-db activity`): what a drill whose group stalled prints.
    pub fn group_activity(&self) -> String {
        if self.follower.is_none() {
            return "noida-db activity -f did not start".to_string();
        }
        let requests = [
            "JoinGroup",
            "SyncGroup",
            "LeaveGroup",
            "Heartbeat",
            "InitProducerId",
        ];
        match std::fs::read_to_string(&self.activity) {
            Ok(text) => text
                .lines()
                .filter(|line| requests.iter().any(|request| line.contains(request)))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(error) => format!("{}: {error}", self.activity.display()),
        }
    }
}

impl Drop for NoidaKafka {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.follower.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
