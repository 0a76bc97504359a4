//! Candidate layouts for a file of known size and a remote ETag.
//!
//! A `-N` ETag fixes the part count, and N uniform parts of P bytes cover S bytes exactly when
//! ceil(S/P) = N, that is ceil(S/N) ≤ P ≤ floor((S−1)/(N−1)). The candidates are the part sizes in
//! that interval that something plausible would have chosen: the catalog's uploaders at their
//! defaults, whole MiB and whole MB, and ceil(S/N) with the roundings that uploaders apply to it.
//! Every candidate of one file is hashed in one pass by the engine.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use std::io::Read;
use std::path::Path;

use crate::engine::{self, EngineError, Progress, ReadOptions};
use crate::etag::Etag;
use crate::layout::{Layout, MAX_PARTS, MAX_PART_SIZE, MIB, MIN_PART_SIZE};
use crate::uploaders;
use crate::verify::VerifyError;

/// At most this many whole-MiB and this many whole-MB part sizes are tried per file; the interval
/// can hold thousands when N is small, and each candidate costs a hash of the whole file.
pub const MAX_WHOLE_SIZES: usize = 32;

/// The smallest minimum part size of the S3-compatible stores etagsum knows: 5 MB (Backblaze B2);
/// S3's own is 5 MiB.
const MIN_PART_SIZE_ANY_STORE: u64 = 5_000_000;

/// The inclusive range of uniform part sizes that split `size` bytes into exactly N parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// The smallest such part size.
    pub min: u64,
    /// The largest such part size; `u64::MAX` for one part (any size at least the object's will do).
    pub max: u64,
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.max == u64::MAX {
            write!(f, "{} bytes or more", self.min)
        } else {
            write!(f, "{} to {} bytes", self.min, self.max)
        }
    }
}

/// The part sizes that give exactly `parts` uniform parts for an object of `size` bytes, or `None`
/// when no uniform part size does.
pub fn part_size_interval(size: u64, parts: u32) -> Option<Interval> {
    let n = u64::from(parts);
    match n {
        0 => None,
        1 => Some(Interval { min: size.max(1), max: u64::MAX }),
        _ if size < n => None,
        _ => {
            let (min, max) = (size.div_ceil(n), (size - 1) / (n - 1));
            (min <= max).then_some(Interval { min, max })
        }
    }
}

/// Whether any upload within S3's limits (uniform or not: every part 5 MiB to 5 GiB but the last,
/// at most 10,000 parts) can split `size` bytes into `parts` parts.
pub fn feasible_within_s3_limits(size: u64, parts: u32) -> bool {
    let n = u64::from(parts);
    match n {
        0 => false,
        1 => size <= MAX_PART_SIZE,
        _ => {
            n <= MAX_PARTS
                && size > (n - 1).saturating_mul(MIN_PART_SIZE)
                && size <= n.saturating_mul(MAX_PART_SIZE)
        }
    }
}

/// Where a candidate layout came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Origin {
    /// An uploader of the catalog at its defaults.
    Uploader,
    /// ceil(S/N), or it rounded as uploaders round it.
    Rounding,
    /// A whole number of MiB.
    WholeMib,
    /// A whole number of MB (1,000,000 bytes).
    WholeMb,
    /// A whole number of KiB or KB, tried when the interval holds few of them.
    WholeKib,
    /// The only layout a single-part or `-1` ETag allows.
    Fixed,
}

/// One layout to try.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The layout.
    #[serde(skip)]
    pub layout: Layout,
    /// The catalog uploaders whose default layout for this size has the same parts.
    pub uploaders: Vec<&'static str>,
    /// Why it is tried.
    pub origin: Origin,
}

/// Every layout worth trying for one file and one remote ETag.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// The uniform part sizes that give the ETag's part count (`None` for a single-part ETag, or when
    /// no uniform part size gives that count).
    pub interval: Option<Interval>,
    /// The layouts to try, most plausible first.
    pub candidates: Vec<Candidate>,
    /// Whole-MiB, MB, KiB and KB part sizes of the interval (within S3's limits) left untried
    /// because of [`MAX_WHOLE_SIZES`].
    pub omitted: u64,
}

/// The layouts to try for an object of `size` bytes whose ETag is `etag`.
pub fn candidates(size: u64, etag: &Etag) -> Candidates {
    candidates_for_parts(size, etag.parts())
}

