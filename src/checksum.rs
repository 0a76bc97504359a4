//! S3's additional checksums (`x-amz-checksum-*`): CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, as
//! full-object and composite values.
//!
//! S3 shows a checksum as the base64 of its big-endian bytes. A *full-object* value is the checksum
//! of the whole object; for a CRC it does not depend on how the object was split, and it can be
//! combined from the CRCs of the parts ([`ChecksumFolder`] with [`ChecksumType::FullObject`]). A
//! *composite* value is the checksum of the concatenated raw checksums of the parts, followed by
//! `-N` (GetObject and HeadObject show the `-N`, GetObjectAttributes does not), so it depends on
//! the exact part sizes, as a multipart ETag does.
//!
//! ```
//! use etagsum::checksum::{Algorithm, Checksum, ChecksumFolder, ChecksumType};
//!
//! let alg: Algorithm = "crc32".parse()?;
//! assert_eq!(Checksum::of(alg, b"123456789").to_string(), "y/Q5Jg==");
//!
//! // A composite CRC32 of two parts, and the full-object CRC32 combined from the same parts.
//! let (a, b) = (&b"1234"[..], &b"56789"[..]);
//! let mut composite = ChecksumFolder::new(alg, ChecksumType::Composite)?;
//! let mut full = ChecksumFolder::new(alg, ChecksumType::FullObject)?;
//! for part in [a, b] {
//!     composite.push(&Checksum::of(alg, part), part.len() as u64)?;
//!     full.push(&Checksum::of(alg, part), part.len() as u64)?;
//! }
//! assert_eq!(composite.finish()?.parts(), Some(2));
//! assert_eq!(full.finish()?, Checksum::of(alg, b"123456789"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How the engine should take these up (design note for the integration step)
//!
//! The engine reads each file once and cuts it into pieces that belong to the parts of every
//! candidate layout; each part of each layout has an MD5 stream. A checksum is one more stream per
//! part per algorithm, fed the same pieces in the same order, on the same worker:
//!
//! - a [`Hasher`] per (layout, part, algorithm) next to the part's MD5 state; when the part ends,
//!   [`Hasher::finish`] gives the part's raw checksum (what an uploader sends with UploadPart);
//! - per (layout, algorithm), a [`ChecksumFolder`] of the type asked for, fed the part checksums in
//!   part order (the parts finish out of order on a thread pool: keep them by index, as the MD5
//!   digests are, and fold when the layout is complete);
//! - a full-object CRC is the same for every layout, so it needs no layout: it can ride on any
//!   multipart layout's parts (or on the engine's own pieces) and be combined, so that it is computed
//!   in parallel per part, at the speed of the multipart ETag, not of one core. A full-object SHA
//!   cannot be combined: it needs one sequential stream over the whole file (only single-part
//!   objects carry one).
//! - [`s3_accepts`] refuses, before any read, the combinations S3 does not accept; verification
//!   compares [`Checksum::bytes`] and, when the remote value has one, [`Checksum::parts`].
//!
//! # Crates, chosen by measurement
//!
//! `bench/benches/checksums.rs` times the candidates on one thread. On a Xeon with AVX-512,
//! VPCLMULQDQ and SHA-NI (2 cores shared with other work), mean GiB/s for 1 MiB (in cache) / 8 MiB
//! (past the cache: every SIMD CRC meets the memory's speed there):
//!
//! | | `crc-fast` | dedicated crate | `crc` (16 tables) |
//! |---|---|---|---|
//! | CRC32 | 66 / 21 | `crc32fast` 71 / 18 | 4.0 / 3.7 |
//! | CRC32C | 99 / 21 | `crc32c` 26 / 20 | 3.8 / 3.8 |
//! | CRC64NVME | 73 / 21 | `crc64fast-nvme` 27 / 22 | 2.5 / 2.3 |
//!
//! SHA1: `sha1` 1.9 / 1.8, `aws-lc-rs` 1.8 / 2.0, `ring` 0.5 (no SHA-NI for SHA-1). SHA256: `sha2`
//! 1.7 / 1.4, `ring` 1.6 / 1.2, `aws-lc-rs` 1.5 / 1.4 (`sha1`/`sha2` 0.11 as 0.10).
//!
//! So `crc-fast` for the three CRCs (3–4 × the others for CRC32C and CRC64NVME in cache, level with
//! `crc32fast` for CRC32) and RustCrypto's `sha1`/`sha2` 0.10 (as fast as the C libraries with no C
//! build, and on the `digest` 0.10 the workspace already has).
//!
//! The combination of part CRCs is the one thing written here by hand (`Combiner`):
//! `crc_fast::checksum_combine` recomputes x^(8·len) for every call, which costs 0.24 ms per
//! CRC64NVME combination of an 8 MiB part (30 ms for the 128 parts of 1 GiB, measured on the machine
//! above: a third of the time of the whole ETag); with the power computed once per part length, a
//! combination is one carry-less multiplication, under a microsecond. No crate offers that form.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use thiserror::Error;

