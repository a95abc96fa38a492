//! `set_header` / `remove_header` on the request sent upstream and on the response, applied in
//! bundle order. Names and values are checked at load.

use http::{HeaderName, HeaderValue};
use meshwork_bundle::SourceLocation;

use super::error::AdmitBuildError;
use super::header_sink::HeaderSink;

/// One header rule.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    name: HeaderName,
    value: Option<HeaderValue>,
}

impl HeaderRule {
    /// Prepares a rule setting `name` to `value`, or removing it when `value` is `None`.
    pub fn build(
        name: &str,
        value: Option<&str>,
        route: &str,
        source: &SourceLocation,
    ) -> Result<Self, AdmitBuildError> {
        let name = HeaderName::try_from(name).map_err(|_| {
            AdmitBuildError::invalid(route, source, format!("{name:?} is not a header name"))
        })?;
        let value = match value {
            Some(value) => Some(HeaderValue::try_from(value).map_err(|_| {
                AdmitBuildError::invalid(
                    route,
                    source,
                    format!("the value of header {name} cannot be sent in a header"),
                )
            })?),
            None => None,
        };
        Ok(HeaderRule { name, value })
    }

    /// Applies the rule: replaces every value of the header, or removes them all.
    pub fn apply(&self, headers: &mut impl HeaderSink) {
        match &self.value {
            Some(value) => headers.set_header(self.name.clone(), value.clone()),
            None => headers.remove_header(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn loc() -> SourceLocation {
        SourceLocation {
            file: "edge.mesh".into(),
            line: 14,
            column: 5,
        }
    }

    #[test]
    fn set_replaces_and_remove_drops_every_value() {
        let mut headers = HeaderMap::new();
        headers.append("x-source", HeaderValue::from_static("a"));
        headers.append("x-source", HeaderValue::from_static("b"));
        headers.append("x-debug", HeaderValue::from_static("1"));
        HeaderRule::build("X-Source", Some("edge"), "r", &loc())
            .unwrap()
            .apply(&mut headers);
        HeaderRule::build("x-debug", None, "r", &loc())
            .unwrap()
            .apply(&mut headers);
        assert_eq!(
            headers.get_all("x-source").iter().collect::<Vec<_>>(),
            ["edge"]
        );
        assert!(headers.get("x-debug").is_none());
    }

    #[test]
    fn bad_names_and_values_are_build_errors() {
        assert!(HeaderRule::build("bad name", Some("v"), "r", &loc()).is_err());
        assert!(HeaderRule::build("x-ok", Some("line\nbreak"), "r", &loc()).is_err());
    }
}
