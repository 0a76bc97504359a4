//! What S3 says about an object, turned into the facts [`verify`](crate::verify) takes, and the
//! requests that read what a verdict still needs: the sans-IO half of a driver.
//!
//! A driver (the `s3` feature's, or a sync tool's own client) reads HeadObject with ChecksumMode
//! ENABLED into a [`Head`], verifies with [`Head::facts`], and, when the report is inconclusive,
//! asks [`next_requests`] what to read: HeadObject with part number 1 and with the last part number
//! (two requests settle any uniform layout, [`layout_from_part_heads`]), GetObjectAttributes with
//! ObjectParts for uneven parts ([`layout_from_part_sizes`]), or the checksum's type. No request is
//! made here; every answer is typed, and what a store answers that no S3 would (a part count that
//! is not the ETag's, parts that do not add up) is said, never trusted.

use thiserror::Error;

use crate::checksum::{Algorithm, Checksum, ChecksumError, ChecksumType};
use crate::etag::{EtagError, RemoteEtag};
use crate::layout::{checked_sum, Layout};
use crate::verify::{Need, Report, Sse, VerifyOptions};

/// What HeadObject answered (with ChecksumMode ENABLED), as the SDKs give it: text as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Head {
    /// `ETag`, with or without its quotes.
    pub etag: Option<String>,
    /// `Content-Length`.
    pub content_length: Option<u64>,
    /// `x-amz-server-side-encryption`: `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub server_side_encryption: Option<String>,
    /// `x-amz-server-side-encryption-customer-algorithm`: present for SSE-C.
    pub sse_customer_algorithm: Option<String>,
    /// The `x-amz-checksum-*` values, each with its algorithm.
    pub checksums: Vec<(Algorithm, String)>,
    /// `x-amz-checksum-type`: `FULL_OBJECT` or `COMPOSITE`.
    pub checksum_type: Option<String>,
    /// `x-amz-mp-parts-count`, sent when the request named a part number.
    pub parts_count: Option<u64>,
}

/// A HeadObject answer that cannot be read as facts: the value and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The ETag is no ETag.
    #[error("the object's ETag: {0}")]
    Etag(EtagError),
    /// A checksum header is not a value of its algorithm.
    #[error("the object's checksum: {0}")]
    Checksum(ChecksumError),
    /// The checksum type is neither `FULL_OBJECT` nor `COMPOSITE`.
    #[error("the object's checksum type '{0}' is neither FULL_OBJECT nor COMPOSITE")]
    ChecksumType(String),
    /// The encryption is none S3 names.
    #[error("the object's server-side encryption '{0}' is none of AES256, aws:kms, aws:kms:dsse")]
    Encryption(String),
}

impl Head {
    /// The remote ETag (if the answer had one) and the facts `verify` takes.
    ///
    /// The encryption is unknown when the answer names none: S3 names SSE-S3 (`AES256`) on every
    /// object since 2023, so silence comes from another store, whose ETags may not be MD5s.
    pub fn facts(&self) -> Result<(Option<RemoteEtag>, VerifyOptions), HeadError> {
        let etag = self.etag.as_deref().map(RemoteEtag::parse).transpose().map_err(HeadError::Etag)?;
        let sse = match (self.sse_customer_algorithm.as_deref(), self.server_side_encryption.as_deref()) {
            (Some(_), _) => Sse::C,
            (None, Some(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "aes256" => Sse::S3,
                "aws:kms" | "aws:kms:dsse" => Sse::Kms,
                _ => return Err(HeadError::Encryption(s.to_string())),
            },
            (None, None) => Sse::Unknown,
        };
        let checksums = self
            .checksums
            .iter()
            .map(|(algorithm, value)| Checksum::parse(*algorithm, value).map_err(HeadError::Checksum))
            .collect::<Result<Vec<_>, _>>()?;
        let checksum_type = match self.checksum_type.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) if t.eq_ignore_ascii_case("FULL_OBJECT") => Some(ChecksumType::FullObject),
            Some(t) if t.eq_ignore_ascii_case("COMPOSITE") => Some(ChecksumType::Composite),
            Some(t) => return Err(HeadError::ChecksumType(t.to_string())),
        };
        let opts =
            VerifyOptions { remote_size: self.content_length, layout: None, sse, checksums, checksum_type };
        Ok((etag, opts))
    }
}

