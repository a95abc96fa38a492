//! `meshc who-can`: compile (or read a bundle), then answer one question from the graph.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::who_can::render_human::render_human;
use crate::who_can::{answer, Question};

use super::program_input::load_bundle;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// `meshc who-can`.
#[derive(Debug, Args)]
pub struct WhoCanArgs {
    #[command(subcommand)]
    pub question: WhoCanQuestion,
}

/// The questions.
#[derive(Debug, Subcommand)]
pub enum WhoCanQuestion {
    /// Who can send requests that end at a service, or that go through a route.
    Reach {
        #[command(subcommand)]
        target: ReachTarget,
    },
    /// Who can write records to a Kafka topic (routes and streams, and who feeds those streams).
    Produce(NamedQuestion),
    /// Which streams read a Kafka topic (and where the records go), and which routes serve it to HTTP clients.
    Consume(NamedQuestion),
}

/// What `reach` asks about.
#[derive(Debug, Subcommand)]
pub enum ReachTarget {
    /// A service: gateway routes, mesh callers, stream deliveries, and chains through the mesh.
    Service(NamedQuestion),
    /// A route, as `gateway/route` (or the route's name when one gateway has it).
    Route(NamedQuestion),
}

/// A name and the program to ask about.
#[derive(Debug, Args)]
pub struct NamedQuestion {
    /// The service, route or topic.
    pub name: String,
    /// Files or directories of the program, or one bundle (`.json`).
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AnswerFormat::Human)]
    pub format: AnswerFormat,
}

/// How the answer is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnswerFormat {
    /// Text for people.
    Human,
    /// One JSON object.
    Json,
}

/// Runs `who-can`; returns the exit code.
pub fn run_who_can(args: &WhoCanArgs) -> u8 {
    let (question, asked) = match &args.question {
        WhoCanQuestion::Reach {
            target: ReachTarget::Service(asked),
        } => (Question::ReachService(asked.name.clone()), asked),
        WhoCanQuestion::Reach {
            target: ReachTarget::Route(asked),
        } => (Question::ReachRoute(asked.name.clone()), asked),
        WhoCanQuestion::Produce(asked) => (Question::Produce(asked.name.clone()), asked),
        WhoCanQuestion::Consume(asked) => (Question::Consume(asked.name.clone()), asked),
    };
    let bundle = match load_bundle(&asked.paths) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let answer = match answer(&bundle, &question) {
        Ok(answer) => answer,
        Err(unknown) => {
            eprintln!("error: {unknown}");
            return EXIT_INPUT_ERRORS;
        }
    };
    let text = match asked.format {
        AnswerFormat::Human => render_human(&answer),
        AnswerFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(&answer).unwrap_or_else(|_| "{}".to_string());
            json.push('\n');
            json
        }
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(_) => EXIT_USAGE,
    }
}