use crate::etag::{parse_part_count, CountProblem};
use crate::layout::Layout;

/// An additional checksum algorithm of S3 (`ChecksumAlgorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// CRC-32/ISO-HDLC (the CRC of zip and Ethernet): 4 bytes.
    Crc32,
    /// CRC-32C (Castagnoli, iSCSI): 4 bytes.
    Crc32c,
    /// CRC-64/NVME: 8 bytes.
    Crc64Nvme,
    /// SHA-1: 20 bytes.
    Sha1,
    /// SHA-256: 32 bytes.
    Sha256,
}

/// The names [`Algorithm`]'s parser accepts, in any case, for messages.
const NAMES: &str = "crc32, crc32c, crc64nvme, sha1 or sha256";

impl Algorithm {
    /// Every algorithm, in S3's order.
    pub const ALL: [Algorithm; 5] =
        [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme, Algorithm::Sha1, Algorithm::Sha256];

    /// The name as S3's API writes it (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The HTTP header that carries the value (`x-amz-checksum-crc32`, …).
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The length of a raw checksum, in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Whether it is a CRC, whose full-object value can be combined from the parts' values.
    pub fn is_crc(self) -> bool {
        matches!(self, Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme)
    }

    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Algorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Algorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Algorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Algorithm::Sha1 | Algorithm::Sha256 => None,
        }
    }
}

impl fmt::Display for Algorithm {
    /// S3's name: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a text names no checksum algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown checksum algorithm '{input}': expected {NAMES} (in any case){}",
    if input.trim().eq_ignore_ascii_case("md5") { "; the MD5 is the ETag" } else { "" })]
pub struct AlgorithmError {
    input: String,
}

impl FromStr for Algorithm {
    type Err = AlgorithmError;

    /// Parses `crc32`, `crc32c`, `crc64nvme`, `sha1` or `sha256`, in any case, with surrounding
    /// spaces.
    fn from_str(input: &str) -> Result<Self, AlgorithmError> {
        let s = input.trim();
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| AlgorithmError { input: input.to_string() })
    }
}

/// How a checksum covers a multipart object (`ChecksumType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// The checksum of the whole object (`FULL_OBJECT`).
    FullObject,
    /// The checksum of the parts' concatenated raw checksums, with `-N` (`COMPOSITE`).
    Composite,
}

impl ChecksumType {
    /// What S3 stores when an upload with `algorithm` names no type: full-object for a single PUT
    /// and for CRC64NVME, composite for the other algorithms of a multipart upload (the aws cli's
    /// default). `layout` tells a single PUT from a multipart upload.
    pub fn s3_default(algorithm: Algorithm, layout: &Layout) -> ChecksumType {
        if layout.is_multipart() && algorithm != Algorithm::Crc64Nvme {
            ChecksumType::Composite
        } else {
            ChecksumType::FullObject
        }
    }
}

impl fmt::Display for ChecksumType {
    /// S3's name: `FULL_OBJECT` or `COMPOSITE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        })
    }
}

/// Why a text names no checksum type.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown checksum type '{input}': expected full (FULL_OBJECT) or composite (COMPOSITE), in any case")]
pub struct ChecksumTypeError {
    input: String,
}

impl FromStr for ChecksumType {
    type Err = ChecksumTypeError;

    /// Parses `full`, `full-object`, `full_object` or `composite`, in any case.
    fn from_str(input: &str) -> Result<Self, ChecksumTypeError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "full" | "full-object" | "full_object" => Ok(ChecksumType::FullObject),
            "composite" => Ok(ChecksumType::Composite),
            _ => Err(ChecksumTypeError { input: input.to_string() }),
        }
    }
}

/// A combination of algorithm, type and upload that S3 does not accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// CRC64NVME has no composite form.
    #[error("S3 has no composite CRC64NVME: a CRC64NVME is always full-object")]
    CompositeCrc64Nvme,
    /// A SHA cannot be combined from parts, so a multipart upload has no full-object SHA.
    #[error("S3 has no full-object {0} for a multipart upload (a SHA cannot be combined from parts); use composite, or a CRC")]
    FullObjectSha(Algorithm),
    /// A single PUT has no parts, so its checksum is full-object.
    #[error("a single-part upload has no parts, so its {0} is full-object, not composite")]
    CompositeSinglePart(Algorithm),
}

