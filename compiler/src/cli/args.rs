//! Command-line arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// meshc — the Meshwork compiler: check .mesh files and build the bundle meshd runs.
#[derive(Debug, Parser)]
#[command(name = "meshc", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check .mesh files (a directory means every .mesh file under it) and report diagnostics.
    Check(CheckArgs),
    /// Check and write the bundle.
    Build(BuildArgs),
    /// Rewrite .mesh files in the canonical layout (`--check`: show the diff, write nothing).
    Fmt(super::fmt_command::FmtArgs),
    /// Explain a request: which route wins and why, the admission steps, and where it goes.
    Explain(ExplainArgs),
    /// Draw the verified graph (gateways, routes, services, topics, streams and their edges).
    Graph(GraphArgs),
    /// Answer whole-topology questions: who can reach a service or route, produce or consume a topic.
    WhoCan(super::who_can_command::WhoCanArgs),
    /// Compare two programs (files, directories or bundles) in behaviour: routes, auth, limits, mesh, events, services.
    Diff(super::diff_command::DiffArgs),
    /// Run the program's tests (`*.test.mesh`) with the runtime's decision code.
    Test(super::test_command::TestArgs),
    /// Print the table of diagnostic codes.
    Codes {
        /// Print docs/diagnostics.md.
        #[arg(long)]
        markdown: bool,
    },
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// miette reports (colour only on a terminal).
    Human,
    /// One JSON object per diagnostic per line, on standard output.
    Json,
    /// One SARIF 2.1.0 log on standard output, for code scanning.
    Sarif,
    /// GitHub Actions annotations (`::error file=…::…`) on standard output.
    Github,
}

/// Options shared by every command that reads a program.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Diagnostic format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Accept the warnings of this code on purpose (repeatable, e.g. `--allow W0211`): they are
    /// neither shown nor failed by `--deny-warnings`. Errors cannot be allowed.
    #[arg(long = "allow", value_name = "CODE")]
    pub allow: Vec<String>,
}

/// `meshc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

/// `meshc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the bundle (`-` for standard output); a file is replaced atomically. A
    /// name ending in `.zst` (`bundle.json.zst`) gets the compact canonical JSON compressed with
    /// zstd, about 50× smaller; any other name gets pretty JSON.
    #[arg(short, long, default_value = "bundle.json")]
    pub output: PathBuf,
    /// The bundle's serial: meshd refuses a bundle with a lower serial than the one it serves
    /// (no silent rollback). Default: `SOURCE_DATE_EPOCH` when set, else 0 (no claim).
    #[arg(long, value_name = "N")]
    pub serial: Option<u64>,
    /// Sign the bundle with this private key (`meshd keygen`), writing `<output>.sig` first.
    #[arg(long, value_name = "KEY_FILE")]
    pub sign: Option<PathBuf>,
}

/// The picture formats of `meshc graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`meshc graph … | dot -Tsvg > graph.svg`).
    Dot,
    /// A Mermaid flowchart (renders inside Markdown on GitHub).
    Mermaid,
}

/// `meshc graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Picture format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

/// `meshc explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Files or directories (then the request, when `--request` is not given).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The request: "METHOD URL", e.g. "GET http://api.starfleet.test/officers/7". It may also
    /// be given last, after the files.
    #[arg(long)]
    pub request: Option<String>,
    /// Explain a call inside the mesh from this service or gateway: the URL's host names the
    /// called service ("GET http://riker/reports").
    #[arg(long, value_name = "NAME")]
    pub from: Option<String>,
    /// With --from: the caller's DNS search domains, as its sidecar reads them (`meshd sidecar
    /// --search-domains`, comma-separated; the first is the mesh's), so the URL's host may be
    /// SERVICE.NAMESPACE or SERVICE.NAMESPACE.svc.cluster.local.
    #[arg(long, value_name = "DOMAINS", requires = "from")]
    pub search_domains: Option<String>,
    /// A request header, `name:value` (repeatable).
    #[arg(long = "header", value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
}
