//! Part layouts: how an object's bytes were split into the parts of an upload.
//!
//! A layout is independent of any file: [`Layout::part_ranges`] turns it into exact byte ranges for
//! an object of a given size, following S3's rules (no empty trailing part at an exact multiple of the
//! part size; a forced multipart layout of an object that fits one part is a one-part upload).

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// One mebibyte, 1,048,576 bytes.
pub const MIB: u64 = 1 << 20;
/// One gibibyte.
pub const GIB: u64 = 1 << 30;
/// The smallest part S3 accepts, except for the last part of an upload.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * GIB;
/// The largest number of parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// The largest object a single PUT can write.
pub const MAX_SINGLE_PUT: u64 = 5 * GIB;
/// The largest object S3 stores (48.8 TiB).
pub const MAX_OBJECT_SIZE: u64 = 53_687_091_200_000;

/// How an object was uploaded: in one request, or in parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// One PUT (or POST, or CopyObject): the ETag is the MD5 of the bytes.
    Single,
    /// A multipart upload with parts of `part_size` bytes; the last part may be shorter. Built with
    /// [`Layout::uniform`], which refuses a zero part size.
    #[non_exhaustive]
    Uniform {
        /// Bytes in every part but the last.
        part_size: u64,
    },
    /// A multipart upload with exactly these part sizes, in order. Built with
    /// [`Layout::explicit`], which refuses an empty list.
    #[non_exhaustive]
    Explicit {
        /// The size of each part, in upload order.
        part_sizes: Vec<u64>,
    },
}

/// Why a layout cannot describe an object of a given size.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A part size of zero bytes was given.
    #[error("a part size of 0 bytes cannot split anything; give a part size of at least 1 byte (S3 wants 5 MiB or more)")]
    ZeroPartSize,
    /// An explicit list of part sizes was empty.
    #[error("an explicit list of part sizes needs at least one part")]
    NoParts,
    /// Explicit part sizes that do not add up to the object's size.
    #[error("the part sizes add up to {}, but the object has {}", sum_text(*.sum), plural(*.size, "byte"))]
    SumMismatch {
        /// The sum of the part sizes; `None` when it is more than 2^64 − 1.
        sum: Option<u64>,
        /// The object's size.
        size: u64,
    },
}

/// "1 byte", "2 parts": a count and its noun, which is plural unless the count is 1.
pub(crate) fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "8 bytes", or "more than 18446744073709551615 bytes" for a sum past 64 bits.
pub(crate) fn sum_text(sum: Option<u64>) -> String {
    match sum {
        Some(s) => plural(s, "byte"),
        None => "more than 18446744073709551615 bytes".to_string(),
    }
}

/// The sum of part sizes, `None` past 2^64 − 1.
pub(crate) fn checked_sum(parts: &[u64]) -> Option<u64> {
    parts.iter().try_fold(0u64, |a, &b| a.checked_add(b))
}

/// A way in which a layout breaks S3's limits. Some S3-compatible stores accept such uploads, so
/// these are warnings: the layout is still computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum LimitWarning {
    /// A part other than the last is smaller than 5 MiB.
    PartTooSmall {
        /// 1-based part number.
        part: u64,
        /// Its size.
        size: u64,
    },
    /// A part is larger than 5 GiB.
    PartTooLarge {
        /// 1-based part number.
        part: u64,
        /// Its size.
        size: u64,
    },
    /// More than 10,000 parts.
    TooManyParts {
        /// The number of parts.
        parts: u64,
    },
    /// A single PUT of more than 5 GiB.
    SingleTooLarge {
        /// The object's size.
        size: u64,
    },
    /// An empty part that is not the only part.
    EmptyPart {
        /// 1-based part number.
        part: u64,
    },
}

impl fmt::Display for LimitWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LimitWarning::PartTooSmall { part, size } => write!(
                f,
                "part {part} has {}; S3 requires at least 5 MiB (5242880 bytes) for every part but the last",
                plural(size, "byte")
            ),
            LimitWarning::PartTooLarge { part, size } => {
                write!(f, "part {part} has {size} bytes; S3 allows at most 5 GiB (5368709120 bytes) per part")
            }
            LimitWarning::TooManyParts { parts } => {
                write!(f, "{parts} parts; S3 allows at most 10000 parts")
            }
            LimitWarning::SingleTooLarge { size } => write!(
                f,
                "a single PUT of {size} bytes; S3 allows at most 5 GiB (5368709120 bytes) in one PUT"
            ),
            LimitWarning::EmptyPart { part } => {
                write!(f, "part {part} is empty; only a one-part upload may have an empty part")
            }
        }
    }
}

