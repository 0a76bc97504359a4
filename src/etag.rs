//! ETags: the raw MD5 digest, the single-part and multipart ETag, and parsing of remote values.
//!
//! A single-part ETag is the MD5 of the object. A multipart ETag is the MD5 of the concatenated raw
//! 16-byte MD5s of the parts, followed by `-N`, N the number of parts.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Serialize, Serializer};
use thiserror::Error;

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
        parse_digest(s).map_err(|problem| EtagError { input: s.to_string(), problem })
    }
}

/// 32 hex digits into 16 bytes. A character that is no hex digit is named first (a full-width
/// digit counts as one character but several bytes), then a wrong count of digits.
fn parse_digest(s: &str) -> Result<Md5Digest, Problem> {
    if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(Problem::NotHex { position: i + 1, character: c });
    }
    if s.len() != 32 {
        return Err(Problem::Length(s.len()));
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *o = hex_value(pair[0]) << 4 | hex_value(pair[1]);
    }
    Ok(Md5Digest(out))
}

/// The value of an ASCII hex digit (checked by the caller).
fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
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
#[error("invalid ETag '{input}': {problem}; expected 32 hex digits, optionally followed by -N with N a part count of 1 or more (e.g. d41d8cd98f00b204e9800998ecf8427e or 59adb24ef3cdbe0297f05b395827453f-1), optionally in double quotes")]
pub struct EtagError {
    input: String,
    problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    Empty,
    /// A digest of hex digits, but not 32 of them.
    Length(usize),
    NotHex {
        /// 1-based, in characters.
        position: usize,
        character: char,
    },
    Count(CountProblem),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("it is empty"),
            Problem::Length(n) => write!(
                f,
                "the digest has {n} hex digit{}, not 32 (a truncated or extended copy?)",
                if *n == 1 { "" } else { "s" }
            ),
            Problem::NotHex { position, character } => {
                write!(f, "character {position} of the digest, {character:?}, is not a hex digit (0-9, a-f)")
            }
            Problem::Count(c) => c.fmt(f),
        }
    }
}

/// Why the text after a value's `-` (an ETag's, a composite checksum's) is not a part count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CountProblem {
    NotNumber,
    Zero,
    TooMany,
}

impl fmt::Display for CountProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CountProblem::NotNumber => "the part count after '-' is not a number",
            CountProblem::Zero => "'-0' never exists: a multipart upload has at least one part",
            CountProblem::TooMany => "the part count after '-' is larger than 4294967295",
        })
    }
}

/// Reads the part count after a value's `-`: plain decimal digits, 1 to u32::MAX. S3 allows 10,000
/// parts, but other stores may allow more: any count a u32 holds is read, and what no upload could
/// have made is judged later, never here.
pub(crate) fn parse_part_count(count: &str) -> Result<u32, CountProblem> {
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CountProblem::NotNumber);
    }
    match count.parse::<u32>() {
        Ok(0) => Err(CountProblem::Zero),
        Ok(n) => Ok(n),
        Err(_) => Err(CountProblem::TooMany),
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
            Some((hex, count)) => (hex, Some(parse_part_count(count).map_err(|c| err(Problem::Count(c)))?)),
        };
        let digest = parse_digest(hex).map_err(err)?;
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
        /// What it looks like.
        shape: OpaqueShape,
    },
}

/// What a remote ETag that is not MD5-based looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpaqueShape {
    /// As many hex digits as a SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512 digest has (40, 56, 64,
    /// 96 or 128).
    Hex {
        /// The number of hex digits.
        digits: usize,
    },
    /// Base64 text of a digest's length (some stores send one instead of hex).
    Base64,
}

/// Hex lengths of digests that stores use instead of an MD5. Any other hex length is a mistyped
/// or truncated MD5, and is refused as such rather than passed off as an encrypted object.
const OPAQUE_HEX_LENGTHS: [usize; 5] = [40, 56, 64, 96, 128];

