//! The bundle's topic schemas compiled once per bundle, and what a record value must be to pass
//! one: JSON that satisfies it. Produce routes refuse a body that does not (400 for a body that
//! is not JSON, 422 with the pointer and keyword of the first violation), streams dead-letter a
//! source record that does not (reason `schema_violation`).

use std::collections::HashMap;
use std::sync::Arc;

use meshwork_bundle::{CompiledTopicSchema, Topic, TopicSchemaError, Violation};

/// A topic schema in the bundle that does not compile (meshc refuses these, so only a bundle
/// written by hand or by another compiler gets here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic `{topic}`: its schema ({path}) cannot be used: {error}")]
pub struct TopicSchemaLoadError {
    /// The topic.
    pub topic: String,
    /// The schema file the compiler read.
    pub path: String,
    /// Why (boxed: load errors travel up through every reload result).
    pub error: Box<TopicSchemaError>,
}

/// Why a record value does not pass its topic's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaRejection {
    /// The value is not JSON, so no schema can accept it.
    #[error("the value is not JSON: {0}")]
    NotJson(String),
    /// The value breaks the schema.
    #[error("the value breaks the schema at \"{}\" (`{}`): {}", .0.pointer, .0.keyword, .0.message)]
    Violation(Violation),
}

impl SchemaRejection {
    /// The dead-letter reason: `invalid_json` (as for a stream without a schema) or
    /// `schema_violation`.
    pub fn reason(&self) -> &'static str {
        match self {
            SchemaRejection::NotJson(_) => "invalid_json",
            SchemaRejection::Violation(_) => super::rule::SCHEMA_VIOLATION,
        }
    }
}

/// The compiled schemas of a bundle's topics, by topic name.
#[derive(Debug, Default)]
pub struct TopicSchemas {
    by_topic: HashMap<String, Arc<CompiledTopicSchema>>,
}

impl TopicSchemas {
    /// Compiles the schema of every topic that has one.
    pub fn compile(topics: &[Topic]) -> Result<Self, TopicSchemaLoadError> {
        let mut by_topic = HashMap::new();
        for topic in topics {
            let Some(schema) = &topic.schema else {
                continue;
            };
            let compiled = CompiledTopicSchema::compile(&schema.document).map_err(|error| {
                TopicSchemaLoadError {
                    topic: topic.name.clone(),
                    path: schema.path.clone(),
                    error: Box::new(error),
                }
            })?;
            by_topic.insert(topic.name.clone(), Arc::new(compiled));
        }
        Ok(TopicSchemas { by_topic })
    }

    /// The schema of `topic`, if it has one.
    pub fn get(&self, topic: &str) -> Option<&Arc<CompiledTopicSchema>> {
        self.by_topic.get(topic)
    }

    /// Whether no topic has a schema (produce routes then skip the lookup).
    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }
}

/// Checks one record value against `schema`.
pub fn check_value(schema: &CompiledTopicSchema, value: &[u8]) -> Result<(), SchemaRejection> {
    let parsed: serde_json::Value = serde_json::from_slice(value)
        .map_err(|error| SchemaRejection::NotJson(error.to_string()))?;
    if schema.accepts(&parsed) {
        return Ok(());
    }
    match schema.first_violation(&parsed) {
        Some(violation) => Err(SchemaRejection::Violation(violation)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::{SourceLocation, TopicSchema};
    use serde_json::json;

    fn topic(schema: serde_json::Value) -> Topic {
        Topic {
            name: "captains-log".into(),
            external: false,
            partitions: None,
            schema: Some(TopicSchema {
                path: "log.schema.json".into(),
                document: schema,
            }),
            source: SourceLocation {
                file: "x.mesh".into(),
                line: 1,
                column: 1,
            },
        }
    }

    #[test]
    fn values_pass_or_name_their_first_violation() {
        let schemas = TopicSchemas::compile(&[topic(json!({
            "type": "object",
            "required": ["severity"],
            "properties": {"severity": {"enum": ["red", "green"]}}
        }))])
        .unwrap();
        let schema = schemas.get("captains-log").unwrap();
        assert_eq!(check_value(schema, br#"{"severity":"red"}"#), Ok(()));
        match check_value(schema, br#"{"severity":"plaid"}"#) {
            Err(SchemaRejection::Violation(v)) => {
                assert_eq!(
                    (v.pointer.as_str(), v.keyword.as_str()),
                    ("/severity", "enum")
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_value(schema, b"not json"),
            Err(SchemaRejection::NotJson(_))
        ));
        assert!(schemas.get("other").is_none());
    }

    #[test]
    fn a_schema_that_does_not_compile_names_its_topic() {
        let error = TopicSchemas::compile(&[topic(json!({"type": "strng"}))]).unwrap_err();
        assert_eq!(error.topic, "captains-log");
    }
}