/// Whether S3 accepts a checksum of `algorithm` and `checksum_type` on an object uploaded as
/// `layout` says: a single PUT carries a full-object value of any algorithm; a multipart upload a
/// composite CRC32, CRC32C, SHA1 or SHA256, or a full-object CRC32, CRC32C or CRC64NVME.
pub fn s3_accepts(
    algorithm: Algorithm,
    checksum_type: ChecksumType,
    layout: &Layout,
) -> Result<(), Unsupported> {
    match (checksum_type, layout.is_multipart()) {
        (ChecksumType::Composite, _) if algorithm == Algorithm::Crc64Nvme => {
            Err(Unsupported::CompositeCrc64Nvme)
        }
        (ChecksumType::Composite, false) => Err(Unsupported::CompositeSinglePart(algorithm)),
        (ChecksumType::FullObject, true) if !algorithm.is_crc() => Err(Unsupported::FullObjectSha(algorithm)),
        _ => Ok(()),
    }
}

/// The longest raw checksum (SHA-256), in bytes.
const MAX_LEN: usize = 32;

/// A checksum value: the algorithm, its raw bytes (as many as the algorithm has), and for a
/// composite value read with its `-N`, the part count. Displays as S3 shows it: base64 of the
/// bytes, then `-N` when there is a part count.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum {
    algorithm: Algorithm,
    /// The raw bytes, zeros past `algorithm.digest_len()`.
    bytes: [u8; MAX_LEN],
    parts: Option<u32>,
}

impl Checksum {
    /// The value of `bytes` for `algorithm`, without a part count; refused when `bytes` has not the
    /// algorithm's length.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<Checksum, ChecksumError> {
        if bytes.len() != algorithm.digest_len() {
            return Err(ChecksumError {
                algorithm,
                input: base64::engine::general_purpose::STANDARD.encode(bytes),
                problem: Problem::Length(bytes.len()),
            });
        }
        let mut raw = [0; MAX_LEN];
        raw[..bytes.len()].copy_from_slice(bytes);
        Ok(Checksum { algorithm, bytes: raw, parts: None })
    }

    /// The checksum of `data` (a full-object value, or one part's value).
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Checksum {
        let mut h = Hasher::new(algorithm);
        h.update(data);
        h.finish()
    }

    /// Reads a value as S3 shows it for `algorithm`: base64 of the big-endian bytes (with its `=`
    /// padding), optionally followed by `-N` with N from 1 to 4294967295, with surrounding spaces
    /// or double quotes. S3 allows 10,000 parts, but another store may allow more: whether an
    /// upload could have made that count is judged later, never here.
    pub fn parse(algorithm: Algorithm, input: &str) -> Result<Checksum, ChecksumError> {
        let err = |problem| ChecksumError { algorithm, input: input.to_string(), problem };
        let s = input.trim();
        let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s).trim();
        if s.is_empty() {
            return Err(err(Problem::Empty));
        }
        // Base64 has no '-', so the last '-' starts the part count.
        let (text, parts) = match s.rsplit_once('-') {
            None => (s, None),
            Some((text, count)) => (text, Some(parse_part_count(count).map_err(|c| err(Problem::Count(c)))?)),
        };
        // A raw checksum is at most 32 bytes, 44 characters of base64: refuse longer text before
        // decoding it.
        if text.len() > 4 * MAX_LEN.div_ceil(3) + 4 {
            return Err(err(Problem::TooLong(text.len())));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| err(Problem::Base64(base64_problem(text, &e))))?;
        if raw.len() != algorithm.digest_len() {
            return Err(err(Problem::Length(raw.len())));
        }
        let mut bytes = [0; MAX_LEN];
        bytes[..raw.len()].copy_from_slice(&raw);
        Ok(Checksum { algorithm, bytes, parts })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The raw bytes, big-endian: as many as [`Algorithm::digest_len`] says.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }

    /// The part count of a composite value shown with its `-N`; `None` for a full-object value,
    /// one part's value, or a composite value read without its `-N` (as GetObjectAttributes shows
    /// it).
    pub fn parts(&self) -> Option<u32> {
        self.parts
    }

    /// The same value with the part count `parts` (`None`: without one).
    pub fn with_parts(self, parts: Option<u32>) -> Checksum {
        Checksum { parts, ..self }
    }

    /// The CRC as a number (a CRC32 or CRC32C in the low 32 bits); `None` for a SHA.
    pub fn crc(&self) -> Option<u64> {
        let b = self.bytes();
        match self.algorithm {
            Algorithm::Crc32 | Algorithm::Crc32c => {
                Some(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
            }
            Algorithm::Crc64Nvme => Some(u64::from_be_bytes(self.bytes[..8].try_into().ok()?)),
            Algorithm::Sha1 | Algorithm::Sha256 => None,
        }
    }

    fn from_crc(algorithm: Algorithm, crc: u64) -> Checksum {
        let mut bytes = [0; MAX_LEN];
        match algorithm.digest_len() {
            // A 32-bit CRC is the low half of crc-fast's u64.
            4 => bytes[..4].copy_from_slice(&(crc as u32).to_be_bytes()),
            _ => bytes[..8].copy_from_slice(&crc.to_be_bytes()),
        }
        Checksum { algorithm, bytes, parts: None }
    }
}

