//! Topic schemas: the JSON Schema file a `topic` names (`schema "captains-log.schema.json"`),
//! read by the loader beside the `.mesh` file, parsed and checked here against draft 2020-12
//! with the same compile the runtime uses ([`meshwork_bundle::CompiledTopicSchema`]). Later
//! stages ask [`TopicSchemas::get`] for a topic's document and where its keywords are written.

pub mod json_location;
pub mod shape;

use std::collections::BTreeMap;

use meshwork_bundle::{CompiledTopicSchema, TopicSchemaError};
use serde_json::Value;

use crate::diagnostics::Diagnostic;
use crate::input::loader::path_beside;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast;

crate::diagnostics::codes::codes! {
    /// A topic's schema file cannot be read.
    SCHEMA_UNREADABLE = "E0410", "schema file cannot be read",
        "`schema \"FILE\"` names a file relative to the `.mesh` file that declares the topic; it does not exist or cannot be read. The schema is compiled into the bundle, so it must be there when `meshc` runs.",
        "Fix the path, or add the file beside the `.mesh` file.",
        "topic \"captains-log\" { schema \"missing.schema.json\" }";
    /// A topic's schema file is not JSON.
    SCHEMA_NOT_JSON = "E0411", "schema is not JSON",
        "The schema file does not parse as JSON; the label points at the first character the parser could not accept.",
        "Fix the JSON (a trailing comma and single quotes are the usual causes).",
        "topic \"captains-log\" { schema \"log.schema.json\" }   # log.schema.json: {\"type\": \"object\",}";
    /// A topic's schema breaks the draft 2020-12 meta-schema.
    INVALID_SCHEMA = "E0412", "invalid JSON Schema",
        "The document is JSON but not a valid JSON Schema draft 2020-12: a keyword has a value the meta-schema refuses (`\"type\": \"strng\"`, `\"required\": \"a\"`). The label points at the offending value inside the schema file.",
        "Fix the keyword's value; the message names the rule it breaks.",
        "topic \"captains-log\" { schema \"log.schema.json\" }   # log.schema.json: {\"type\": \"strng\"}";
    /// A topic's schema declares another draft.
    SCHEMA_DRAFT = "E0413", "schema is not draft 2020-12",
        "Topic schemas are JSON Schema draft 2020-12, the draft meshd validates with. A `$schema` naming another draft would be read with rules it was not written for.",
        "Remove `$schema` or set it to `https://json-schema.org/draft/2020-12/schema`, and port the keywords that changed (`definitions` → `$defs`, tuple `items` → `prefixItems`).",
        "topic \"captains-log\" { schema \"log.schema.json\" }   # \"$schema\": \"http://json-schema.org/draft-07/schema#\"";
    /// A topic's schema does not compile.
    SCHEMA_DOES_NOT_COMPILE = "E0414", "schema does not compile",
        "The schema is valid JSON Schema but cannot be compiled: a `$ref` that does not resolve inside the file (remote references are never fetched, so a schema must be whole), or a `pattern` that is not a regular expression.",
        "Inline the referenced schema under `$defs` and refer to it as `#/$defs/NAME`; fix the pattern.",
        "topic \"captains-log\" { schema \"log.schema.json\" }   # {\"$ref\": \"https://example.com/log.json\"}";
}

/// One topic's schema, parsed and compiled.
#[derive(Debug)]
pub struct LoadedSchema {
    /// The schema file in the source map (for labels inside it).
    pub file: FileId,
    /// The `schema "FILE"` string in the `.mesh` file.
    pub declared: Span,
    /// The parsed document.
    pub document: Value,
}

impl LoadedSchema {
    /// The span of the value at `pointer` inside the schema file (the whole file when the
    /// pointer leads nowhere).
    pub fn span_of(&self, sources: &SourceMap, pointer: &str) -> Span {
        let text = &sources.file(self.file).text;
        let range = json_location::value_range(text, pointer).unwrap_or(0..text.len().min(1));
        Span::new(self.file, range.start, range.end)
    }
}

/// Every topic's schema that loads, with the problems of those that do not.
#[derive(Debug, Default)]
pub struct TopicSchemas {
    by_topic: BTreeMap<String, LoadedSchema>,
    /// Why schemas were refused (reported by the event checks).
    pub diagnostics: Vec<Diagnostic>,
}