/// The layouts to try for an object of `size` bytes uploaded in `parts` parts (`None`: a single
/// PUT), as a multipart ETag's `-N` or a composite checksum's says.
pub fn candidates_for_parts(size: u64, parts: Option<u32>) -> Candidates {
    let predicted = uploaders::predicted_layouts(size);
    let who = |layout: &Layout| uploaders::consistent_with(layout, size);
    let Some(parts) = parts else {
        let layout = Layout::Single;
        let uploaders = who(&layout);
        return Candidates {
            interval: None,
            candidates: vec![Candidate { layout, uploaders, origin: Origin::Fixed }],
            omitted: 0,
        };
    };
    let interval = part_size_interval(size, parts);
    if parts == 1 {
        // Every part size of at least the object's size gives the same single part: report the one
        // an uploader would have used, if any.
        let layout = predicted
            .iter()
            .map(|(l, _)| l)
            .find(|l| l.is_multipart() && l.part_count(size) == Ok(1))
            .cloned()
            .unwrap_or(Layout::Uniform { part_size: size.max(1) });
        let uploaders = who(&layout);
        return Candidates {
            interval,
            candidates: vec![Candidate { layout, uploaders, origin: Origin::Fixed }],
            omitted: 0,
        };
    }
    let Some(iv) = interval else {
        // No uniform layout gives N parts; an uploader with uneven parts (goofys) still might.
        let candidates = predicted
            .iter()
            .filter(|(l, _)| l.is_multipart() && l.part_count(size) == Ok(u64::from(parts)))
            .map(|(l, names)| Candidate {
                layout: l.clone(),
                uploaders: names.clone(),
                origin: Origin::Uploader,
            })
            .collect();
        return Candidates { interval: None, candidates, omitted: 0 };
    };

    let mut out: Vec<Candidate> = Vec::new();
    let mut seen: BTreeSet<Layout> = BTreeSet::new();
    let mut push = |layout: Layout, origin: Origin, out: &mut Vec<Candidate>| {
        if seen.insert(layout.clone()) {
            let uploaders = who(&layout);
            out.push(Candidate { layout, uploaders, origin });
        }
    };
    for (layout, _) in &predicted {
        if layout.is_multipart() && layout.part_count(size) == Ok(u64::from(parts)) {
            push(layout.clone(), Origin::Uploader, &mut out);
        }
    }
    let base = iv.min;
    let mut roundings = vec![base, size / u64::from(parts) + 1];
    for unit in [1 << 10, 4 << 10, 64 << 10, MIB, 1_000_000, 8 * MIB, 16 * MIB] {
        roundings.push(base.div_ceil(unit).saturating_mul(unit));
    }
    for p in roundings {
        if (iv.min..=iv.max).contains(&p) {
            push(Layout::Uniform { part_size: p }, Origin::Rounding, &mut out);
        }
    }
    // Whole units from 5 MB on: 5 MiB is S3's minimum, 5,000,000 bytes that of other stores (B2).
    let lo = iv.min.max(MIN_PART_SIZE_ANY_STORE);
    let hi = iv.max.min(MAX_PART_SIZE);
    let mut omitted = 0;
    for (unit, origin) in [
        (MIB, Origin::WholeMib),
        (1_000_000, Origin::WholeMb),
        (1 << 10, Origin::WholeKib),
        (1000, Origin::WholeKib),
    ] {
        let (first, last) = (lo.div_ceil(unit), hi / unit);
        if first > last {
            continue;
        }
        // Whole KiB and KB are worth a try only in a narrow interval (a large part count).
        if unit < MIB && last - first >= MAX_WHOLE_SIZES as u64 {
            omitted += last - first + 1;
            continue;
        }
        let mut ks: Vec<u64> = (first..=last).collect();
        if ks.len() > MAX_WHOLE_SIZES {
            omitted += (ks.len() - MAX_WHOLE_SIZES) as u64;
            // Keep the roundest: sizes people pick are powers of two and multiples of 5 or 10.
            ks.sort_by_key(|&k| (std::cmp::Reverse(roundness(k)), k));
            ks.truncate(MAX_WHOLE_SIZES);
            ks.sort_unstable();
        }
        for k in ks {
            push(Layout::Uniform { part_size: k * unit }, origin, &mut out);
        }
    }
    Candidates { interval, candidates: out, omitted }
}

/// What [`guess_reader`] found: every candidate that reproduces the ETag.
#[derive(Clone, Debug)]
pub struct Guess {
    /// The object's size.
    pub size: u64,
    /// The candidates tried, with what they gave.
    pub candidates: Candidates,
    /// The number of candidates hashed.
    pub tried: usize,
    /// The candidates that reproduce the ETag.
    pub matches: Vec<Candidate>,
    /// Whether any upload within S3's limits can give the ETag's part count for this size.
    pub feasible: bool,
}