impl fmt::Display for Checksum {
    /// As S3 shows it: base64 of the bytes, then `-N` for a composite value with a part count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.bytes()))?;
        if let Some(n) = self.parts {
            write!(f, "-{n}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({} {self})", self.algorithm)
    }
}

/// What is wrong with `text` as base64, in words: the base64 crate's own messages name bytes by
/// number ("Invalid symbol 61, offset 6").
fn base64_problem(text: &str, e: &base64::DecodeError) -> String {
    let at = |offset: usize| text.get(offset..).and_then(|s| s.chars().next()).unwrap_or('?');
    match *e {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("{:?} at position {} does not belong there", at(offset), offset + 1)
        }
        base64::DecodeError::InvalidLength(n) => {
            format!("{n} characters are not a whole number of base64 groups of 4")
        }
        base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!(
                "the last character, {:?} at position {}, is not a possible ending",
                at(offset),
                offset + 1
            )
        }
        base64::DecodeError::InvalidPadding => "its '=' padding is wrong".to_string(),
    }
}

/// Why a text is not a checksum value of the algorithm it was read for.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid {algorithm} checksum '{}': {problem}; expected the base64 of {len} bytes (as S3 shows it, e.g. {example}), optionally followed by -N with N a part count of 1 or more",
    input.escape_debug(), len = algorithm.digest_len(), example = Checksum::of(*algorithm, b"123456789").to_string())]
pub struct ChecksumError {
    algorithm: Algorithm,
    input: String,
    problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    Empty,
    TooLong(usize),
    Base64(String),
    Length(usize),
    Count(CountProblem),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("it is empty"),
            Problem::TooLong(n) => {
                write!(f, "{n} characters before the part count is longer than any checksum")
            }
            Problem::Base64(e) => write!(f, "it is not base64 ({e})"),
            Problem::Length(n) => {
                write!(f, "it holds {n} byte{}", if *n == 1 { "" } else { "s" })?;
                let others: Vec<&str> =
                    Algorithm::ALL.iter().filter(|a| a.digest_len() == *n).map(|a| a.name()).collect();
                if !others.is_empty() {
                    write!(f, ", as a {} does", others.join(" or "))?;
                }
                Ok(())
            }
            Problem::Count(c) => c.fmt(f),
        }
    }
}

