//! A real nginx serving a directory on a loopback port, configured in a temporary directory (no
//! root paths), stopped and started again on the same port when a test needs an outage.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx serving `root`.
pub struct Nginx {
    dir: PathBuf,
    root: PathBuf,
    /// Where it listens.
    pub address: SocketAddr,
    /// The certificate and key (PEM files) when it serves HTTPS.
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
}

/// Whether nginx is installed (Debian: `apt-get install nginx`).
pub fn nginx_installed() -> bool {
    Command::new("nginx").arg("-v").output().is_ok()
}

impl Nginx {
    /// Starts nginx serving `root` on a free loopback port; its files live in `dir`.
    pub fn start(dir: &Path, root: &Path) -> Nginx {
        Self::start_with(dir, root, None)
    }

    /// Starts nginx serving `root` over HTTPS with this certificate and key (PEM files).
    pub fn start_tls(dir: &Path, root: &Path, cert: &Path, key: &Path) -> Nginx {
        Self::start_with(dir, root, Some((cert.to_path_buf(), key.to_path_buf())))
    }

    fn start_with(dir: &Path, root: &Path, tls: Option<(PathBuf, PathBuf)>) -> Nginx {
        std::fs::create_dir_all(dir).unwrap();
        for attempt in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut nginx = Nginx {
                dir: dir.to_path_buf(),
                root: root.to_path_buf(),
                address: SocketAddr::from(([127, 0, 0, 1], port)),
                tls: tls.clone(),
                child: None,
            };
            if nginx.try_start() {
                return nginx;
            }
            eprintln!("nginx could not bind port {port} (attempt {attempt}); trying another");
        }
        panic!(
            "nginx did not start; see {}",
            dir.join("error.log").display()
        );
    }

    /// The URL of a file it serves (`https://localhost:…` when it serves HTTPS).
    pub fn url(&self, file: &str) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}/{file}", self.address.port()),
            None => format!("http://{}/{file}", self.address),
        }
    }

    /// Stops nginx (connections refused from now on).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.try_start() {
            assert!(
                Instant::now() < deadline,
                "nginx did not restart on {}",
                self.address
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_start(&mut self) -> bool {
        let config = self.dir.join("nginx.conf");
        let dir = self.dir.display();
        let listen = match &self.tls {
            Some((cert, key)) => format!(
                "listen {} ssl; ssl_certificate {}; ssl_certificate_key {};",
                self.address,
                cert.display(),
                key.display()
            ),
            None => format!("listen {};", self.address),
        };
        std::fs::write(
            &config,
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
                 error_log {dir}/error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  \
                 access_log off;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n  \
                 fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  \
                 scgi_temp_path {dir}/scgi;\n  types {{ application/json json; }}\n  \
                 default_type text/plain;\n  server {{ {listen} root {}; }}\n}}\n",
                self.root.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("nginx")
            .arg("-c")
            .arg(&config)
            .arg("-p")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs");
        // Ready when the port accepts; gone when the process exits (port taken).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if TcpStream::connect(self.address).is_ok() {
                self.child = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
