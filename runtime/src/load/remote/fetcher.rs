//! One poll of a bundle URL: a conditional GET of the bundle, and when it changed (and bundles
//! must be signed) a GET of `<url>.sig`. The validators sent are those of the bundle last
//! accepted, so a refused bundle is fetched again on the next poll rather than taken as current.

use bytes::Bytes;

use super::bundle_url::BundleUrl;
use super::http_get::{GetError, GetOutcome, HttpGetter, Validators};

/// A bundle the server sent, not yet checked.
#[derive(Debug, Clone)]
pub struct FetchedBundle {
    /// The bundle's bytes.
    pub bytes: Bytes,
    /// The signature's text (`None`: not asked for, or the server has none).
    pub signature: Option<String>,
    /// The validators it came with.
    pub validators: Validators,
}

/// What a poll found.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// The server has nothing newer than the bundle last accepted.
    NotModified,
    /// The server sent a bundle.
    Fresh(FetchedBundle),
}

/// Why a poll did not get an answer to judge.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The GET failed.
    #[error("GET {url}")]
    Get {
        /// The URL.
        url: String,
        /// Why.
        source: GetError,
    },
}

/// Polls one bundle URL.
#[derive(Debug)]
pub struct BundleFetcher {
    url: BundleUrl,
    signature_url: BundleUrl,
    want_signature: bool,
    getter: HttpGetter,
    validators: Validators,
}

/// Signatures are one short line; anything longer is not one.
const MAX_SIGNATURE_BYTES: usize = 4096;

impl BundleFetcher {
    /// A fetcher for `url`; with `want_signature`, `<url>.sig` is fetched with each new bundle.
    pub fn new(url: BundleUrl, getter: HttpGetter, want_signature: bool) -> Self {
        BundleFetcher {
            signature_url: url.signature_url(),
            url,
            want_signature,
            getter,
            validators: Validators::default(),
        }
    }

    /// The bundle URL.
    pub fn url(&self) -> &BundleUrl {
        &self.url
    }

    /// The signature URL.
    pub fn signature_url(&self) -> &BundleUrl {
        &self.signature_url
    }

    /// From now on, ask whether the server has something newer than the bundle these validators
    /// came with (the bundle just accepted, or the cached one at start).
    pub fn accepted(&mut self, validators: Validators) {
        self.validators = validators;
    }

    /// Polls once.
    pub async fn fetch(&mut self) -> Result<Fetch, FetchError> {
        let validators = self.validators.clone();
        let outcome = self
            .getter
            .get(&self.url, &validators)
            .await
            .map_err(|source| FetchError::Get {
                url: self.url.to_string(),
                source,
            })?;
        let (bytes, validators) = match outcome {
            GetOutcome::NotModified => return Ok(Fetch::NotModified),
            GetOutcome::Fresh { body, validators } => (body, validators),
        };
        let signature = if self.want_signature {
            self.fetch_signature().await?
        } else {
            None
        };
        Ok(Fetch::Fresh(FetchedBundle {
            bytes,
            signature,
            validators,
        }))
    }

    async fn fetch_signature(&mut self) -> Result<Option<String>, FetchError> {
        let url = self.signature_url.clone();
        let answer = self.getter.get(&url, &Validators::default()).await;
        let body = match answer {
            Ok(GetOutcome::Fresh { body, .. }) => body,
            // An unsigned bundle is judged (and refused) by the signature check, not an outage.
            Err(GetError::Status { status, .. })
                if status == http::StatusCode::NOT_FOUND
                    || status == http::StatusCode::FORBIDDEN =>
            {
                return Ok(None)
            }
            Ok(GetOutcome::NotModified) => return Ok(None),
            Err(source) => {
                return Err(FetchError::Get {
                    url: url.to_string(),
                    source,
                })
            }
        };
        // Whatever came back is judged by the signature check: garbage is refused there as a
        // malformed signature, like a tampered one.
        let text = &body[..body.len().min(MAX_SIGNATURE_BYTES)];
        Ok(Some(String::from_utf8_lossy(text).into_owned()))
    }
}