impl Layout {
    /// A uniform multipart layout, refusing a zero part size.
    pub fn uniform(part_size: u64) -> Result<Layout, LayoutError> {
        if part_size == 0 {
            return Err(LayoutError::ZeroPartSize);
        }
        Ok(Layout::Uniform { part_size })
    }

    /// An explicit multipart layout; it needs at least one part.
    pub fn explicit(part_sizes: Vec<u64>) -> Result<Layout, LayoutError> {
        if part_sizes.is_empty() {
            return Err(LayoutError::NoParts);
        }
        Ok(Layout::Explicit { part_sizes })
    }

    /// Whether this is a multipart layout (its ETag ends in `-N`).
    pub fn is_multipart(&self) -> bool {
        !matches!(self, Layout::Single)
    }

    /// The number of parts for an object of `size` bytes: 1 for a single PUT and for a uniform layout
    /// of an empty object.
    pub fn part_count(&self, size: u64) -> Result<u64, LayoutError> {
        match self {
            Layout::Single => Ok(1),
            Layout::Uniform { part_size } => uniform_part_count(size, *part_size),
            Layout::Explicit { part_sizes } => {
                self.check_sum(size)?;
                Ok(part_sizes.len() as u64)
            }
        }
    }

    /// The uniform part size, if this layout has one.
    pub fn part_size(&self) -> Option<u64> {
        match self {
            Layout::Uniform { part_size } => Some(*part_size),
            _ => None,
        }
    }

    fn check_sum(&self, size: u64) -> Result<(), LayoutError> {
        if let Layout::Explicit { part_sizes } = self {
            if part_sizes.is_empty() {
                return Err(LayoutError::NoParts);
            }
            let sum = checked_sum(part_sizes);
            if sum != Some(size) {
                return Err(LayoutError::SumMismatch { sum, size });
            }
        }
        Ok(())
    }

    /// The exact byte ranges of the parts of an object of `size` bytes. A single PUT has one range;
    /// the empty object uploaded in parts has one empty part.
    pub fn part_ranges(&self, size: u64) -> Result<Vec<Range<u64>>, LayoutError> {
        match self {
            #[allow(clippy::single_range_in_vec_init)]
            Layout::Single => Ok(vec![0..size]),
            Layout::Uniform { part_size } => {
                let n = uniform_part_count(size, *part_size)?;
                Ok((0..n)
                    .map(|i| {
                        let start = i * part_size;
                        start..start.saturating_add(*part_size).min(size)
                    })
                    .collect())
            }
            Layout::Explicit { part_sizes } => {
                self.check_sum(size)?;
                let mut start = 0;
                Ok(part_sizes
                    .iter()
                    .map(|&len| {
                        let r = start..start + len;
                        start += len;
                        r
                    })
                    .collect())
            }
        }
    }

    /// The ways in which this layout of an object of `size` bytes breaks S3's limits.
    pub fn limit_warnings(&self, size: u64) -> Vec<LimitWarning> {
        let mut out = Vec::new();
        if let Layout::Single = self {
            if size > MAX_SINGLE_PUT {
                out.push(LimitWarning::SingleTooLarge { size });
            }
            return out;
        }
        let Ok(ranges) = self.part_ranges(size) else {
            return out;
        };
        let n = ranges.len() as u64;
        if n > MAX_PARTS {
            out.push(LimitWarning::TooManyParts { parts: n });
        }
        // Report the first offender of each kind only: one warning per kind is enough to act on.
        let last = ranges.len() - 1;
        if let Some((i, r)) =
            ranges.iter().enumerate().find(|(i, r)| *i != last && r.end - r.start < MIN_PART_SIZE)
        {
            out.push(LimitWarning::PartTooSmall { part: i as u64 + 1, size: r.end - r.start });
        }
        if let Some((i, r)) = ranges.iter().enumerate().find(|(_, r)| r.end - r.start > MAX_PART_SIZE) {
            out.push(LimitWarning::PartTooLarge { part: i as u64 + 1, size: r.end - r.start });
        }
        if n > 1 {
            if let Some((i, _)) = ranges.iter().enumerate().find(|(_, r)| r.is_empty()) {
                out.push(LimitWarning::EmptyPart { part: i as u64 + 1 });
            }
        }
        out
    }
}

