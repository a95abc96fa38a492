//! JSON as CEL values, borrowing the JSON's strings: JWT claims (`jwt.claims`) and JSON request
//! bodies (`request.body`).

use std::collections::HashMap;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use serde_json::Value;

/// `value` as a CEL value: objects become maps, arrays lists, integers `int` (or `uint` past
/// `i64::MAX`), other numbers `double`.
pub fn json_to_cel(value: &Value) -> Box<dyn Val + '_> {
    match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => number_to_cel(n),
        Value::String(s) => Box::new(CelString::from(s.as_str())),
        Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_cel).collect::<Vec<_>>(),
        )),
        Value::Object(map) => Box::new(object_to_cel(map)),
    }
}

fn number_to_cel(n: &serde_json::Number) -> Box<dyn Val + 'static> {
    if let Some(i) = n.as_i64() {
        Box::new(CelInt::from(i))
    } else if let Some(u) = n.as_u64() {
        Box::new(CelUInt::from(u))
    } else {
        Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
    }
}

/// `value` as a CEL value that owns its data (the JSON's strings are moved, not copied).
pub fn json_into_cel(value: Value) -> Box<dyn Val + 'static> {
    match value {
        Value::String(s) => Box::new(CelString::from(s)),
        Value::Array(items) => Box::new(CelList::from(
            items.into_iter().map(json_into_cel).collect::<Vec<_>>(),
        )),
        Value::Object(map) => {
            let entries: HashMap<CelMapKey<'static>, Box<dyn Val>> = map
                .into_iter()
                .map(|(k, v)| (CelMapKey::from(k), json_into_cel(v)))
                .collect();
            Box::new(CelMap::from(entries))
        }
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(b)),
        Value::Number(n) => number_to_cel(&n),
    }
}

/// A JSON object as a CEL map.
pub fn object_to_cel(map: &serde_json::Map<String, Value>) -> CelMap<'_> {
    let entries: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = map
        .iter()
        .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_cel(v)))
        .collect();
    CelMap::from(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cel::{Context, Env};
    use std::sync::Arc;

    #[test]
    fn json_fields_are_reachable_from_cel() {
        let json: Value =
            serde_json::json!({"severity": "red", "deck": 7, "crew": ["data", "worf"], "ok": true});
        let env = Arc::new(Env::stdlib());
        let mut context = Context::with_env(env.clone());
        context.add_variable_as_val("v", json_to_cel(&json));
        let program = env
            .compile(r#"v.severity == "red" && v.deck == 7 && "worf" in v.crew && v.ok"#)
            .unwrap();
        assert_eq!(program.execute(&context), Ok(cel::Value::Bool(true)));
    }
}
