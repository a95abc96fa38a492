//! Topic value schemas: how a topic's JSON Schema is compiled and what the first violation of a
//! record is. One decision shared by `meshc` (which refuses a schema that does not compile) and
//! `meshd` (which validates every produced body and stream input with the same settings).

use serde_json::Value;

/// The only `$schema` a topic schema may declare (absent means this one too).
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Why a topic schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicSchemaError {
    /// `$schema` names another draft.
    #[error("`$schema` is {0:?}; topic schemas are JSON Schema draft 2020-12 ({DRAFT_2020_12})")]
    Draft(String),
    /// The document breaks the draft 2020-12 meta-schema.
    #[error("{message}")]
    MetaSchema {
        /// The JSON pointer inside the schema document.
        pointer: String,
        /// The meta-schema keyword that failed.
        keyword: String,
        /// The validator's message.
        message: String,
    },
    /// The document is valid but cannot be compiled (a `$ref` that does not resolve, a
    /// `pattern` that is not a regular expression).
    #[error("{message}")]
    Compile {
        /// The JSON pointer inside the schema document, when known.
        pointer: String,
        /// The validator's message.
        message: String,
    },
}

/// The first way a record breaks its topic's schema, in the shape clients are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The JSON pointer of the offending value in the record (`""` for the whole record).
    pub pointer: String,
    /// The schema keyword that failed (`required`, `enum`, `type`, …).
    pub keyword: String,
    /// The validator's message.
    pub message: String,
}

/// A compiled topic schema, built once per bundle.
#[derive(Debug)]
pub struct CompiledTopicSchema {
    validator: jsonschema::Validator,
}

impl CompiledTopicSchema {
    /// Checks `document` against the draft 2020-12 meta-schema and compiles it. External
    /// references are not fetched: a schema must be whole in its file.
    pub fn compile(document: &Value) -> Result<Self, TopicSchemaError> {
        if let Some(declared) = document.get("$schema") {
            let declared = declared.as_str().unwrap_or_default();
            if declared.trim_end_matches('#') != DRAFT_2020_12 {
                return Err(TopicSchemaError::Draft(declared.to_owned()));
            }
        }
        jsonschema::draft202012::meta::validate(document).map_err(|error| {
            TopicSchemaError::MetaSchema {
                pointer: error.instance_path().to_string(),
                keyword: error.kind().keyword().to_owned(),
                message: error.to_string(),
            }
        })?;
        let validator = jsonschema::draft202012::options()
            .build(document)
            .map_err(|error| TopicSchemaError::Compile {
                pointer: error.instance_path().to_string(),
                message: error.to_string(),
            })?;
        Ok(CompiledTopicSchema { validator })
    }

    /// The first violation of `record`, or `None` when it conforms.
    pub fn first_violation(&self, record: &Value) -> Option<Violation> {
        let error = self.validator.iter_errors(record).next()?;
        Some(Violation {
            pointer: error.instance_path().to_string(),
            keyword: error.kind().keyword().to_owned(),
            message: error.to_string(),
        })
    }

    /// Whether `record` conforms (no error is built when it does).
    pub fn accepts(&self, record: &Value) -> bool {
        self.validator.is_valid(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_schema() -> Value {
        json!({
            "$schema": DRAFT_2020_12,
            "type": "object",
            "required": ["stardate", "severity", "entry"],
            "properties": {
                "stardate": {"type": "number"},
                "severity": {"enum": ["green", "yellow", "red"]},
                "entry": {"type": "string"}
            }
        })
    }

    #[test]
    fn a_conforming_record_has_no_violation() {
        let schema = CompiledTopicSchema::compile(&log_schema()).unwrap();
        let record = json!({"stardate": 41153.7, "severity": "red", "entry": "Q"});
        assert!(schema.accepts(&record));
        assert_eq!(schema.first_violation(&record), None);
    }

    #[test]
    fn a_violation_names_the_pointer_and_the_keyword() {
        let schema = CompiledTopicSchema::compile(&log_schema()).unwrap();
        let record = json!({"stardate": 41153.7, "severity": "plaid", "entry": "Q"});
        let violation = schema.first_violation(&record).unwrap();
        assert_eq!(violation.pointer, "/severity");
        assert_eq!(violation.keyword, "enum");
        let missing = schema.first_violation(&json!({"stardate": 1})).unwrap();
        assert_eq!(
            (missing.pointer.as_str(), missing.keyword.as_str()),
            ("", "required")
        );
    }

    #[test]
    fn another_draft_and_a_broken_keyword_are_refused() {
        let draft7 = json!({"$schema": "http://json-schema.org/draft-07/schema#"});
        assert!(matches!(
            CompiledTopicSchema::compile(&draft7),
            Err(TopicSchemaError::Draft(_))
        ));
        let broken = json!({"type": "object", "properties": {"a": {"type": "strng"}}});
        match CompiledTopicSchema::compile(&broken) {
            Err(TopicSchemaError::MetaSchema { pointer, .. }) => {
                assert_eq!(pointer, "/properties/a/type")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unresolvable_reference_does_not_compile() {
        let remote = json!({"$ref": "https://example.com/log.json"});
        assert!(matches!(
            CompiledTopicSchema::compile(&remote),
            Err(TopicSchemaError::Compile { .. })
        ));
    }
}