/// Byte lengths of the digests (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512) that a base64
/// ETag may carry. Other base64 text, such as a mistyped hex MD5 (which is valid base64 too), is
/// refused.
const OPAQUE_DIGEST_BYTES: [usize; 6] = [16, 20, 28, 32, 48, 64];

impl RemoteEtag {
    /// Reads a remote ETag. Well-formed values that cannot be MD5-based (hex digests of the SHA
    /// lengths, base64) are [`RemoteEtag::Opaque`]; anything else that is not an MD5 ETag, such
    /// as 31 hex digits, is an error.
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
        let shape = if body.bytes().all(|b| b.is_ascii_hexdigit()) {
            OPAQUE_HEX_LENGTHS.contains(&body.len()).then_some(OpaqueShape::Hex { digits: body.len() })
        } else if base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_ok_and(|raw| OPAQUE_DIGEST_BYTES.contains(&raw.len()))
        {
            Some(OpaqueShape::Base64)
        } else {
            None
        };
        match shape {
            Some(shape) => Ok(RemoteEtag::Opaque { value: s.to_string(), shape }),
            None => Err(strict),
        }
    }

    /// The MD5-based ETag, if this is one.
    pub fn md5(&self) -> Option<&Etag> {
        match self {
            RemoteEtag::Md5(e) => Some(e),
            RemoteEtag::Opaque { .. } => None,
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
        let full_width = format!("{}\u{ff11}", &E[..31]);
        for (s, problem) in [
            ("", "it is empty"),
            ("\"\"", "it is empty"),
            ("abc", "the digest has 3 hex digits, not 32"),
            (&E[..31], "the digest has 31 hex digits, not 32 (a truncated or extended copy?)"),
            (&format!("{E}0"), "33 hex digits"),
            ("59adb24ef3cdbe0297f05b395827453g", "character 32 of the digest, 'g', is not a hex digit"),
            (&full_width, "character 32 of the digest, '１', is not a hex digit"),
            (&format!("{E}-0"), "'-0' never exists"),
            (&format!("{E}-4294967296"), "larger than 4294967295"),
            (&format!("{E}-"), "not a number"),
            (&format!("{E}-x"), "not a number"),
            (&format!("{E}--1"), "not a number"),
        ] {
            let e = s.parse::<Etag>().unwrap_err().to_string();
            assert!(e.contains(problem), "{s}: {e}");
            assert!(e.contains("expected 32 hex digits"), "{e}");
            // A wrong-length paste is not passed off as an encrypted object.
            assert_eq!(RemoteEtag::parse(s).unwrap_err().to_string(), e, "{s}");
        }
    }

    #[test]
    fn part_counts_beyond_s3s_limit_are_etags_still() {
        // S3 stops at 10,000 parts; other stores may not, and a verifier must not call them errors.
        assert_eq!(format!("{E}-10001").parse::<Etag>().unwrap().parts(), Some(10_001));
        assert_eq!(format!("{E}-4294967295").parse::<Etag>().unwrap().parts(), Some(u32::MAX));
    }

    #[test]
    fn recognises_well_formed_values_that_are_not_md5() {
        for digits in [40, 56, 64, 96, 128] {
            let hex = "a".repeat(digits);
            match RemoteEtag::parse(&format!("\"{hex}\"")).unwrap() {
                RemoteEtag::Opaque { value, shape } => {
                    assert_eq!(value, hex);
                    assert_eq!(shape, OpaqueShape::Hex { digits });
                }
                other => panic!("{other:?}"),
            }
        }
        let b64 = "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=";
        assert!(matches!(
            RemoteEtag::parse(b64).unwrap(),
            RemoteEtag::Opaque { shape: OpaqueShape::Base64, .. }
        ));
        assert!(matches!(RemoteEtag::parse(&format!("{b64}-3")).unwrap(), RemoteEtag::Opaque { .. }));
        assert!(matches!(RemoteEtag::parse(E).unwrap(), RemoteEtag::Md5(_)));
        assert!(RemoteEtag::parse(&"a".repeat(63)).is_err());
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
