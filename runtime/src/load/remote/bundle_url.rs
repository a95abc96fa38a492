//! Where a bundle is fetched from: an `http://` or `https://` URL, and its signature beside it.

use http::uri::{PathAndQuery, Scheme};
use http::Uri;

/// Why a bundle URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleUrlError {
    /// The text does not parse as a URL.
    #[error("`{0}` is not a URL")]
    Malformed(String),
    /// Neither http nor https.
    #[error("`{0}`: bundles are fetched over http:// or https:// only")]
    Scheme(String),
    /// No host.
    #[error("`{0}` names no host")]
    NoHost(String),
    /// Credentials in the URL would end up in logs and metrics.
    #[error("`{0}`: user:password@ in a bundle URL would be shown in logs and metrics; serve the bundle without credentials")]
    Credentials(String),
}

/// A bundle URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleUrl {
    uri: Uri,
    text: String,
}

impl BundleUrl {
    /// Whether `text` looks like a URL meshd should fetch (rather than a file path).
    pub fn is_url(text: &str) -> bool {
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    }

    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<BundleUrl, BundleUrlError> {
        let uri: Uri = text
            .parse()
            .map_err(|_| BundleUrlError::Malformed(text.to_owned()))?;
        match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => {}
            _ => return Err(BundleUrlError::Scheme(text.to_owned())),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| BundleUrlError::NoHost(text.to_owned()))?;
        if authority.as_str().contains('@') {
            return Err(BundleUrlError::Credentials(text.to_owned()));
        }
        if authority.host().is_empty() {
            return Err(BundleUrlError::NoHost(text.to_owned()));
        }
        Ok(BundleUrl {
            text: uri.to_string(),
            uri,
        })
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it is `https`.
    pub fn is_https(&self) -> bool {
        self.uri.scheme() == Some(&Scheme::HTTPS)
    }

    /// The host (without brackets for IPv6).
    pub fn host(&self) -> &str {
        let host = self.uri.host().unwrap_or_default();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The port, explicit or the scheme's.
    pub fn port(&self) -> u16 {
        self.uri
            .port_u16()
            .unwrap_or(if self.is_https() { 443 } else { 80 })
    }

    /// The `Host` header value.
    pub fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }

    /// The request target (path and query).
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", PathAndQuery::as_str)
    }

    /// The detached signature's URL: the path with `.sig` appended (the query kept), as
    /// `meshc build --sign` and `meshd sign` name the file beside the bundle.
    pub fn signature_url(&self) -> BundleUrl {
        let path = self.uri.path();
        let target = match self.uri.query() {
            Some(query) => format!("{path}.sig?{query}"),
            None => format!("{path}.sig"),
        };
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let text = format!("{scheme}://{}{target}", self.authority());
        BundleUrl::parse(&text).unwrap_or_else(|_| self.clone())
    }
}

impl std::fmt::Display for BundleUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_urls_parse_with_their_ports() {
        let url = BundleUrl::parse("http://127.0.0.1:8081/bundles/edge.json").unwrap();
        assert_eq!((url.host(), url.port()), ("127.0.0.1", 8081));
        assert_eq!(url.path_and_query(), "/bundles/edge.json");
        assert!(!url.is_https());
        let url = BundleUrl::parse("https://bundles.example/edge.json").unwrap();
        assert_eq!(url.port(), 443);
        assert!(url.is_https());
        let url = BundleUrl::parse("http://[::1]:9/edge.json").unwrap();
        assert_eq!(url.host(), "::1");
    }

    #[test]
    fn the_signature_sits_beside_the_bundle() {
        let url = BundleUrl::parse("http://h:1/b/edge.json").unwrap();
        assert_eq!(url.signature_url().as_str(), "http://h:1/b/edge.json.sig");
        let url = BundleUrl::parse("https://h/edge.json?v=2").unwrap();
        assert_eq!(url.signature_url().as_str(), "https://h/edge.json.sig?v=2");
    }

    #[test]
    fn other_schemes_credentials_and_garbage_are_refused() {
        assert!(matches!(
            BundleUrl::parse("ftp://h/edge.json"),
            Err(BundleUrlError::Scheme(_))
        ));
        assert!(matches!(
            BundleUrl::parse("http://user:pw@h/edge.json"),
            Err(BundleUrlError::Credentials(_))
        ));
        assert!(BundleUrl::parse("http://").is_err());
        assert!(BundleUrl::parse("not a url \u{0}").is_err());
        assert!(BundleUrl::is_url("HTTPS://h/x"));
        assert!(!BundleUrl::is_url("edge.json"));
    }
}