impl TopicSchemas {
    /// Parses and compiles the schema of every topic declaration that names one. The loader
    /// has read the files into `sources`; a file it could not read was reported there.
    pub fn collect(sources: &SourceMap, topics: &[&ast::Topic]) -> Self {
        let mut schemas = TopicSchemas::default();
        for topic in topics {
            let Some(declared) = &topic.schema else {
                continue;
            };
            // A topic declared twice is already an error (E0101): the first declaration counts.
            if schemas.by_topic.contains_key(&topic.name.node) {
                continue;
            }
            let path = schema_path(sources, topic, declared);
            let Some(file) = sources.find(&path) else {
                continue;
            };
            match load(sources, file, declared.span) {
                Ok(document) => {
                    schemas.by_topic.insert(
                        topic.name.node.clone(),
                        LoadedSchema {
                            file,
                            declared: declared.span,
                            document,
                        },
                    );
                }
                Err(diagnostic) => schemas.diagnostics.push(*diagnostic),
            }
        }
        schemas
    }

    /// The schema of `topic`, if it names one that loads.
    pub fn get(&self, topic: &str) -> Option<&LoadedSchema> {
        self.by_topic.get(topic)
    }
}

/// The path of the schema file `declared` names, as the loader added it to the source map.
pub fn schema_path(
    sources: &SourceMap,
    topic: &ast::Topic,
    declared: &crate::source::Spanned<String>,
) -> String {
    path_beside(&sources.file(topic.span.file).path, &declared.node)
}

/// Parses and compiles one schema file.
fn load(sources: &SourceMap, file: FileId, declared: Span) -> Result<Value, Box<Diagnostic>> {
    let text = &sources.file(file).text;
    let document: Value = serde_json::from_str(text).map_err(|error| {
        let at = json_location::offset_of(text, error.line(), error.column());
        let end = (at + 1).min(text.len()).max(at);
        Box::new(
            Diagnostic::error(&SCHEMA_NOT_JSON, format!("the schema is not JSON: {error}"))
                .with_label(Span::new(file, at, end), "the JSON parser stopped here")
                .with_label(declared, "the topic's schema is named here")
                .with_help("fix the JSON; the schema is compiled into the bundle"),
        )
    })?;
    let located = |pointer: &str| {
        let range = json_location::value_range(text, pointer).unwrap_or(0..text.len().min(1));
        Span::new(file, range.start, range.end)
    };
    match CompiledTopicSchema::compile(&document) {
        Ok(_) => Ok(document),
        Err(error) => {
            let diagnostic = match &error {
                TopicSchemaError::Draft(_) => Diagnostic::error(&SCHEMA_DRAFT, error.to_string())
                    .with_label(located("/$schema"), "this draft")
                    .with_help(format!(
                        "remove `$schema` or set it to \"{}\"",
                        meshwork_bundle::topic_schema::DRAFT_2020_12
                    )),
                TopicSchemaError::MetaSchema {
                    pointer, keyword, ..
                } => Diagnostic::error(
                    &INVALID_SCHEMA,
                    format!("invalid JSON Schema at \"{pointer}\": {error}"),
                )
                .with_label(
                    located(pointer),
                    format!("breaks the meta-schema's `{keyword}`"),
                )
                .with_help("topic schemas are JSON Schema draft 2020-12"),
                TopicSchemaError::Compile { pointer, message } => {
                    compile_error(text, file, pointer, message, located(pointer))
                }
            };
            Err(Box::new(
                diagnostic.with_label(declared, "the topic's schema is named here"),
            ))
        }
    }
}

/// A schema that does not compile: a reference that does not resolve is pointed at where it is
/// written (the validator names the resource, not where the `$ref` is).
fn compile_error(text: &str, file: FileId, pointer: &str, message: &str, at: Span) -> Diagnostic {
    let resource = message.split('\'').nth(1).filter(|r| !r.is_empty());
    let written = resource.and_then(|r| text.find(&format!("\"{r}\"")).map(|at| (r, at)));
    match written {
        Some((resource, offset)) if pointer.is_empty() => Diagnostic::error(
            &SCHEMA_DOES_NOT_COMPILE,
            format!("the schema does not compile: \"{resource}\" does not resolve inside the file"),
        )
        .with_label(
            Span::new(file, offset, offset + resource.len() + 2),
            "remote references are never fetched",
        ),
        _ => Diagnostic::error(
            &SCHEMA_DOES_NOT_COMPILE,
            format!("the schema does not compile: {message}"),
        )
        .with_label(at, "here"),
    }
    .with_help("a schema must be whole in its file: put shared parts under `$defs` and refer to `#/$defs/NAME`")
}
