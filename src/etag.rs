//! ETags: the raw MD5 digest, the single-part and multipart ETag, and parsing of remote values.
//!
//! A single-part ETag is the MD5 of the object. A multipart ETag is the MD5 of the concatenated raw
//! 16-byte MD5s of the parts, followed by `-N`, N the number of parts.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::layout::MAX_PARTS;
use crate::md5x::Md5;

/// A raw 16-byte MD5 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// The MD5 of `data`, computed in one call.
    pub fn of(data: &[u8]) -> Md5Digest {
        let mut h = Md5::new();
        h.update(data);
        Md5Digest(h.finalize())
    }

    /// The 16 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The base64 form that the `Content-MD5` header of PutObject and UploadPart carries.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Digest({self})")
    }
}

impl FromStr for Md5Digest {
    type Err = EtagError;

    /// Parses exactly 32 hex digits, in any case.
    fn from_str(s: &str) -> Result<Self, EtagError> {
        let err = |problem| EtagError { input: s.to_string(), problem };
        if s.len() != 32 {
            return Err(err(Problem::Length(s.chars().count())));
        }
        let mut out = [0u8; 16];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(|| err(Problem::NotHex))?;
            let lo = hex_value(pair[1]).ok_or_else(|| err(Problem::NotHex))?;
            out[i] = hi << 4 | lo;
        }
        Ok(Md5Digest(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An MD5-based S3 ETag: the MD5 of a single-part object, or the multipart digest with its part count.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Etag {
    digest: Md5Digest,
    parts: Option<u32>,
}

impl Etag {
    /// The ETag of a single PUT whose content has this MD5.
    pub fn single(digest: Md5Digest) -> Etag {
        Etag { digest, parts: None }
    }

    /// The ETag of a multipart upload whose parts have these MD5s, in order.
    ///
    /// # Panics
    /// If `part_digests` is empty (S3 has no zero-part upload: an empty object uploaded in parts is
    /// one empty part), or holds more than `u32::MAX` digests. [`PartFolder`] returns these as errors.
    pub fn multipart(part_digests: &[Md5Digest]) -> Etag {
        let mut folder = PartFolder::new();
        for d in part_digests {
            folder.push(d);
        }
        match folder.finish() {
            Ok(etag) => etag,
            Err(e) => panic!("{e}"),
        }
    }

    /// The digest: the object's MD5, or for a multipart ETag the MD5 of the part MD5s.
    pub fn digest(&self) -> Md5Digest {
        self.digest
    }

    /// The part count N of a multipart ETag (`-N`); `None` for a single-part ETag.
    pub fn parts(&self) -> Option<u32> {
        self.parts
    }

    /// Whether this ETag ends in `-N`.
    pub fn is_multipart(&self) -> bool {
        self.parts.is_some()
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.digest)?;
        if let Some(n) = self.parts {
            write!(f, "-{n}")?;
        }
        Ok(())
    }
}

impl Serialize for Etag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Folds the MD5s of the parts of a multipart upload, in order, into its ETag, one part at a time:
/// memory does not grow with the part count.
///
/// ```
/// use etagsum::{Md5Digest, PartFolder};
///
/// let mut folder = PartFolder::new();
/// folder.push(&Md5Digest::of(b""));
/// assert_eq!(folder.finish().unwrap().to_string(), "59adb24ef3cdbe0297f05b395827453f-1");
/// ```
#[derive(Clone, Debug, Default)]
pub struct PartFolder {
    md5: Md5,
    parts: u64,
}

impl PartFolder {
    /// A folder with no part yet.
    pub fn new() -> PartFolder {
        PartFolder::default()
    }

    /// Adds the MD5 of the next part.
    pub fn push(&mut self, part: &Md5Digest) {
        self.md5.update(&part.0);
        self.parts += 1;
    }

    /// The number of parts pushed so far.
    pub fn parts(&self) -> u64 {
        self.parts
    }

    /// The multipart ETag of the parts pushed.
    pub fn finish(self) -> Result<Etag, PartCountError> {
        match u32::try_from(self.parts) {
            Ok(0) => Err(PartCountError::NoParts),
            Ok(n) => Ok(Etag { digest: Md5Digest(self.md5.finalize()), parts: Some(n) }),
            Err(_) => Err(PartCountError::TooMany { parts: self.parts }),
        }
    }
}

/// A part count that no multipart ETag can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PartCountError {
    /// No part: S3 has no zero-part upload.
    #[error("a multipart upload has at least one part")]
    NoParts,
    /// More parts than a `-N` suffix of this library can carry.
    #[error("{parts} parts; an ETag's part count is at most 4294967295")]
    TooMany {
        /// The number of parts.
        parts: u64,
    },
}

/// Why a text is not an ETag.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid ETag '{input}': {problem}; expected 32 hex digits, optionally followed by -N with N from 1 to 10000 (e.g. d41d8cd98f00b204e9800998ecf8427e or 59adb24ef3cdbe0297f05b395827453f-1), optionally in double quotes")]
pub struct EtagError {
    input: String,
    problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    Empty,
    Length(usize),
    NotHex,
    BadCount,
    ZeroParts,
    TooManyParts,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("it is empty"),
            Problem::Length(n) => write!(f, "the digest has {n} characters"),
            Problem::NotHex => f.write_str("the digest has a character that is not a hex digit"),
            Problem::BadCount => f.write_str("the part count after '-' is not a number"),
            Problem::ZeroParts => f.write_str("'-0' never exists: a multipart upload has at least one part"),
            Problem::TooManyParts => f.write_str("S3 allows at most 10000 parts"),
        }
    }
}