/// A request that reads a fact a report needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Request {
    /// HeadObject with this part number: the part's ContentLength and the PartsCount.
    HeadPart(u32),
    /// GetObjectAttributes with ObjectParts (paginated): every part's size, when the object has an
    /// additional checksum; with Checksum, its ChecksumType.
    ObjectParts,
}

/// The requests that read what `report` needs, beyond the HeadObject that gave `facts`: the
/// first and last part's HeadObject for a part size, GetObjectAttributes for every part's size or
/// a checksum's type. The part count comes from the ETag's `-N` (or a checksum's); without one, no
/// part can be asked for. Empty when nothing more can be read (the encryption, the size and the
/// checksums come with HeadObject itself).
pub fn next_requests(report: &Report) -> Vec<Request> {
    let parts = part_count(report);
    let mut out = Vec::new();
    for need in &report.needs {
        match (need, parts) {
            (Need::PartSize, Some(n)) => {
                out.push(Request::HeadPart(1));
                if n > 1 {
                    out.push(Request::HeadPart(n));
                }
            }
            (Need::PartSizes | Need::ChecksumType, _) => out.push(Request::ObjectParts),
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The object's part count as the report's remote values give it: the ETag's `-N`, else a
/// composite checksum's.
pub fn part_count(report: &Report) -> Option<u32> {
    report
        .remote_etag
        .as_ref()
        .and_then(RemoteEtag::md5)
        .and_then(|e| e.parts())
        .or_else(|| report.checksums.iter().find_map(|c| c.remote.parts()))
}

/// What the first and last part's HeadObject tell about the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartsFinding {
    /// Parts of one size, the last no longer: the layout.
    Uniform(Layout),
    /// The parts are not of one size: every part's size must be read.
    Uneven,
    /// The answers contradict each other or the object (a part count that is not the one asked
    /// about, parts that cannot add up to the object's size): not to be trusted.
    Contradiction(String),
}

/// The layout that the first part's size and the last one's give an object of `size` bytes in
/// `parts` parts, as HeadObject with part number 1 and `parts` report them (`first_count` and
/// `last_count` are the PartsCount each answer gave, if any). Uniform when
/// first × (parts − 1) + last = size with a last part no longer than the first.
pub fn layout_from_part_heads(
    size: u64,
    parts: u32,
    first: u64,
    last: u64,
    counts: [Option<u64>; 2],
) -> PartsFinding {
    if let Some(c) = counts.into_iter().flatten().find(|&c| c != u64::from(parts)) {
        return PartsFinding::Contradiction(format!(
            "the store reports {c} parts where the ETag has {parts} (a store that ignores the part number?)"
        ));
    }
    if parts == 0 {
        return PartsFinding::Contradiction("no part count".to_string());
    }
    if parts == 1 {
        return match first == size {
            true => PartsFinding::Uniform(Layout::Uniform { part_size: size.max(1) }),
            false => PartsFinding::Contradiction(format!("one part of {first} bytes in an object of {size}")),
        };
    }
    if first == 0 || first > size || last > size {
        return PartsFinding::Contradiction(format!(
            "parts of {first} and {last} bytes cannot make {size} bytes in {parts} parts"
        ));
    }
    let whole = first.checked_mul(u64::from(parts) - 1).and_then(|b| b.checked_add(last));
    match whole {
        Some(s) if s == size && last <= first && last > 0 => {
            PartsFinding::Uniform(Layout::Uniform { part_size: first })
        }
        None => {
            PartsFinding::Contradiction(format!("{parts} parts of {first} bytes are more than {size} bytes"))
        }
        // Uneven parts can still add up; only reading them all tells.
        Some(s) if s > size && last <= first => {
            PartsFinding::Contradiction(format!("{parts} parts of {first} bytes are more than {size} bytes"))
        }
        _ => PartsFinding::Uneven,
    }
}

/// The layout of an object of `size` bytes whose parts GetObjectAttributes listed, in part
/// order; a contradiction when they do not add up to the object's size.
pub fn layout_from_part_sizes(size: u64, sizes: Vec<u64>) -> Result<Layout, PartsFinding> {
    let sum = checked_sum(&sizes);
    if sum != Some(size) {
        let sum = sum.map_or("more than 18446744073709551615".to_string(), |s| s.to_string());
        return Err(PartsFinding::Contradiction(format!(
            "the parts listed add up to {sum} bytes, not {size}"
        )));
    }
    Layout::explicit(sizes).map_err(|e| PartsFinding::Contradiction(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            etag: Some("\"5d41402abc4b2a76b9719d911017c592\"".into()),
            content_length: Some(5),
            server_side_encryption: Some("AES256".into()),
            checksums: vec![(Algorithm::Crc64Nvme, "rosUhgp5mIg=".into())],
            checksum_type: Some("FULL_OBJECT".into()),
            ..Head::default()
        }
    }

    #[test]
    fn a_head_answer_becomes_facts() {
        let (etag, opts) = head().facts().unwrap();
        assert_eq!(etag.unwrap().to_string(), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(
            (opts.remote_size, opts.sse, opts.checksum_type),
            (Some(5), Sse::S3, Some(ChecksumType::FullObject))
        );
        assert_eq!(opts.checksums[0].to_string(), "rosUhgp5mIg=");
        for (sse, c, want) in [
            (Some("aws:kms"), None, Sse::Kms),
            (Some("aws:kms:dsse"), None, Sse::Kms),
            (None, Some("AES256"), Sse::C),
            (None, None, Sse::Unknown),
        ] {
            let h = Head {
                server_side_encryption: sse.map(Into::into),
                sse_customer_algorithm: c.map(Into::into),
                ..head()
            };
            assert_eq!(h.facts().unwrap().1.sse, want);
        }
    }

    #[test]
    fn answers_that_are_not_facts_are_errors_that_say_what() {
        let bad = [
            Head { etag: Some("xyz".into()), ..head() },
            Head { checksums: vec![(Algorithm::Crc32, "!!".into())], ..head() },
            Head { checksum_type: Some("BOTH".into()), ..head() },
            Head { server_side_encryption: Some("rot13".into()), ..head() },
        ];
        for h in bad {
            let e = h.facts().unwrap_err().to_string();
            assert!(e.starts_with("the object's"), "{e}");
        }
    }

    #[test]
    fn two_part_heads_settle_a_uniform_layout() {
        let mib = 1 << 20;
        let u = |p| PartsFinding::Uniform(Layout::Uniform { part_size: p });
        assert_eq!(
            layout_from_part_heads(20_000_000, 3, 8 * mib, 20_000_000 - 16 * mib, [Some(3); 2]),
            u(8 * mib)
        );
        assert_eq!(layout_from_part_heads(16 * mib, 2, 8 * mib, 8 * mib, [None; 2]), u(8 * mib));
        assert_eq!(layout_from_part_heads(7, 1, 7, 7, [Some(1); 2]), u(7));
        assert_eq!(layout_from_part_heads(0, 1, 0, 0, [None; 2]), u(1));
        // Uneven: a first part that does not repeat.
        assert_eq!(layout_from_part_heads(30, 3, 10, 5, [None; 2]), PartsFinding::Uneven);
        assert_eq!(layout_from_part_heads(30, 3, 5, 20, [None; 2]), PartsFinding::Uneven);
        // What no store should say.
        for finding in [
            layout_from_part_heads(30, 3, 10, 10, [Some(1), Some(3)]),
            layout_from_part_heads(30, 1, 10, 10, [None; 2]),
            layout_from_part_heads(30, 3, 40, 10, [None; 2]),
            layout_from_part_heads(30, 3, 20, 10, [None; 2]),
            layout_from_part_heads(u64::MAX, u32::MAX, u64::MAX / 2, 1, [None; 2]),
        ] {
            assert!(matches!(finding, PartsFinding::Contradiction(_)), "{finding:?}");
        }
    }

    #[test]
    fn listed_part_sizes_must_add_up() {
        assert_eq!(layout_from_part_sizes(10, vec![4, 6]), Ok(Layout::explicit(vec![4, 6]).unwrap()));
        assert!(matches!(layout_from_part_sizes(10, vec![4, 5]), Err(PartsFinding::Contradiction(_))));
        assert!(matches!(layout_from_part_sizes(10, vec![]), Err(PartsFinding::Contradiction(_))));
        assert!(matches!(
            layout_from_part_sizes(10, vec![u64::MAX, 11]),
            Err(PartsFinding::Contradiction(_))
        ));
    }
}
