//! The `meshd` command line. The work lives in the library; this file parses arguments,
//! prints results and chooses the exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use meshd::load::program_check::program_errors;
use meshd::load::remote::SourceArgs;
use meshd::load::signature::SignedReadError;
use meshd::load::{
    generate_key_pair, read_bundle_file, read_signed_bundle_file, sign_bundle, BundleError,
    VerifyKey,
};
use meshd::mesh::service_host::{ServiceHosts, RESOLV_CONF};
use meshd::mesh::sidecar::SidecarOptions;
use meshd::run::{DEFAULT_DRAIN_DELAY, DEFAULT_DRAIN_TIMEOUT};
use meshd::server::drain::DrainPlan;
use meshd::stream::StreamArgs;
use meshd::trace::TraceArgs;
use meshd::{start, RunOptions};

mod stop;

use stop::{serve_until_stopped, StopSignals};

/// The Meshwork runtime.
#[derive(Debug, Parser)]
#[command(name = "meshd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start; boxing the large `run` variant would buy nothing.
/// How bundles must be signed.
#[derive(Debug, clap::Args)]
struct SignatureArgs {
    /// Refuse bundles whose `<bundle>.sig` does not verify with this public key.
    #[arg(long, value_name = "FILE")]
    verify_key: Option<PathBuf>,
    /// Also accept signatures of the first format (over the digest alone, so checked only after
    /// the whole bundle was read), while a fleet moves to signatures from this version.
    #[arg(long, requires = "verify_key")]
    accept_v1_signatures: bool,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Check a bundle against the schema and its digest without running it.
    Validate {
        /// The bundle file (JSON).
        bundle: PathBuf,
        #[command(flatten)]
        signature: SignatureArgs,
    },
    /// Serve a bundle, a bundle URL (polled), or .mesh sources compiled in-process.
    Run {
        /// A bundle (.json or .json.zst), an http(s):// bundle URL, a directory of .mesh files, or
        /// .mesh files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The admin listener (/healthz, /readyz, /metrics, /bundle, POST /reload).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9901")]
        admin: String,
        /// Kafka bootstrap servers; without it meshd starts an embedded broker.
        #[arg(long, value_name = "LIST")]
        brokers: Option<String>,
        /// A librdkafka setting, passed through (repeatable).
        #[arg(long = "kafka", value_name = "KEY=VALUE", value_parser = key_value)]
        kafka: Vec<(String, String)>,
        /// The Redis counting `shared` rate limits across meshd instances (redis://host:port/db).
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        #[command(flatten)]
        signature: SignatureArgs,
        /// Seed the draws of routes' `fault` rules, so the same requests are faulted on every
        /// run (resilience tests); random when not given.
        #[arg(long, value_name = "N")]
        fault_seed: Option<u64>,
        /// Do not write the access log (JSON lines on stdout).
        #[arg(long)]
        no_access_log: bool,
        /// Start demo apps for the services: on their loopback endpoints, or, when the mesh has
        /// a trust_domain, behind a sidecar on each endpoint with a throwaway CA.
        #[arg(long)]
        demo_upstreams: bool,
        /// The gateway's workload certificate directory (tls.crt, tls.key, ca.crt): forwards to
        /// services that have an identity go over mutual TLS with it.
        #[arg(long, value_name = "DIR")]
        mesh_certs: Option<PathBuf>,
        /// Worker threads (default: one per CPU meshd may run on).
        #[arg(long, value_name = "N", default_value_t = 0)]
        workers: usize,
        /// Changes to the program's files are seen at once (inotify); this is how often their size
        /// and times are also compared, for file systems inotify cannot watch (NFS), in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        watch_interval_ms: u64,
        /// Close client connections idle for this long between requests (like nginx's
        /// keepalive_timeout), e.g. `60s`, `500ms`.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        idle_timeout: Duration,
        /// Give up on a client that takes nothing of a response for this long (like nginx's
        /// send_timeout): an HTTP/1.1 connection closes, an HTTP/2 stream is reset, and the
        /// upstream exchange behind it ends. E.g. `60s`, `10s`.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        send_timeout: Duration,
        /// Close kept-alive upstream connections idle for this long (like nginx's upstream
        /// keepalive_timeout), e.g. `60s`, `5s`.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        upstream_idle_timeout: Duration,
        /// The streams one HTTP/2 client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
        /// Each may hold a 256 KiB window of request body the upstream has not read, so this
        /// bounds what one connection can make meshd hold. A gRPC client with more long-lived
        /// streams on one channel waits for one to end.
        #[arg(long, value_name = "N", default_value_t = meshd::http2_settings::MAX_CONCURRENT_STREAMS,
              value_parser = clap::value_parser!(u32).range(1..))]
        http2_max_streams: u32,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        streams: StreamArgs,
        #[command(flatten)]
        trace: TraceArgs,
        /// After SIGTERM, keep accepting for this long (for load balancers to stop sending) while
        /// /readyz answers 503 and responses close their connections; then close the listeners.
        #[arg(long, value_name = "DURATION", default_value_t = DEFAULT_DRAIN_DELAY.into())]
        drain_delay: humantime::Duration,
        /// From the stop signal, how long requests in flight may take; what is left then is cut
        /// (and meshd exits with status 3).
        #[arg(long, value_name = "DURATION", default_value_t = DEFAULT_DRAIN_TIMEOUT.into())]
        drain_timeout: humantime::Duration,
        /// A unix socket for restarts and upgrades without a refused connection: meshd takes the
        /// listening sockets of the meshd answering there (which then drains), and answers there
        /// for the next one. Give every instance on a host the same path.
        #[arg(long, value_name = "PATH")]
        handover_socket: Option<PathBuf>,
    },
    /// Run beside one instance of a service: mTLS inbound listener at its endpoint, the mesh's
    /// rules, the local app behind it, and a loopback outbound listener for the app's calls.
    Sidecar {
        /// A bundle (.json), a directory of .mesh files, or .mesh files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The service this sidecar stands beside.
        #[arg(long, value_name = "NAME")]
        service: String,
        /// The local app (plain HTTP), e.g. 127.0.0.1:8081.
        #[arg(long, value_name = "ADDR")]
        app: String,
        /// The workload certificate directory (tls.crt, tls.key, ca.crt; or SPIRE's file names).
        #[arg(long, value_name = "DIR")]
        certs: PathBuf,
        /// The inbound listener (default: the service's only endpoint; required when it has several).
        #[arg(long, value_name = "ADDR")]
        inbound: Option<String>,
        /// The outbound listener for the app's calls (Host names the service).
        #[arg(long, value_name = "ADDR", default_value = meshd::mesh::sidecar::DEFAULT_OUTBOUND)]
        outbound: String,
        /// A listener for one `protocol tcp` service the app connects to, e.g. `db=127.0.0.1:15432`:
        /// each connection is piped to the service over mutual TLS. Repeat for more services.
        #[arg(long = "tcp", value_name = "SERVICE=ADDR", value_parser = tcp_listener)]
        tcp: Vec<(String, String)>,
        /// Close a tcp service's connection (the app's or a caller's) on which neither end has
        /// sent anything for this long (Envoy's tcp_proxy default: 1h; 0s: never).
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
        tcp_idle_timeout: Duration,
        /// The DNS search domains by which the app's Host names a service, the first being the
        /// mesh's (on Kubernetes `NAMESPACE.svc.cluster.local`: `riker.NAMESPACE` and
        /// `riker.NAMESPACE.svc.cluster.local` then name riker); comma-separated, "" for none
        /// (default: the `search` line of /etc/resolv.conf).
        #[arg(long, value_name = "DOMAINS")]
        search_domains: Option<String>,
        /// The admin listener (/healthz, /readyz, /metrics, /bundle, POST /reload).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4191")]
        admin: String,
        #[command(flatten)]
        signature: SignatureArgs,
        /// Seed the draws of the mesh's `fault` lines into this service, so the same calls are
        /// faulted on every run (resilience tests); random when not given.
        #[arg(long, value_name = "N")]
        fault_seed: Option<u64>,
        /// Do not write the access log (JSON lines on stdout).
        #[arg(long)]
        no_access_log: bool,
        /// Worker threads (default: one per CPU meshd may run on).
        #[arg(long, value_name = "N", default_value_t = 0)]
        workers: usize,
        /// How often to check the program's files for changes, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        watch_interval_ms: u64,
        /// Close kept-alive connections to the app and to other sidecars idle for this long.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        upstream_idle_timeout: Duration,
        /// Give up on a caller (the app, or another sidecar's stream) that takes nothing of a
        /// response for this long: see `meshd run --send-timeout`.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        send_timeout: Duration,
        /// The streams one HTTP/2 client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
        /// Each may hold a 256 KiB window of request body the upstream has not read, so this
        /// bounds what one connection can make meshd hold. A gRPC client with more long-lived
        /// streams on one channel waits for one to end.
        #[arg(long, value_name = "N", default_value_t = meshd::http2_settings::MAX_CONCURRENT_STREAMS,
              value_parser = clap::value_parser!(u32).range(1..))]
        http2_max_streams: u32,
        /// After SIGTERM, keep accepting calls for this long (callers' balancers and health checks
        /// move away) while /readyz answers 503; the app's outbound calls are served until exit.
        #[arg(long, value_name = "DURATION", default_value_t = DEFAULT_DRAIN_DELAY.into())]
        drain_delay: humantime::Duration,
        /// From the stop signal, how long calls in flight may take; what is left then is cut.
        #[arg(long, value_name = "DURATION", default_value_t = DEFAULT_DRAIN_TIMEOUT.into())]
        drain_timeout: humantime::Duration,
        /// A unix socket for restarts and upgrades without a refused connection (as `run`'s).
        #[arg(long, value_name = "PATH")]
        handover_socket: Option<PathBuf>,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Create an ed25519 key pair for signing bundles: PREFIX.key and PREFIX.pub.
    Keygen {
        /// The path prefix of the two files.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
    /// A small mesh CA for development and tests: init, issue, check.
    #[command(subcommand)]
    Ca(meshd::ca::CaCommand),
    /// The embedded Kafka broker's own process, which `meshd run` starts when no --brokers are
    /// given; it takes commands on stdin.
    #[command(name = meshd::stream::BROKER_SUBCOMMAND, hide = true)]
    EmbeddedBroker,
    /// Sign a bundle with a private key, writing `<bundle>.sig`.
    Sign {
        /// The bundle file.
        bundle: PathBuf,
        /// The private key (from `meshd keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

fn main() -> ExitCode {
    meshd::load::memory_trim::keep_large_allocations_mapped();
    match Cli::parse().command {
        Command::Validate { bundle, signature } => validate(&bundle, &signature),
        Command::Run {
            inputs,
            admin,
            brokers,
            kafka,
            redis,
            signature,
            fault_seed,
            no_access_log,
            demo_upstreams,
            mesh_certs,
            workers,
            watch_interval_ms,
            idle_timeout,
            send_timeout,
            upstream_idle_timeout,
            http2_max_streams,
            source,
            streams,
            trace,
            drain_delay,
            drain_timeout,
            handover_socket,
        } => run(RunOptions {
            inputs,
            admin,
            brokers,
            kafka,
            redis,
            verify_key: signature.verify_key,
            accept_v1_signatures: signature.accept_v1_signatures,
            fault_seed,
            access_log: !no_access_log,
            demo_upstreams,
            workers,
            watch_interval: Duration::from_millis(watch_interval_ms.max(10)),
            reload_on_sighup: true,
            head_timeout: Duration::from_secs(30),
            idle_timeout,
            send_timeout,
            upstream_idle_timeout,
            http2_max_streams,
            mesh_certs,
            sidecar: None,
            source: source.into(),
            streams: streams.into(),
            drain: DrainPlan {
                delay: drain_delay.into(),
                timeout: drain_timeout.into(),
            },
            handover_socket,
            trace,
            ..RunOptions::new(Vec::new())
        }),
        Command::Sidecar {
            inputs,
            service,
            app,
            certs,
            inbound,
            outbound,
            tcp,
            tcp_idle_timeout,
            search_domains,
            admin,
            signature,
            fault_seed,
            no_access_log,
            workers,
            watch_interval_ms,
            upstream_idle_timeout,
            send_timeout,
            http2_max_streams,
            drain_delay,
            drain_timeout,
            handover_socket,
            trace,
        } => run(RunOptions {
            admin,
            trace,
            verify_key: signature.verify_key,
            accept_v1_signatures: signature.accept_v1_signatures,
            fault_seed,
            access_log: !no_access_log,
            workers,
            watch_interval: Duration::from_millis(watch_interval_ms.max(10)),
            reload_on_sighup: true,
            upstream_idle_timeout,
            send_timeout,
            http2_max_streams,
            drain: DrainPlan {
                delay: drain_delay.into(),
                timeout: drain_timeout.into(),
            },
            handover_socket,
            sidecar: Some(SidecarOptions {
                service,
                app,
                certs,
                inbound,
                outbound,
                tcp,
                hosts: ServiceHosts::new(&search_domains_of(search_domains.as_deref())),
                tcp_idle_timeout,
            }),
            ..RunOptions::new(inputs)
        }),
        Command::Keygen { out } => keygen(&out),
        Command::Sign { bundle, key } => sign(&bundle, &key),
        Command::Ca(command) => meshd::ca::run_ca_command(command),
        Command::EmbeddedBroker => {
            match meshd::stream::serve_embedded_broker(std::io::stdin().lock(), std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESHD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run(options: RunOptions) -> ExitCode {
    init_tracing();
    match meshd::open_files::raise_open_file_limit() {
        Ok(limit) if limit.now > limit.before => {
            tracing::info!(
                from = limit.before,
                to = limit.now,
                "open file limit raised"
            );
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not raise the open file limit"),
    }
    if options.drain.delay >= options.drain.timeout {
        eprintln!(
            "error: --drain-delay ({}) must be shorter than --drain-timeout ({})",
            humantime::format_duration(options.drain.delay),
            humantime::format_duration(options.drain.timeout)
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Installed before anything starts, so a stop signal during start-up is not lost.
    let mut signals = match runtime.block_on(async { StopSignals::install() }) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("error: cannot listen for stop signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = match start(options) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {}", meshd::reload::error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    for listener in &server.listeners {
        let scheme = if listener.tls { "https" } else { "http" };
        match listener.kind {
            "gateway" => {
                tracing::info!(gateway = %listener.gateway, address = %listener.address, "listening ({scheme})")
            }
            kind => {
                tracing::info!(service = %listener.gateway, address = %listener.address, "sidecar {kind} listening ({scheme})")
            }
        }
    }
    tracing::info!(address = %server.admin, "admin listening");
    tracing::info!(digest = %server.digest, "serving bundle");

    serve_until_stopped(&runtime, &mut signals, server)
}

/// The search domains given (comma-separated), or else those of /etc/resolv.conf (none when
/// it cannot be read).
/// `--tcp SERVICE=ADDR`.
fn tcp_listener(given: &str) -> Result<(String, String), String> {
    match given.split_once('=') {
        Some((service, address)) if !service.is_empty() && !address.is_empty() => {
            Ok((service.to_string(), address.to_string()))
        }
        _ => Err("expected SERVICE=ADDR, e.g. db=127.0.0.1:15432".to_string()),
    }
}

fn search_domains_of(given: Option<&str>) -> Vec<String> {
    match given {
        Some(list) => ServiceHosts::search_domains_in_list(list),
        None => std::fs::read_to_string(RESOLV_CONF)
            .map(|text| ServiceHosts::search_domains(&text))
            .unwrap_or_default(),
    }
}

fn validate(path: &Path, signature: &SignatureArgs) -> ExitCode {
    // As meshd run reads it: a signature first, on its own, then the bundle it vouches for.
    let bundle = match &signature.verify_key {
        None => read_bundle_file(path).map_err(SignedReadError::Bundle),
        Some(key_file) => VerifyKey::read(key_file)
            .map_err(SignedReadError::Signature)
            .and_then(|key| {
                key.accepting_first_format(signature.accept_v1_signatures)
                    .read_file_under(path, |signed| read_signed_bundle_file(path, signed))
            }),
    };
    let bundle = match bundle {
        Ok(bundle) => bundle,
        Err(SignedReadError::Signature(error)) => {
            eprintln!("error: {} is refused: {error}", path.display());
            return ExitCode::FAILURE;
        }
        Err(SignedReadError::Bundle(error)) => {
            let code = error.exit_code();
            report(path, error);
            return ExitCode::from(code);
        }
    };
    let errors = program_errors(&bundle);
    if !errors.is_empty() {
        eprintln!(
            "error: {} is refused: its program does not build ({} error(s)):",
            path.display(),
            errors.len()
        );
        for error in errors {
            eprintln!("  - {error}");
        }
        return ExitCode::FAILURE;
    }
    println!(
        "ok: {} {} ({} gateways, {} routes, {} services, {} streams), program built{}",
        path.display(),
        bundle.digest,
        bundle.gateways.len(),
        bundle.route_count(),
        bundle.services.len(),
        bundle.streams.len(),
        if signature.verify_key.is_some() {
            ", signature verified"
        } else {
            ""
        }
    );
    ExitCode::SUCCESS
}

fn keygen(prefix: &Path) -> ExitCode {
    match generate_key_pair(prefix) {
        Ok((private, public)) => {
            println!(
                "private key: {}\npublic key:  {}",
                private.display(),
                public.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", meshd::reload::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn sign(bundle_path: &Path, key: &Path) -> ExitCode {
    let bundle = match read_bundle_file(bundle_path) {
        Ok(bundle) => bundle,
        Err(error) => {
            let code = error.exit_code();
            report(bundle_path, error);
            return ExitCode::from(code);
        }
    };
    match sign_bundle(bundle_path, &bundle.digest, key) {
        Ok(signature) => {
            println!(
                "signed {} ({}): {}",
                bundle_path.display(),
                bundle.digest,
                signature.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", meshd::reload::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn report(path: &Path, error: BundleError) {
    let violations = match &error {
        BundleError::Schema(violations) => violations.clone(),
        _ => Vec::new(),
    };
    let error =
        anyhow::Error::new(error).context(format!("{} is not a usable bundle", path.display()));
    eprintln!("error: {error:#}");
    for violation in violations {
        let pointer = if violation.pointer.is_empty() {
            "/"
        } else {
            &violation.pointer
        };
        eprintln!("  at {pointer}: {}", violation.message);
    }
}