/// Strips what servers and proxies wrap around an ETag: spaces, a weak `W/` prefix, double quotes.
fn unwrap_etag(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("W/").or_else(|| s.strip_prefix("w/")).unwrap_or(s);
    let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    s.trim()
}

impl FromStr for Etag {
    type Err = EtagError;

    /// Parses `abc…`, `"abc…"`, `W/"abc…"`, `abc…-3`, in any case, with surrounding spaces.
    fn from_str(input: &str) -> Result<Self, EtagError> {
        let err = |problem| EtagError { input: input.to_string(), problem };
        let s = unwrap_etag(input);
        if s.is_empty() {
            return Err(err(Problem::Empty));
        }
        let (hex, parts) = match s.split_once('-') {
            None => (s, None),
            Some((hex, count)) => {
                if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(Problem::BadCount));
                }
                let n: u64 = count.parse().unwrap_or(u64::MAX);
                if n == 0 {
                    return Err(err(Problem::ZeroParts));
                }
                if n > MAX_PARTS {
                    return Err(err(Problem::TooManyParts));
                }
                (hex, Some(n as u32))
            }
        };
        let digest = hex.parse::<Md5Digest>().map_err(|e| err(e.problem))?;
        Ok(Etag { digest, parts })
    }
}

/// A value read from S3's `ETag` field: either an MD5-based ETag that can be reproduced from local
/// bytes, or a well-formed value that is not MD5-based (an encrypted object, a store with its own
/// scheme) and so can never be compared with a local file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteEtag {
    /// 32 hex digits with an optional `-N`.
    Md5(Etag),
    /// A value of another shape: the text as given (unwrapped) and what it looks like.
    Opaque {
        /// The value without quotes.
        value: String,
        /// What it looks like, for the user: e.g. "64 hex digits (a SHA-256?)".
        looks_like: String,
    },
}

