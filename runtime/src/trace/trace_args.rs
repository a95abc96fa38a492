//! The tracing flags of `meshd run` and `meshd sidecar`: where spans go is deployment, not
//! program (the program says whether and how much a gateway samples).

use super::exporter::OtlpEndpoint;

/// `--otlp-endpoint`, `--otlp-service-name`, `--otlp-ca`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TraceArgs {
    /// Export the spans of sampled traces to this OTLP/HTTP collector (protobuf), e.g.
    /// http://127.0.0.1:4318 or https://collector:4318 (POSTs to /v1/traces; a URL with a path
    /// is used as it is).
    /// Without it traces are still continued and forwarded, and no span is built.
    #[arg(long, value_name = "URL", value_parser = parse_endpoint)]
    pub otlp_endpoint: Option<OtlpEndpoint>,
    /// The `service.name` meshd reports spans under (default: `meshd`, or the sidecar's service).
    #[arg(long, value_name = "NAME")]
    pub otlp_service_name: Option<String>,
    /// The CA certificates (PEM) an `https://` collector's certificate must chain to (default:
    /// the system's trusted roots).
    #[arg(long, value_name = "FILE")]
    pub otlp_ca: Option<std::path::PathBuf>,
}

fn parse_endpoint(url: &str) -> Result<OtlpEndpoint, String> {
    OtlpEndpoint::parse(url).map_err(|error| error.to_string())
}