/// Hashes every candidate layout of the file at `path` in one pass and keeps those that reproduce
/// `etag`.
///
/// A file whose size is not known before reading (a pipe) cannot be guessed from: the part-size
/// interval needs the size ([`VerifyError::SizeUnknown`]); read it with [`guess_reader`] and the
/// size from elsewhere.
pub fn guess_path(
    path: &Path,
    etag: &Etag,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Guess, VerifyError> {
    let (file, size) = engine::open(path)?;
    let size = size.ok_or(VerifyError::SizeUnknown)?;
    Ok(guess_with(size, etag, |layouts, size| engine::hash_file(&file, Some(size), layouts, read, progress))?)
}

/// Like [`guess_path`], for a source of `size` bytes.
pub fn guess_reader<R: Read + Send>(
    reader: R,
    size: u64,
    etag: &Etag,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Guess, EngineError> {
    guess_with(size, etag, |layouts, size| engine::hash_reader(reader, Some(size), layouts, read, progress))
}

fn guess_with(
    size: u64,
    etag: &Etag,
    hash: impl FnOnce(&[Layout], u64) -> Result<engine::Hashed, EngineError>,
) -> Result<Guess, EngineError> {
    let candidates = candidates(size, etag);
    let layouts: Vec<Layout> = candidates.candidates.iter().map(|c| c.layout.clone()).collect();
    let hashed = hash(&layouts, size)?;
    let matches = candidates
        .candidates
        .iter()
        .zip(&hashed.etags)
        .filter(|(_, e)| e.as_ref().ok() == Some(etag))
        .map(|(c, _)| c.clone())
        .collect();
    let tried = hashed.etags.iter().filter(|e| e.is_ok()).count();
    let feasible = feasible_within_s3_limits(size, etag.parts().unwrap_or(1));
    Ok(Guess { size, candidates, tried, matches, feasible })
}

/// How round a count of units is, for choosing which whole sizes to try first.
fn roundness(k: u64) -> u32 {
    let binary = k.trailing_zeros();
    let mut decimal = 0;
    let mut d = k;
    while d > 0 && d.is_multiple_of(10) {
        decimal += 1;
        d /= 10;
    }
    binary.max(decimal * 3) + u32::from(k.is_multiple_of(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etag(n: u32) -> Etag {
        format!("00000000000000000000000000000000-{n}").parse().unwrap()
    }

    #[test]
    fn interval_is_exact() {
        // 20 MiB in 3 parts: from ceil(20/3) MiB to floor((20 MiB - 1) / 2).
        let iv = part_size_interval(20 * MIB, 3).unwrap();
        assert_eq!(iv, Interval { min: (20 * MIB).div_ceil(3), max: (20 * MIB - 1) / 2 });
        for p in [iv.min, iv.max] {
            assert_eq!((20 * MIB).div_ceil(p), 3);
        }
        assert_eq!((20 * MIB).div_ceil(iv.min - 1), 4);
        assert_eq!((20 * MIB).div_ceil(iv.max + 1), 2);
        assert_eq!(part_size_interval(5, 10), None);
        assert_eq!(part_size_interval(0, 2), None);
        // 10 bytes cannot be 6 parts of a uniform size: 2 gives 5 parts, 1 gives 10.
        assert_eq!(part_size_interval(10, 6), None);
        assert_eq!(part_size_interval(7, 1), Some(Interval { min: 7, max: u64::MAX }));
    }

    #[test]
    fn feasibility_follows_s3_limits() {
        assert!(feasible_within_s3_limits(10 * MIB + 1, 3));
        assert!(!feasible_within_s3_limits(10 * MIB, 3));
        assert!(!feasible_within_s3_limits(1, 2));
        assert!(feasible_within_s3_limits(0, 1));
        assert!(!feasible_within_s3_limits(11 << 30, 2));
    }

    #[test]
    fn aws_cli_layout_is_the_first_candidate() {
        let size = 100 * MIB + 7;
        let c = candidates(size, &etag(13));
        assert_eq!(c.candidates[0].layout, Layout::Uniform { part_size: 8 * MIB });
        assert!(c.candidates[0].uploaders.contains(&"aws-cli"));
        for cand in &c.candidates {
            assert_eq!(cand.layout.part_count(size), Ok(13), "{:?}", cand.layout);
        }
        let sizes: Vec<u64> = c.candidates.iter().filter_map(|c| c.layout.part_size()).collect();
        assert!(sizes.contains(&8_000_000) || (100 * MIB + 7).div_ceil(8_000_000) != 13);
    }

    #[test]
    fn narrow_intervals_try_whole_kib_and_kb() {
        // rclone --s3-chunk-size 5376k (5.25 MiB) and the aws cli at 5300000 bytes on 1 GiB.
        for part in [5376 << 10, 5_300_000] {
            let size = (1u64 << 30) + 7;
            let n = size.div_ceil(part) as u32;
            let c = candidates(size, &etag(n));
            assert!(c.candidates.iter().any(|c| c.layout == Layout::Uniform { part_size: part }), "{part}");
        }
    }

    #[test]
    fn wide_intervals_are_bounded_and_say_so() {
        let size = 5 << 30;
        let c = candidates(size, &etag(2));
        assert!(c.candidates.len() <= 2 * MAX_WHOLE_SIZES + 20);
        assert!(c.omitted > 1000, "{}", c.omitted);
        assert!(c.candidates.iter().any(|c| c.layout == Layout::Uniform { part_size: 4 << 30 }));
    }

    #[test]
    fn single_and_one_part_etags_have_one_candidate() {
        let single: Etag = "00000000000000000000000000000000".parse().unwrap();
        assert_eq!(candidates(8 * MIB, &single).candidates[0].layout, Layout::Single);
        let one = candidates(8 * MIB, &etag(1));
        assert_eq!(one.candidates.len(), 1);
        assert_eq!(one.candidates[0].layout.part_count(8 * MIB), Ok(1));
        assert!(one.candidates[0].uploaders.contains(&"aws-cli"));
    }
}