impl RemoteEtag {
    /// Reads a remote ETag. Well-formed values that cannot be MD5-based (other hex lengths, base64)
    /// are [`RemoteEtag::Opaque`]; only text that is no ETag at all is an error.
    pub fn parse(input: &str) -> Result<RemoteEtag, EtagError> {
        let strict = match input.parse::<Etag>() {
            Ok(e) => return Ok(RemoteEtag::Md5(e)),
            Err(e) => e,
        };
        let s = unwrap_etag(input);
        let body = match s.rsplit_once('-') {
            Some((body, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => body,
            _ => s,
        };
        let looks_like = if body.len() >= 8 && body.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(format!("{} hex digits, not the 32 of an MD5", body.len()))
        } else if body.len() >= 8
            && body.len() % 4 == 0
            && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
            && body.bytes().any(|b| !b.is_ascii_hexdigit())
        {
            Some("base64 text, not the hex of an MD5".to_string())
        } else {
            None
        };
        match looks_like {
            // A 32-hex body with a bad count ("-0", "-10001") is a malformed MD5 ETag, not opaque.
            Some(l) if body.len() != 32 => Ok(RemoteEtag::Opaque { value: s.to_string(), looks_like: l }),
            _ => Err(strict),
        }
    }
}

impl fmt::Display for RemoteEtag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteEtag::Md5(e) => e.fmt(f),
            RemoteEtag::Opaque { value, .. } => f.write_str(value),
        }
    }
}

impl FromStr for RemoteEtag {
    type Err = EtagError;
    fn from_str(s: &str) -> Result<Self, EtagError> {
        RemoteEtag::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "59adb24ef3cdbe0297f05b395827453f";

    #[test]
    fn parses_every_form_servers_send() {
        let want: Etag = format!("{E}-3").parse().unwrap();
        assert_eq!(want.parts(), Some(3));
        for s in [
            format!("{E}-3"),
            format!("\"{E}-3\""),
            format!("W/\"{E}-3\""),
            format!("  {}-3 ", E.to_uppercase()),
        ] {
            assert_eq!(s.parse::<Etag>().unwrap(), want, "{s}");
        }
        let single: Etag = E.parse().unwrap();
        assert_eq!(single.parts(), None);
        assert_eq!(single.to_string(), E);
        assert_eq!(format!("{E}-10000").parse::<Etag>().unwrap().parts(), Some(10_000));
    }

    #[test]
    fn rejects_malformed_values_saying_what_was_expected() {
        for (s, problem) in [
            ("", "it is empty"),
            ("\"\"", "it is empty"),
            ("abc", "3 characters"),
            ("59adb24ef3cdbe0297f05b395827453g", "not a hex digit"),
            (&format!("{E}-0"), "'-0' never exists"),
            (&format!("{E}-10001"), "at most 10000"),
            (&format!("{E}-"), "not a number"),
            (&format!("{E}-x"), "not a number"),
        ] {
            let e = s.parse::<Etag>().unwrap_err().to_string();
            assert!(e.contains(problem), "{s}: {e}");
            assert!(e.contains("expected 32 hex digits"), "{e}");
            assert!(RemoteEtag::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn recognises_well_formed_values_that_are_not_md5() {
        let sha = "a".repeat(64);
        match RemoteEtag::parse(&format!("\"{sha}\"")).unwrap() {
            RemoteEtag::Opaque { value, looks_like } => {
                assert_eq!(value, sha);
                assert!(looks_like.contains("64 hex digits"));
            }
            other => panic!("{other:?}"),
        }
        let b64 = "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=";
        assert!(matches!(RemoteEtag::parse(b64).unwrap(), RemoteEtag::Opaque { .. }));
        assert!(matches!(RemoteEtag::parse(&format!("{b64}-3")).unwrap(), RemoteEtag::Opaque { .. }));
        assert!(matches!(RemoteEtag::parse(E).unwrap(), RemoteEtag::Md5(_)));
    }

    #[test]
    fn multipart_combines_raw_digests() {
        // The empty object uploaded as one empty part.
        let e = Etag::multipart(&[Md5Digest::of(b"")]);
        assert_eq!(e.to_string(), format!("{E}-1"));
        assert_eq!(Etag::single(Md5Digest::of(b"")).to_string(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(Md5Digest::of(b"").to_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