/// ceil(size / part_size), at least 1 (the empty object is one empty part).
fn uniform_part_count(size: u64, part_size: u64) -> Result<u64, LayoutError> {
    if part_size == 0 {
        return Err(LayoutError::ZeroPartSize);
    }
    Ok(size.div_ceil(part_size).max(1))
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::Single => f.write_str("single part"),
            Layout::Uniform { part_size } => write!(f, "part size {}", crate::size::display_size(*part_size)),
            Layout::Explicit { part_sizes } => {
                f.write_str("part sizes ")?;
                for (i, p) in part_sizes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_empty_trailing_part_at_exact_multiple() {
        let l = Layout::uniform(8 * MIB).unwrap();
        assert_eq!(l.part_ranges(16 * MIB).unwrap(), vec![0..8 * MIB, 8 * MIB..16 * MIB]);
        assert_eq!(l.part_count(16 * MIB + 1).unwrap(), 3);
    }

    #[test]
    fn forced_multipart_of_small_and_empty_objects_is_one_part() {
        let l = Layout::uniform(8 * MIB).unwrap();
        assert_eq!(l.part_ranges(5).unwrap(), vec![0..5]);
        assert_eq!(l.part_ranges(0).unwrap(), vec![0..0]);
        assert!(l.limit_warnings(0).is_empty());
    }

    #[test]
    fn zero_part_size_is_an_error() {
        assert_eq!(Layout::uniform(0), Err(LayoutError::ZeroPartSize));
        assert_eq!(Layout::Uniform { part_size: 0 }.part_count(3), Err(LayoutError::ZeroPartSize));
    }

    #[test]
    fn explicit_sizes_must_add_up() {
        let l = Layout::explicit(vec![5, 3]).unwrap();
        assert_eq!(l.part_ranges(8).unwrap(), vec![0..5, 5..8]);
        assert_eq!(l.part_ranges(9), Err(LayoutError::SumMismatch { sum: Some(8), size: 9 }));
        assert_eq!(Layout::explicit(vec![]), Err(LayoutError::NoParts));
    }

    #[test]
    fn sums_past_64_bits_are_said_as_such() {
        let l = Layout::explicit(vec![u64::MAX, 2]).unwrap();
        let e = l.part_ranges(1).unwrap_err();
        assert_eq!(e, LayoutError::SumMismatch { sum: None, size: 1 });
        assert_eq!(
            e.to_string(),
            "the part sizes add up to more than 18446744073709551615 bytes, but the object has 1 byte"
        );
        assert_eq!(
            LimitWarning::PartTooSmall { part: 1, size: 1 }.to_string(),
            "part 1 has 1 byte; S3 requires at least 5 MiB (5242880 bytes) for every part but the last"
        );
    }

    #[test]
    fn limits_are_warnings() {
        let w = Layout::uniform(MIB).unwrap().limit_warnings(3 * MIB);
        assert_eq!(w, vec![LimitWarning::PartTooSmall { part: 1, size: MIB }]);
        let w = Layout::uniform(5 * MIB).unwrap().limit_warnings(5 * MIB * 10_001);
        assert_eq!(w, vec![LimitWarning::TooManyParts { parts: 10_001 }]);
        let w = Layout::uniform(6 * GIB).unwrap().limit_warnings(7 * GIB);
        assert_eq!(w, vec![LimitWarning::PartTooLarge { part: 1, size: 6 * GIB }]);
        assert_eq!(
            Layout::Single.limit_warnings(6 * GIB),
            vec![LimitWarning::SingleTooLarge { size: 6 * GIB }]
        );
        let w = Layout::explicit(vec![5 * MIB, 0, 1]).unwrap().limit_warnings(5 * MIB + 1);
        assert_eq!(
            w,
            vec![LimitWarning::PartTooSmall { part: 2, size: 0 }, LimitWarning::EmptyPart { part: 2 }]
        );
    }
}
