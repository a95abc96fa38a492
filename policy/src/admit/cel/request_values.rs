//! CEL maps over the request's own data, read on access: `request.headers`, `request.query`,
//! `request.params`. Nothing is copied into a CEL map up front; `request.headers["x"]` looks one
//! header up where the request holds it and borrows its value.

use std::borrow::Cow;
use std::sync::OnceLock;

use cel::common::traits::{Container, Indexer, Iterable, Iterator, Sizer};
use cel::common::types::{self, CelInt, CelString, Type};
use cel::common::value::{CowVal, Val};
use cel::ExecutionError;
use http::header::AsHeaderName;

use crate::admit::request_headers::RequestHeaders;

/// The key a CEL index or `in` names, or the error CEL raises for a non-string key.
fn string_key(key: &dyn Val) -> Result<&str, ExecutionError> {
    key.downcast_ref::<CelString>()
        .map(|s| s.inner())
        .ok_or_else(|| ExecutionError::UnexpectedType {
            got: key.get_type().name().to_owned(),
            want: "string".to_owned(),
        })
}

/// Iterates over a lazily built list of keys.
struct KeyIterator<'b, 'v> {
    keys: &'b [CelString<'v>],
    next: usize,
}

impl<'b, 'v: 'w, 'w> Iterator<'b, 'w> for KeyIterator<'b, 'v> {
    fn next(&mut self) -> Option<&'b (dyn Val + 'w)> {
        let key = self.keys.get(self.next)?;
        self.next += 1;
        Some(key)
    }
}

/// Implements `Val` for a string-keyed lazy map: the type is `map`, indexing, `in`, `size()` and
/// the comprehensions (over keys) are supported.
macro_rules! lazy_map_val {
    ($ty:ident) => {
        impl<'a> Val for $ty<'a> {
            fn get_type(&self) -> &Type {
                &types::MAP_TYPE
            }

            fn cel_type() -> &'static Type {
                &types::MAP_TYPE
            }

            fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
            where
                Self: 'w,
            {
                Some(self)
            }

            fn as_container(&self) -> Option<&dyn Container> {
                Some(self)
            }

            fn as_sizer(&self) -> Option<&dyn Sizer> {
                Some(self)
            }

            fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
            where
                Self: 'w,
            {
                Some(self)
            }

            fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
            where
                Self: 'w,
            {
                Box::new(self.fresh())
            }
        }

        impl<'a> Indexer for $ty<'a> {
            fn get<'b, 'w>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'w>, ExecutionError>
            where
                Self: 'w,
            {
                let name = string_key(idx)?;
                match self.lookup(name) {
                    Some(value) => Ok(CowVal::owned(CelString::from(value))),
                    None => Err(ExecutionError::no_such_key(name)),
                }
            }

            fn steal<'w>(
                self: Box<Self>,
                idx: &dyn Val,
            ) -> Result<Box<dyn Val + 'w>, ExecutionError>
            where
                Self: 'w,
            {
                self.get(idx).map(CowVal::into_owned)
            }
        }

        impl<'a> Container for $ty<'a> {
            fn contains(&self, value: &dyn Val) -> Result<bool, ExecutionError> {
                Ok(self.lookup(string_key(value)?).is_some())
            }
        }

        impl<'a> Sizer for $ty<'a> {
            fn size(&self) -> CelInt {
                CelInt::from(self.key_list().len() as i64)
            }
        }

        impl<'a> Iterable for $ty<'a> {
            fn iter<'b, 'w>(&'b self) -> Box<dyn Iterator<'b, 'w> + 'b>
            where
                Self: 'w,
            {
                Box::new(KeyIterator {
                    keys: self.key_list(),
                    next: 0,
                })
            }
        }
    };
}

/// `request.headers`: names are case-insensitive; a header sent several times reads as its
/// values joined with `, ` (RFC 9110 §5.3); a value that is not visible ASCII reads lossily.
#[derive(Debug)]
pub struct HeadersVal<'a> {
    headers: RequestHeaders<'a>,
    keys: OnceLock<Vec<CelString<'a>>>,
}

impl<'a> HeadersVal<'a> {
    /// A view of `headers`.
    pub fn new(headers: RequestHeaders<'a>) -> Self {
        HeadersVal {
            headers,
            keys: OnceLock::new(),
        }
    }

    fn fresh(&self) -> Self {
        HeadersVal::new(self.headers)
    }

    fn lookup(&self, name: &str) -> Option<Cow<'a, str>> {
        header_text(self.headers, name)
    }

    fn key_list(&self) -> &[CelString<'a>] {
        self.keys.get_or_init(|| {
            self.headers
                .names()
                .into_iter()
                .map(CelString::from)
                .collect()
        })
    }
}

/// Header `name` as CEL reads it: every value joined with `, `, each read as UTF-8 (lossily).
/// A [`http::HeaderName`] is found faster than a `&str`, which is parsed on every lookup.
pub fn header_text<'a, N: AsHeaderName + AsRef<str>>(
    headers: RequestHeaders<'a>,
    name: N,
) -> Option<Cow<'a, str>> {
    headers.text(name)
}

lazy_map_val!(HeadersVal);

/// `request.query`: parameters decoded as `application/x-www-form-urlencoded`; the first
/// occurrence of a repeated name wins.
#[derive(Debug)]
pub struct QueryVal<'a> {
    raw: &'a str,
    keys: OnceLock<Vec<CelString<'a>>>,
}

impl<'a> QueryVal<'a> {
    /// A view of the raw query string (without `?`).
    pub fn new(raw: &'a str) -> Self {
        QueryVal {
            raw,
            keys: OnceLock::new(),
        }
    }

    fn fresh(&self) -> Self {
        QueryVal::new(self.raw)
    }

    fn lookup(&self, name: &str) -> Option<Cow<'a, str>> {
        query_param(self.raw, name)
    }

    fn key_list(&self) -> &[CelString<'a>] {
        self.keys.get_or_init(|| {
            let mut keys: Vec<CelString<'a>> = Vec::new();
            for (key, _) in form_urlencoded::parse(self.raw.as_bytes()) {
                if !keys.iter().any(|k| k.inner() == key) {
                    keys.push(CelString::from(key));
                }
            }
            keys
        })
    }
}

/// The first value of query parameter `name` in `raw`, decoded.
pub fn query_param<'a>(raw: &'a str, name: &str) -> Option<Cow<'a, str>> {
    form_urlencoded::parse(raw.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

lazy_map_val!(QueryVal);

/// `request.params`: the path template's parameters.
#[derive(Debug)]
pub struct ParamsVal<'a> {
    params: &'a [(&'a str, &'a str)],
    keys: OnceLock<Vec<CelString<'a>>>,
}

impl<'a> ParamsVal<'a> {
    /// A view of the matcher's captured parameters.
    pub fn new(params: &'a [(&'a str, &'a str)]) -> Self {
        ParamsVal {
            params,
            keys: OnceLock::new(),
        }
    }

    fn fresh(&self) -> Self {
        ParamsVal::new(self.params)
    }

    fn lookup(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| Cow::Borrowed(*value))
    }

    fn key_list(&self) -> &[CelString<'a>] {
        self.keys.get_or_init(|| {
            self.params
                .iter()
                .map(|(key, _)| CelString::from(*key))
                .collect()
        })
    }
}

lazy_map_val!(ParamsVal);