/// A checksum being computed over a stream of bytes: one part, or a whole object.
#[derive(Clone, Debug)]
pub struct Hasher {
    algorithm: Algorithm,
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    Crc(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// A checksum of no bytes yet.
    pub fn new(algorithm: Algorithm) -> Hasher {
        use sha2::Digest as _;
        let state = match algorithm.crc() {
            Some(crc) => State::Crc(crc_fast::Digest::new(crc)),
            None if algorithm == Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            None => State::Sha256(sha2::Sha256::new()),
        };
        Hasher { algorithm, state }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        use sha2::Digest as _;
        match &mut self.state {
            State::Crc(d) => d.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The checksum of the bytes added, without a part count.
    pub fn finish(self) -> Checksum {
        use sha2::Digest as _;
        match self.state {
            State::Crc(d) => Checksum::from_crc(self.algorithm, d.finalize()),
            State::Sha1(h) => {
                let mut bytes = [0; MAX_LEN];
                bytes[..20].copy_from_slice(&h.finalize());
                Checksum { algorithm: self.algorithm, bytes, parts: None }
            }
            State::Sha256(h) => {
                let mut bytes = [0; MAX_LEN];
                bytes.copy_from_slice(&h.finalize());
                Checksum { algorithm: self.algorithm, bytes, parts: None }
            }
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Folds the checksums of an object's parts, in order, into the object's value: composite (the
/// checksum of the concatenated raw part checksums, with `-N`), or full-object for a CRC (the parts'
/// CRCs combined, which equals the CRC of the whole object).
#[derive(Clone, Debug)]
pub struct ChecksumFolder {
    algorithm: Algorithm,
    fold: Fold,
}

// One folder per layout and algorithm: its size does not matter, and boxing the hasher would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Fold {
    Composite {
        hasher: Hasher,
        parts: u64,
    },
    /// The CRC of the parts so far; `None` before the first.
    Full {
        crc: Option<u64>,
        combiner: Combiner,
    },
}

/// Combines CRCs: from CRC(A), CRC(B) and the length of B, CRC(A‖B).
///
/// For a reflected CRC whose initial value equals its final XOR (all ones, for the three CRCs of
/// S3), CRC(A‖B) = CRC(A)·x^(8·|B|) + CRC(B) in GF(2)[x] modulo the CRC's polynomial: the register
/// after A is shifted through |B| bytes of zeros, and the conditioning terms cancel. The power is
/// kept for the last length seen, since an object's parts but the last share one.
#[derive(Clone, Debug)]
struct Combiner {
    /// The reflected polynomial.
    poly: u64,
    /// x^0 in the reflected form: the top bit of the CRC's width.
    one: u64,
    /// The last length and x^(8·length) mod the polynomial.
    last: Option<(u64, u64)>,
}

impl Combiner {
    fn new(algorithm: Algorithm) -> Option<Combiner> {
        // The polynomials of s3-facts.md §5, reflected as the CRCs are computed.
        let (poly, width) = match algorithm {
            Algorithm::Crc32 => (u64::from(0x04C1_1DB7u32.reverse_bits()), 32),
            Algorithm::Crc32c => (u64::from(0x1EDC_6F41u32.reverse_bits()), 32),
            Algorithm::Crc64Nvme => (0xAD93_D235_94C9_3659u64.reverse_bits(), 64),
            Algorithm::Sha1 | Algorithm::Sha256 => return None,
        };
        Some(Combiner { poly, one: 1 << (width - 1), last: None })
    }

    /// a·b modulo the polynomial, both in the reflected form.
    fn mul(&self, a: u64, mut b: u64) -> u64 {
        let mut product = 0;
        let mut bit = self.one;
        while bit != 0 {
            if a & bit != 0 {
                product ^= b;
            }
            b = if b & 1 != 0 { (b >> 1) ^ self.poly } else { b >> 1 };
            bit >>= 1;
        }
        product
    }

    /// x^(8·len) modulo the polynomial.
    fn shift(&self, mut len: u64) -> u64 {
        let mut result = self.one;
        let mut base = self.one >> 8; // x^8
        while len > 0 {
            if len & 1 != 0 {
                result = self.mul(result, base);
            }
            base = self.mul(base, base);
            len >>= 1;
        }
        result
    }

    fn combine(&mut self, a: u64, b: u64, len_b: u64) -> u64 {
        let power = match self.last {
            Some((len, power)) if len == len_b => power,
            _ => {
                let power = self.shift(len_b);
                self.last = Some((len_b, power));
                power
            }
        };
        self.mul(power, a) ^ b
    }
}

/// Why part checksums cannot be folded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FoldError {
    /// A full-object SHA cannot be combined from the parts' SHAs.
    #[error("a full-object {0} cannot be combined from the parts' checksums (only a CRC can); hash the whole object in one stream")]
    NotCombinable(Algorithm),
    /// A part's checksum of another algorithm than the fold's.
    #[error("a part's checksum is a {part}, but the parts are folded into a {folder}")]
    OtherAlgorithm {
        /// The fold's algorithm.
        folder: Algorithm,
        /// The part's.
        part: Algorithm,
    },
    /// A part's checksum that is itself composite.
    #[error("a part's checksum cannot be composite ({0} has a part count)")]
    CompositePart(String),
    /// A composite value of no parts.
    #[error("a composite checksum needs at least one part")]
    NoParts,
    /// A composite value of more parts than a part count can say.
    #[error("{0} parts are more than a composite checksum's part count can say (4294967295)")]
    TooManyParts(u64),
}

impl ChecksumFolder {
    /// A fold of no parts yet; a full-object fold needs a CRC.
    pub fn new(algorithm: Algorithm, checksum_type: ChecksumType) -> Result<ChecksumFolder, FoldError> {
        let fold = match (checksum_type, algorithm.crc()) {
            (ChecksumType::Composite, _) => Fold::Composite { hasher: Hasher::new(algorithm), parts: 0 },
            (ChecksumType::FullObject, Some(_)) => {
                let combiner = Combiner::new(algorithm).ok_or(FoldError::NotCombinable(algorithm))?;
                Fold::Full { crc: None, combiner }
            }
            (ChecksumType::FullObject, None) => return Err(FoldError::NotCombinable(algorithm)),
        };
        Ok(ChecksumFolder { algorithm, fold })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Adds the next part: its checksum and its length in bytes (a composite fold needs only the
    /// checksum, a full-object fold both).
    pub fn push(&mut self, part: &Checksum, len: u64) -> Result<(), FoldError> {
        if part.algorithm != self.algorithm {
            return Err(FoldError::OtherAlgorithm { folder: self.algorithm, part: part.algorithm });
        }
        if part.parts.is_some() {
            return Err(FoldError::CompositePart(part.to_string()));
        }
        match &mut self.fold {
            Fold::Composite { hasher, parts } => {
                hasher.update(part.bytes());
                *parts += 1;
            }
            Fold::Full { crc, combiner } => {
                let next = part.crc().expect("a full-object fold holds a CRC");
                *crc = Some(match *crc {
                    None => next,
                    Some(prev) => combiner.combine(prev, next, len),
                });
            }
        }
        Ok(())
    }

    /// The object's value: composite with its `-N`, or the full-object CRC (of no bytes when no
    /// part was pushed).
    pub fn finish(self) -> Result<Checksum, FoldError> {
        match self.fold {
            Fold::Composite { hasher, parts } => {
                if parts == 0 {
                    return Err(FoldError::NoParts);
                }
                let n = u32::try_from(parts).map_err(|_| FoldError::TooManyParts(parts))?;
                Ok(hasher.finish().with_parts(Some(n)))
            }
            Fold::Full { crc, .. } => Ok(crc.map_or_else(
                || Checksum::of(self.algorithm, b""),
                |c| Checksum::from_crc(self.algorithm, c),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &[u8] = b"123456789";

    fn hex(c: &Checksum) -> String {
        c.bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn crc_check_values_of_the_catalogue() {
        assert_eq!(Checksum::of(Algorithm::Crc32, CHECK).crc(), Some(0xCBF4_3926));
        assert_eq!(Checksum::of(Algorithm::Crc32c, CHECK).crc(), Some(0xE306_9283));
        assert_eq!(Checksum::of(Algorithm::Crc64Nvme, CHECK).crc(), Some(0xAE8B_1486_0A79_9888));
        // Big-endian bytes, as S3 encodes them.
        assert_eq!(hex(&Checksum::of(Algorithm::Crc32, CHECK)), "cbf43926");
        assert_eq!(hex(&Checksum::of(Algorithm::Crc64Nvme, CHECK)), "ae8b14860a799888");
        assert_eq!(hex(&Checksum::of(Algorithm::Sha1, b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(&Checksum::of(Algorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn algorithms_parse_in_any_case() {
        for (text, want) in [
            ("crc32", Algorithm::Crc32),
            ("CRC32C", Algorithm::Crc32c),
            ("crc64nvme", Algorithm::Crc64Nvme),
            ("Crc64Nvme", Algorithm::Crc64Nvme),
            (" sha1 ", Algorithm::Sha1),
            ("SHA256", Algorithm::Sha256),
        ] {
            assert_eq!(text.parse::<Algorithm>(), Ok(want), "{text}");
        }
        for a in Algorithm::ALL {
            assert_eq!(a.to_string().parse::<Algorithm>(), Ok(a));
            assert_eq!(Checksum::of(a, b"x").bytes().len(), a.digest_len());
        }
        for bad in ["", "crc", "crc64", "sha-256", "crc32 c", "md5"] {
            let e = bad.parse::<Algorithm>().unwrap_err().to_string();
            assert!(e.contains("crc32, crc32c, crc64nvme, sha1 or sha256"), "{e}");
        }
        assert!("MD5".parse::<Algorithm>().unwrap_err().to_string().contains("the MD5 is the ETag"));
    }

    #[test]
    fn checksum_types_parse() {
        for t in ["full", "FULL_OBJECT", "full-object"] {
            assert_eq!(t.parse::<ChecksumType>(), Ok(ChecksumType::FullObject));
        }
        assert_eq!("COMPOSITE".parse::<ChecksumType>(), Ok(ChecksumType::Composite));
        assert!("partial"
            .parse::<ChecksumType>()
            .unwrap_err()
            .to_string()
            .contains("full (FULL_OBJECT) or composite"));
        for t in [ChecksumType::FullObject, ChecksumType::Composite] {
            assert_eq!(t.to_string().parse::<ChecksumType>(), Ok(t));
        }
    }

    #[test]
    fn values_parse_and_display_as_s3_shows_them() {
        let c = Checksum::parse(Algorithm::Crc32, "y/Q5Jg==").unwrap();
        assert_eq!(c, Checksum::of(Algorithm::Crc32, CHECK));
        assert_eq!(c.parts(), None);
        let c = Checksum::parse(Algorithm::Sha256, " \"uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=-3\" ")
            .unwrap();
        assert_eq!(c.parts(), Some(3));
        assert_eq!(c.to_string(), "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=-3");
        assert_eq!(c.with_parts(None).to_string(), "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=");
        let max = Checksum::parse(Algorithm::Crc32c, "xU+Krw==-4294967295").unwrap();
        assert_eq!(max.parts(), Some(u32::MAX));
        assert_eq!(Checksum::parse(Algorithm::Crc32c, "xU+Krw==-10001").unwrap().parts(), Some(10_001));
    }

    #[test]
    fn hostile_values_are_refused_with_the_reason() {
        let cases: [(Algorithm, &str, &str); 14] = [
            (Algorithm::Crc32, "", "it is empty"),
            (Algorithm::Crc32, "  \"\" ", "it is empty"),
            (Algorithm::Crc32, "y/Q5Jg==-0", "'-0' never exists"),
            (Algorithm::Crc32, "y/Q5Jg==-4294967296", "larger than 4294967295"),
            (Algorithm::Crc32, "y/Q5Jg==-99999999999999999999999", "larger than 4294967295"),
            (Algorithm::Crc32, "y/Q5Jg==-", "not a number"),
            (Algorithm::Crc32, "y/Q5Jg==-+3", "not a number"),
            (Algorithm::Crc32, "y/Q5Jg==--3", "not base64"),
            (Algorithm::Crc32, "y/Q5Jg", "not base64"),
            (Algorithm::Crc32, "y!Q5Jg==", "not base64"),
            (Algorithm::Crc32, "i+6LR0y3eFo=", "8 bytes, as a CRC64NVME does"),
            (Algorithm::Crc64Nvme, "y/Q5Jg==", "4 bytes, as a CRC32 or CRC32C does"),
            (Algorithm::Sha1, "AAAA", "3 bytes"),
            (Algorithm::Sha256, &"A".repeat(100_000), "longer than any checksum"),
        ];
        for (alg, text, why) in cases {
            let e = Checksum::parse(alg, text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:.40}: {e}");
            assert!(e.contains(alg.name()), "{e}");
            assert!(e.contains(&format!("base64 of {} bytes", alg.digest_len())), "{e}");
        }
        // Non-canonical base64 (trailing bits set) is not what S3 writes.
        assert!(Checksum::parse(Algorithm::Crc32, "y/Q5Jh==").is_err());
        assert!(Checksum::from_bytes(Algorithm::Crc32, &[0; 8]).unwrap_err().to_string().contains("8 bytes"));
    }

    #[test]
    fn what_s3_accepts() {
        let single = Layout::Single;
        let multi = Layout::uniform(8 << 20).unwrap();
        for a in Algorithm::ALL {
            assert_eq!(s3_accepts(a, ChecksumType::FullObject, &single), Ok(()));
            assert!(s3_accepts(a, ChecksumType::Composite, &single).is_err());
            assert_eq!(s3_accepts(a, ChecksumType::FullObject, &multi).is_ok(), a.is_crc());
            assert_eq!(s3_accepts(a, ChecksumType::Composite, &multi).is_ok(), a != Algorithm::Crc64Nvme);
            // S3's default is always one S3 accepts.
            for l in [&single, &multi] {
                assert_eq!(s3_accepts(a, ChecksumType::s3_default(a, l), l), Ok(()));
            }
        }
        assert_eq!(
            s3_accepts(Algorithm::Crc64Nvme, ChecksumType::Composite, &multi),
            Err(Unsupported::CompositeCrc64Nvme)
        );
        assert_eq!(
            s3_accepts(Algorithm::Sha1, ChecksumType::FullObject, &multi),
            Err(Unsupported::FullObjectSha(Algorithm::Sha1))
        );
        assert_eq!(ChecksumType::s3_default(Algorithm::Crc32, &multi), ChecksumType::Composite);
    }

    #[test]
    fn folds_refuse_what_cannot_be_folded() {
        assert_eq!(
            ChecksumFolder::new(Algorithm::Sha256, ChecksumType::FullObject).unwrap_err(),
            FoldError::NotCombinable(Algorithm::Sha256)
        );
        let f = ChecksumFolder::new(Algorithm::Sha1, ChecksumType::Composite).unwrap();
        assert_eq!(f.finish().unwrap_err(), FoldError::NoParts);
        let mut f = ChecksumFolder::new(Algorithm::Crc32, ChecksumType::Composite).unwrap();
        let other = Checksum::of(Algorithm::Crc32c, b"x");
        assert!(matches!(f.push(&other, 1), Err(FoldError::OtherAlgorithm { .. })));
        let composite = Checksum::of(Algorithm::Crc32, b"x").with_parts(Some(2));
        assert!(matches!(f.push(&composite, 1), Err(FoldError::CompositePart(_))));
        // A full-object fold of no parts is the CRC of nothing.
        let f = ChecksumFolder::new(Algorithm::Crc64Nvme, ChecksumType::FullObject).unwrap();
        assert_eq!(f.finish().unwrap(), Checksum::of(Algorithm::Crc64Nvme, b""));
    }

    #[test]
    fn composite_is_the_checksum_of_the_raw_part_checksums() {
        for a in Algorithm::ALL {
            let parts: [&[u8]; 3] = [b"first part", b"", b"third"];
            let mut f = ChecksumFolder::new(a, ChecksumType::Composite).unwrap();
            let mut concat = Vec::new();
            for p in parts {
                let c = Checksum::of(a, p);
                concat.extend_from_slice(c.bytes());
                f.push(&c, p.len() as u64).unwrap();
            }
            assert_eq!(f.finish().unwrap(), Checksum::of(a, &concat).with_parts(Some(3)), "{a}");
        }
    }

    proptest::proptest! {
        #[test]
        fn combined_part_crcs_equal_the_crc_of_the_whole(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            cuts in proptest::collection::vec(0usize..3001, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            for a in Algorithm::ALL.into_iter().filter(|a| a.is_crc()) {
                let mut f = ChecksumFolder::new(a, ChecksumType::FullObject).unwrap();
                let mut at = 0;
                for &c in cuts.iter().chain([data.len()].iter()) {
                    let part = &data[at..c];
                    // Fed in uneven pieces, as the engine's reads come.
                    let mut h = Hasher::new(a);
                    for piece in part.chunks(7) {
                        h.update(piece);
                    }
                    f.push(&h.finish(), part.len() as u64).unwrap();
                    at = c;
                }
                proptest::prop_assert_eq!(f.finish().unwrap(), Checksum::of(a, &data), "{}", a);
            }
        }

        /// The combination written here agrees with crc-fast's, for any CRCs and lengths.
        #[test]
        fn combinations_agree_with_crc_fast(a in proptest::num::u64::ANY, b in proptest::num::u64::ANY, len in proptest::num::u64::ANY) {
            for alg in Algorithm::ALL.into_iter().filter(|a| a.is_crc()) {
                let (a, b, len) = match alg.digest_len() {
                    4 => (a & 0xffff_ffff, b & 0xffff_ffff, len % (1 << 40)),
                    _ => (a, b, len % (1 << 40)),
                };
                let mut c = Combiner::new(alg).unwrap();
                let want = crc_fast::checksum_combine(alg.crc().unwrap(), a, b, len);
                proptest::prop_assert_eq!(c.combine(a, b, len), want, "{}", alg);
                // Again, from the power kept.
                proptest::prop_assert_eq!(c.combine(a, b, len), want, "{}", alg);
            }
        }

        #[test]
        fn a_parsed_value_displays_as_it_parses(bytes in proptest::collection::vec(proptest::num::u8::ANY, 32), parts in proptest::option::of(1u32..)) {
            for a in Algorithm::ALL {
                let c = Checksum::from_bytes(a, &bytes[..a.digest_len()]).unwrap().with_parts(parts);
                let text = c.to_string();
                proptest::prop_assert_eq!(Checksum::parse(a, &text), Ok(c));
            }
        }
    }
}
