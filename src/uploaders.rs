//! The catalog of real uploaders: which tool splits an object of a given size into which parts.
//!
//! A multipart ETag depends on the exact part sizes, and S3 does not record them in the ETag. The
//! part sizes are a pure function of the object's size for every tool here, at its default
//! settings, so knowing (or guessing) the uploader gives the layout to reproduce. Each entry is
//! data (when it goes multipart, its default part size, how it grows the part size for large files,
//! and the source code the rule was read from) plus pure functions over that data. Nothing here
//! reads a file.
//!
//! A tool run with non-default settings (`--part-size`, `multipart_chunksize`, ...) is not in the
//! catalog: give the part size explicitly instead. Neither are uploads of unknown size (standard
//! input, a pipe), for which rclone, minio-go and others use other rules; everything here is for a
//! local file whose size the tool knew.
//!
//! # The threshold decides the object of exactly that size
//!
//! Some tools switch to multipart at `size >= T`, others at `size > T` ([`Threshold`]). At exactly
//! `T` the first kind makes a one-part upload (an ETag ending in `-1`) and the second a single PUT
//! (a plain MD5), so a verifier must try both at such sizes; [`predicted_layouts`] lists both.
//!
//! # Where the tools differ from a one-line summary
//!
//! The rules below were checked against the tools' source; where a tool behaves differently from
//! its usual one-line description, the catalog follows the tool:
//!
//! - **s3transfer** (aws cli, boto3) doubles the part size first and clamps it to 5 MiB..=5 GiB
//!   second. A doubled part past 5 GiB (only for objects over 40,000 GiB) is clamped to 5 GiB, which
//!   still fits every object up to S3's maximum in 10,000 parts.
//! - **minio-go / mc** goes multipart when `size >= 16 MiB` (it does a single PUT only below its
//!   minimum part size), so a file of exactly 16 MiB is a one-part upload. Its part size is
//!   `ceil(size / 10000)` rounded up to a multiple of 16 MiB. Older releases rounded
//!   `floor(size / 10000)` instead; the two differ only where the floor needs 10,001 parts and that
//!   upload failed, so the ceiling form gives every layout either release could complete.
//! - **minio-py** is not minio-go: its minimum part size is 5 MiB, so it goes multipart above 5 MiB
//!   with parts of `ceil(size / 10000)` rounded up to a multiple of 5 MiB, and it refuses objects
//!   over 5 TiB. It has its own entry.
//! - **restic** hands minio-go a fixed part size of 200 MiB. minio-go then goes multipart at
//!   `size >= 200 MiB` and uses exactly 200 MiB parts with no large-file rule: it refuses objects
//!   that would need more than 10,000 parts (over 1,953.1 GiB). restic's pack files are much
//!   smaller than 200 MiB by default, so in practice its objects are single PUTs.
//! - **rclone** computes `floor(size / 10000)` rounded up to a whole MiB and adds one more MiB when
//!   that still needs 10,001 parts; that is exactly `ceil(size / 10000)` rounded up to a whole MiB.
//! - **JS SDK v3 before 2026-05** used `floor(size / 10000)` (releases before 2025-09 kept 5 MiB
//!   parts whatever the size), and **Cyberduck** uses integer division too: both can need 10,001
//!   parts. S3 refuses part numbers above 10,000, so no object of the file's size comes out of such
//!   an upload, and the catalog gives no layout there. For Cyberduck that is most sizes above
//!   10,000 × 10 MiB: the floor fits only when the size is a multiple of 10,000.
//! - **.NET v4** releases before 2026-02 used integer division as well and failed where it needed
//!   10,001 parts; the ceiling form kept here covers every upload that succeeded.
//! - **goofys** grows its parts as it writes: parts 1–500 of 5 MiB, 501–1000 of 25 MiB,
//!   1001–2000 of 125 MiB, then 625 MiB. Older releases grew 1000 parts of 5 MiB, 1000 of 25 MiB,
//!   then 125 MiB; they have their own entry, `goofys-legacy`. Below the first growth step the
//!   layout is uniform 5 MiB and is reported as such.
//! - **s3fs-fuse**: newer releases document a separate `multipart_threshold` option (default
//!   25 MiB), which would make files of 10 MiB to 25 MiB single PUTs; the entry follows the 10 MiB
//!   rule of the releases that split at the part size.
//! - **AWS CRT**: the rounding of the part size up to a multiple of 8 MiB arrived in aws-c-s3
//!   0.10.0; earlier CRT clients are `aws-crt-legacy`.
//!
//! # Not in the catalog
//!
//! The AWS console uploads large files in parts whose size follows no published rule (parts of
//! 17,179,870 bytes have been seen). Its objects can only be verified with the part size read from
//! S3 (`head-object --part-number 1`).

use std::fmt;

use serde::Serialize;

use crate::layout::{Layout, MAX_OBJECT_SIZE, MAX_PARTS, MAX_PART_SIZE, MAX_SINGLE_PUT, MIB, MIN_PART_SIZE};
use crate::size::display_size;

/// One tebibyte.
const TIB: u64 = 1 << 40;

/// When an uploader switches from a single PUT to a multipart upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "bytes", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Threshold {
    /// Multipart when the size is at least this many bytes: an object of exactly this size is a
    /// one-part upload (`-1`).
    AtLeast(u64),
    /// Multipart when the size is more than this many bytes: an object of exactly this size is a
    /// single PUT.
    Above(u64),
    /// Always multipart, even for an empty object (one empty part).
    Always,
}

impl Threshold {
    /// Whether an object of `size` bytes is uploaded in parts.
    pub fn is_multipart(self, size: u64) -> bool {
        match self {
            Threshold::AtLeast(t) => size >= t,
            Threshold::Above(t) => size > t,
            Threshold::Always => true,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Threshold::AtLeast(t) => write!(f, "size >= {}", display_size(t)),
            Threshold::Above(t) => write!(f, "size > {}", display_size(t)),
            Threshold::Always => f.write_str("always"),
        }
    }
}

/// One step of a growing part-size schedule: `parts` parts of `part_size` bytes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GrowthStep {
    /// How many parts this step covers; the last step of a schedule repeats up to the 10,000-part limit.
    pub parts: u64,
    /// The size of each of those parts (the object's last part may be shorter).
    pub part_size: u64,
}

/// How an uploader picks the part size for an object too large for its default part size.
///
/// `part` is the uploader's default part size, `S` the object's size, 10,000 S3's part limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LargeFileRule {
    /// Double `part` while `ceil(S / part) > 10000`, then clamp it to 5 MiB..=5 GiB (s3transfer).
    DoubleUntilFits,
    /// `max(part, ceil(S / 10000))`, exact bytes.
    CeilDiv,
    /// `max(part, ceil(S / 10000))` rounded up to a multiple of `multiple` bytes.
    CeilDivRoundUp {
        /// The part size is a whole number of these.
        multiple: u64,
    },
    /// `max(part, floor(S / 10000))`; where that needs 10,001 parts the upload fails.
    FloorDiv,
    /// If `S / part >= 10000` (integer division): `S / 10000 + 1` (the Go SDK's upload manager).
    GoPlusOne,
    /// The part size never changes: objects that need more than 10,000 parts cannot be uploaded.
    NoRule,
    /// Unequal parts that grow as the upload goes on, by a fixed schedule.
    Growing {
        /// The schedule, in upload order.
        steps: &'static [GrowthStep],
    },
}

/// A short form for tables, `S` standing for the object's size and `part` for the default part size:
/// `max(part, ceil(S/10000))`.
impl fmt::Display for LargeFileRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LargeFileRule::DoubleUntilFits => f.write_str("double until <= 10000 parts"),
            LargeFileRule::CeilDiv => f.write_str("max(part, ceil(S/10000))"),
            LargeFileRule::CeilDivRoundUp { multiple } => {
                write!(f, "max(part, ceil(S/10000)) in {} units", display_size(multiple))
            }
            LargeFileRule::FloorDiv => f.write_str("max(part, floor(S/10000))"),
            LargeFileRule::GoPlusOne => f.write_str("S/10000+1 if S/part >= 10000"),
            LargeFileRule::NoRule => f.write_str("none (at most 10000 parts)"),
            LargeFileRule::Growing { steps } => {
                for (i, step) in steps.iter().enumerate() {
                    if i + 1 == steps.len() {
                        write!(f, "then {}", display_size(step.part_size))?;
                    } else {
                        write!(f, "{} x {}, ", step.parts, display_size(step.part_size))?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A real uploader at its default settings: when it goes multipart and which parts it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Uploader {
    /// Short, stable name for the command line, e.g. `aws-cli`.
    pub name: &'static str,
    /// Other names accepted by [`find`], e.g. `boto3`.
    pub aliases: &'static [&'static str],
    /// The tools and libraries that upload this way, in one line.
    pub tools: &'static str,
    /// When it switches from a single PUT to a multipart upload.
    pub threshold: Threshold,
    /// Its default part size in bytes.
    pub part_size: u64,
    /// How it sizes the parts of objects too large for the default part size.
    pub large_files: LargeFileRule,
    /// The largest object it uploads; larger ones it refuses.
    pub max_object_size: u64,
    /// Where the rule was read: repository and file.
    pub source: &'static str,
}

impl Uploader {
    /// Whether it uploads an object of `size` bytes in parts.
    pub fn is_multipart(&self, size: u64) -> bool {
        self.threshold.is_multipart(size)
    }

    /// The layout it gives an object of `size` bytes at its defaults, or `None` when it cannot
    /// upload that object (more than 10,000 parts, a part outside 5 MiB..=5 GiB, a single PUT over
    /// 5 GiB, an object larger than it or S3 accepts).
    pub fn layout(&self, size: u64) -> Option<Layout> {
        if size > self.max_object_size {
            return None;
        }
        if !self.is_multipart(size) {
            return (size <= MAX_SINGLE_PUT).then_some(Layout::Single);
        }
        match self.large_files {
            LargeFileRule::Growing { steps } => growing_layout(size, steps),
            _ => self.part_size_for(size).map(|part_size| Layout::Uniform { part_size }),
        }
    }

    /// The part size it would use for a multipart upload of `size` bytes, ignoring the threshold;
    /// `None` when its parts for that size are not all equal (goofys past its first step) or when
    /// it cannot upload that object.
    pub fn part_size_for(&self, size: u64) -> Option<u64> {
        let default = self.part_size;
        // Zero sizes cannot come from the catalog, only from an edited copy of an entry.
        if size > self.max_object_size || default == 0 {
            return None;
        }
        let part = match self.large_files {
            LargeFileRule::DoubleUntilFits => {
                let mut part = default;
                while size.div_ceil(part) > MAX_PARTS {
                    part = part.checked_mul(2)?;
                }
                part.clamp(MIN_PART_SIZE, MAX_PART_SIZE)
            }
            LargeFileRule::CeilDiv => default.max(size.div_ceil(MAX_PARTS)),
            LargeFileRule::CeilDivRoundUp { multiple } => {
                default.max(size.div_ceil(MAX_PARTS)).checked_next_multiple_of(multiple)?
            }
            LargeFileRule::FloorDiv => default.max(size / MAX_PARTS),
            LargeFileRule::GoPlusOne => {
                if size / default >= MAX_PARTS {
                    size / MAX_PARTS + 1
                } else {
                    default
                }
            }
            LargeFileRule::NoRule => default,
            LargeFileRule::Growing { steps } => {
                return match growing_layout(size, steps)? {
                    Layout::Uniform { part_size } => Some(part_size),
                    _ => None,
                };
            }
        };
        let fits = (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part) && size.div_ceil(part) <= MAX_PARTS;
        fits.then_some(part)
    }

    /// Whether it could have produced `layout` for an object of `size` bytes at its defaults.
    ///
    /// Layouts are compared by the byte ranges they give, not by how they are written: a one-part
    /// upload of 8 MiB is the same upload whether the nominal part size was 8 MiB or 16 MiB, and
    /// explicit part sizes that happen to be equal are the same as a uniform layout.
    pub fn produces(&self, layout: &Layout, size: u64) -> bool {
        self.layout(size).is_some_and(|mine| same_upload(&mine, layout, size))
    }
}

/// The parts of a growing schedule for an object of `size` bytes, as the simplest layout that
/// describes them: uniform while every part but the last has the first part's size.
fn growing_layout(size: u64, steps: &[GrowthStep]) -> Option<Layout> {
    let nominal = steps.first()?.part_size;
    let mut sizes: Vec<u64> = Vec::new();
    let mut left = size;
    for step in steps {
        if left == 0 {
            break;
        }
        if step.part_size == 0 {
            return None;
        }
        // This step's whole parts, then, if the object ends inside the step, its short last part.
        let whole = (left / step.part_size).min(step.parts);
        let short = if whole < step.parts { left - whole * step.part_size } else { 0 };
        let count = whole + u64::from(short > 0);
        if sizes.len() as u64 + count > MAX_PARTS {
            return None;
        }
        sizes.extend(std::iter::repeat_n(step.part_size, whole as usize));
        if short > 0 {
            sizes.push(short);
        }
        left -= whole * step.part_size + short;
    }
    if left > 0 {
        return None;
    }
    let Some((&last, body)) = sizes.split_last() else {
        // The empty object: one empty part.
        return Some(Layout::Uniform { part_size: nominal });
    };
    let first = sizes[0];
    if body.is_empty() {
        Some(Layout::Uniform { part_size: nominal })
    } else if body.iter().all(|&p| p == first) && last <= first {
        Some(Layout::Uniform { part_size: first })
    } else {
        Some(Layout::Explicit { part_sizes: sizes })
    }
}

/// Whether two layouts give the same upload of an object of `size` bytes: both single PUTs, or
/// multipart uploads with the same byte ranges.
fn same_upload(a: &Layout, b: &Layout, size: u64) -> bool {
    let (n, m) = match (a.part_count(size), b.part_count(size)) {
        (Ok(n), Ok(m)) => (n, m),
        _ => return false,
    };
    match (a, b) {
        (Layout::Single, Layout::Single) => true,
        (Layout::Single, _) | (_, Layout::Single) => false,
        // Equal counts of equal parts are equal ranges; one part is the whole object either way.
        (Layout::Uniform { part_size: p }, Layout::Uniform { part_size: q }) => n == m && (n == 1 || p == q),
        // Count first: a tiny part size on a large object would otherwise build millions of ranges,
        // and no uploader here makes more than 10,000 parts.
        _ => n == m && n <= MAX_PARTS && a.part_ranges(size) == b.part_ranges(size),
    }
}

/// goofys (newer releases): 500 parts of 5 MiB, 500 of 25 MiB, 1000 of 125 MiB, then 625 MiB.
const GOOFYS_STEPS: &[GrowthStep] = &[
    GrowthStep { parts: 500, part_size: 5 * MIB },
    GrowthStep { parts: 500, part_size: 25 * MIB },
    GrowthStep { parts: 1000, part_size: 125 * MIB },
    GrowthStep { parts: MAX_PARTS, part_size: 625 * MIB },
];

/// goofys (older releases): 1000 parts of 5 MiB, 1000 of 25 MiB, then 125 MiB.
const GOOFYS_LEGACY_STEPS: &[GrowthStep] = &[
    GrowthStep { parts: 1000, part_size: 5 * MIB },
    GrowthStep { parts: 1000, part_size: 25 * MIB },
    GrowthStep { parts: MAX_PARTS, part_size: 125 * MIB },
];

static CATALOG: &[Uploader] = &[
    Uploader {
        name: "aws-cli",
        aliases: &["boto3", "s3transfer"],
        tools: "aws cli v1/v2 (classic transfer client), boto3 upload_file, s3transfer",
        threshold: Threshold::AtLeast(8 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::DoubleUntilFits,
        max_object_size: MAX_OBJECT_SIZE,
        source: "boto/s3transfer utils.py ChunksizeAdjuster, upload.py",
    },
    Uploader {
        name: "aws-crt",
        aliases: &[],
        tools: "AWS CRT since aws-c-s3 0.10.0: aws cli v2 and boto3 on CRT, Java SDK v2 CRT client",
        threshold: Threshold::Above(8 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::CeilDivRoundUp { multiple: 8 * MIB },
        max_object_size: MAX_OBJECT_SIZE,
        source: "awslabs/aws-c-s3 source/s3_util.c",
    },
    Uploader {
        name: "aws-crt-legacy",
        aliases: &[],
        tools: "AWS CRT before aws-c-s3 0.10.0 (no rounding to 8 MiB)",
        threshold: Threshold::Above(8 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "awslabs/aws-c-s3 source/s3_util.c",
    },
    Uploader {
        name: "java-v1",
        aliases: &[],
        tools: "AWS SDK for Java v1 TransferManager",
        threshold: Threshold::Above(16 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-java TransferManagerUtils",
    },
    Uploader {
        name: "java-v2",
        aliases: &[],
        tools: "AWS SDK for Java v2 multipart client",
        threshold: Threshold::Above(8 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-java-v2 GenericMultipartHelper",
    },
    Uploader {
        name: "go-sdk",
        aliases: &["terraform"],
        tools: "AWS SDK for Go v1/v2 manager.Uploader, Terraform aws_s3_object",
        threshold: Threshold::Above(5 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::GoPlusOne,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-go-v2 feature/s3/manager/upload.go",
    },
    Uploader {
        name: "go-transfermanager",
        aliases: &[],
        tools: "AWS SDK for Go v2 transfermanager",
        threshold: Threshold::AtLeast(16 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::GoPlusOne,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-go-v2 feature/s3/transfermanager",
    },
    Uploader {
        name: "s5cmd",
        aliases: &[],
        tools: "s5cmd cp",
        threshold: Threshold::Above(50 * MIB),
        part_size: 50 * MIB,
        large_files: LargeFileRule::GoPlusOne,
        max_object_size: MAX_OBJECT_SIZE,
        source: "peak/s5cmd command/cp.go",
    },
    Uploader {
        name: "js-v3",
        aliases: &[],
        tools: "AWS SDK for JavaScript v3 @aws-sdk/lib-storage Upload (2026-05 and later)",
        threshold: Threshold::Above(5 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-js-v3 lib/lib-storage/src/Upload.ts",
    },
    Uploader {
        name: "js-v3-legacy",
        aliases: &[],
        tools: "@aws-sdk/lib-storage Upload before 2026-05 (floor(size / 10000))",
        threshold: Threshold::Above(5 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::FloorDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-js-v3 lib/lib-storage/src/Upload.ts",
    },
    Uploader {
        name: "dotnet-v3",
        aliases: &["powershell"],
        tools: "AWS SDK for .NET v3 TransferUtility, PowerShell Write-S3Object",
        threshold: Threshold::AtLeast(16 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-net TransferUtilityConfig.cs",
    },
    Uploader {
        name: "dotnet-v4",
        aliases: &[],
        tools: "AWS SDK for .NET v4 TransferUtility",
        threshold: Threshold::AtLeast(16 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-net TransferUtilityConfig.cs",
    },
    Uploader {
        name: "ruby",
        aliases: &[],
        tools: "AWS SDK for Ruby upload_file",
        threshold: Threshold::AtLeast(100 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-ruby multipart_file_uploader.rb",
    },
    Uploader {
        name: "ruby-legacy",
        aliases: &[],
        tools: "AWS SDK for Ruby upload_file, older releases (15 MiB threshold)",
        threshold: Threshold::AtLeast(15 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-ruby multipart_file_uploader.rb",
    },
    Uploader {
        name: "php",
        aliases: &[],
        tools: "AWS SDK for PHP MultipartUploader",
        threshold: Threshold::AtLeast(16 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "aws-sdk-php MultipartUploader.php",
    },
    Uploader {
        name: "rust-transfer-manager",
        aliases: &[],
        tools: "Rust aws-sdk-s3-transfer-manager",
        threshold: Threshold::AtLeast(16 * MIB),
        part_size: 8 * MIB,
        large_files: LargeFileRule::CeilDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "awslabs/aws-s3-transfer-manager-rs upload.rs",
    },
    Uploader {
        name: "rclone",
        aliases: &[],
        tools: "rclone (s3 backend, files of known size)",
        threshold: Threshold::AtLeast(200 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDivRoundUp { multiple: MIB },
        max_object_size: MAX_OBJECT_SIZE,
        source: "rclone backend/s3/s3.go, fs/chunksize",
    },
    Uploader {
        name: "s3cmd",
        aliases: &[],
        tools: "s3cmd put/sync",
        threshold: Threshold::Above(15 * MIB),
        part_size: 15 * MIB,
        large_files: LargeFileRule::NoRule,
        max_object_size: MAX_OBJECT_SIZE,
        source: "s3tools/s3cmd S3/Config.py, S3/MultiPart.py",
    },
    Uploader {
        name: "minio",
        aliases: &["mc", "minio-go"],
        tools: "minio-go PutObject/FPutObject, mc cp",
        threshold: Threshold::AtLeast(16 * MIB),
        part_size: 16 * MIB,
        large_files: LargeFileRule::CeilDivRoundUp { multiple: 16 * MIB },
        max_object_size: MAX_OBJECT_SIZE,
        source: "minio-go api-put-object-common.go OptimalPartInfo, api-put-object.go",
    },
    Uploader {
        name: "minio-py",
        aliases: &[],
        tools: "minio-py put_object/fput_object",
        threshold: Threshold::Above(5 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::CeilDivRoundUp { multiple: 5 * MIB },
        max_object_size: 5 * TIB,
        source: "minio-py minio/helpers.py get_part_info, minio/api.py put_object",
    },
    Uploader {
        name: "restic",
        aliases: &[],
        tools: "restic s3 backend (minio-go with a 200 MiB part size)",
        threshold: Threshold::AtLeast(200 * MIB),
        part_size: 200 * MIB,
        large_files: LargeFileRule::NoRule,
        max_object_size: MAX_OBJECT_SIZE,
        source: "restic internal/backend/s3/s3.go",
    },
    Uploader {
        name: "mountpoint",
        aliases: &["mount-s3"],
        tools: "Mountpoint for Amazon S3",
        threshold: Threshold::Always,
        part_size: 8 * MIB,
        large_files: LargeFileRule::NoRule,
        max_object_size: MAX_OBJECT_SIZE,
        source: "awslabs/mountpoint-s3",
    },
    Uploader {
        name: "s3fs",
        aliases: &["s3fs-fuse"],
        tools: "s3fs-fuse",
        threshold: Threshold::AtLeast(10 * MIB),
        part_size: 10 * MIB,
        large_files: LargeFileRule::NoRule,
        max_object_size: MAX_OBJECT_SIZE,
        source: "s3fs-fuse src/curl.cpp",
    },
    Uploader {
        name: "cyberduck",
        aliases: &[],
        tools: "Cyberduck",
        threshold: Threshold::Above(100 * MIB),
        part_size: 10 * MIB,
        large_files: LargeFileRule::FloorDiv,
        max_object_size: MAX_OBJECT_SIZE,
        source: "iterate-ch/cyberduck S3MultipartUploadService",
    },
    Uploader {
        name: "goofys",
        aliases: &[],
        tools: "goofys (parts grow 5, 25, 125, 625 MiB)",
        threshold: Threshold::AtLeast(5 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::Growing { steps: GOOFYS_STEPS },
        max_object_size: MAX_OBJECT_SIZE,
        source: "kahing/goofys internal/file.go",
    },
    Uploader {
        name: "goofys-legacy",
        aliases: &[],
        tools: "goofys, older releases (parts grow 5, 25, 125 MiB after 1000 and 2000 parts)",
        threshold: Threshold::AtLeast(5 * MIB),
        part_size: 5 * MIB,
        large_files: LargeFileRule::Growing { steps: GOOFYS_LEGACY_STEPS },
        max_object_size: MAX_OBJECT_SIZE,
        source: "kahing/goofys internal/file.go",
    },
];

/// Every uploader in the catalog, in a fixed order.
pub fn catalog() -> &'static [Uploader] {
    CATALOG
}

/// The uploader with this name or alias, ignoring ASCII case and surrounding spaces.
pub fn find(name: &str) -> Option<&'static Uploader> {
    let name = name.trim();
    CATALOG
        .iter()
        .find(|u| u.name.eq_ignore_ascii_case(name) || u.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
}

/// A name that is not in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown uploader '{0}'; expected one of: {list}", list = known_names())]
pub struct UnknownUploader(String);

impl UnknownUploader {
    /// The name that was asked for.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// Every name, each followed by its aliases in parentheses: `aws-cli (boto3, s3transfer), aws-crt, ...`.
fn known_names() -> String {
    let mut out = String::new();
    for (i, u) in CATALOG.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(u.name);
        if !u.aliases.is_empty() {
            out.push_str(" (");
            out.push_str(&u.aliases.join(", "));
            out.push(')');
        }
    }
    out
}

/// Like [`find`], with an error that lists the valid names.
pub fn lookup(name: &str) -> Result<&'static Uploader, UnknownUploader> {
    find(name).ok_or_else(|| UnknownUploader(name.to_string()))
}

/// Names of every catalog uploader that gives an object of `size` bytes the upload `layout`
/// describes, at its defaults, in catalog order (see [`Uploader::produces`]).
pub fn consistent_with(layout: &Layout, size: u64) -> Vec<&'static str> {
    CATALOG.iter().filter(|u| u.produces(layout, size)).map(|u| u.name).collect()
}

/// Every distinct upload the catalog predicts for an object of `size` bytes, each with the names of
/// the uploaders that make it. Uploads with the same byte ranges count once, written as the first
/// uploader in catalog order writes it. Sorted by layout: the single PUT first, then uniform part
/// sizes from small to large, then explicit layouts.
pub fn predicted_layouts(size: u64) -> Vec<(Layout, Vec<&'static str>)> {
    let mut out: Vec<(Layout, Vec<&'static str>)> = Vec::new();
    for u in CATALOG {
        let Some(layout) = u.layout(size) else { continue };
        match out.iter_mut().find(|(seen, _)| same_upload(seen, &layout, size)) {
            Some((_, names)) => names.push(u.name),
            None => out.push((layout, vec![u.name])),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::GIB;

    /// 100 GiB = 107,374,182,400 bytes: ceil(S / 10000) = 10,737,419, floor = 10,737,418.
    const G100: u64 = 100 * GIB;
    /// 1 TiB = 1,099,511,627,776 bytes: ceil(S / 10000) = 109,951,163, floor = 109,951,162.
    const T1: u64 = TIB;
    const SINGLE: Option<Layout> = Some(Layout::Single);

    fn uni(part_size: u64) -> Option<Layout> {
        Some(Layout::Uniform { part_size })
    }

    /// `(count, size)` runs of parts, spelled out.
    fn runs(runs: &[(u64, u64)]) -> Vec<u64> {
        runs.iter().flat_map(|&(n, p)| std::iter::repeat_n(p, n as usize)).collect()
    }

    /// Asserts the exact layout, and that a predicted layout keeps S3's limits and is recognised.
    fn check(name: &str, size: u64, want: Option<Layout>) {
        let u = find(name).unwrap_or_else(|| panic!("{name} is in the catalog"));
        let got = u.layout(size);
        assert_eq!(got, want, "{name} at {size} bytes");
        if let Some(layout) = &got {
            let parts = layout.part_count(size).unwrap();
            assert!(parts <= MAX_PARTS, "{name} at {size} bytes: {parts} parts");
            assert!(layout.limit_warnings(size).is_empty(), "{name} at {size} bytes: {layout}");
            assert!(u.produces(layout, size), "{name} at {size} bytes");
            assert!(consistent_with(layout, size).contains(&u.name), "{name} at {size} bytes");
        }
    }

    fn parts(name: &str, size: u64) -> u64 {
        find(name).unwrap().layout(size).unwrap().part_count(size).unwrap()
    }

    #[test]
    fn aws_cli() {
        check("aws-cli", 0, SINGLE);
        check("aws-cli", 1, SINGLE);
        check("aws-cli", 8 * MIB - 1, SINGLE);
        check("aws-cli", 8 * MIB, uni(8 * MIB)); // size >= 8 MiB: one part, a "-1" ETag
        check("aws-cli", 8 * MIB + 1, uni(8 * MIB)); // two parts

        // 102400 MiB / 8 = 12800 parts > 10000; / 16 = 6400
        check("aws-cli", G100, uni(16 * MIB));
        // 1048576 MiB / 8 = 131072 parts; / 16 = 65536; / 32 = 32768; / 64 = 16384; / 128 = 8192
        check("aws-cli", T1, uni(128 * MIB));
    }

    #[test]
    fn aws_cli_doubles_then_clamps_at_5_gib() {
        // 40000 GiB / 4 GiB = 10000 parts exactly: 4 GiB is enough.
        check("aws-cli", 40_000 * GIB, uni(4 * GIB));
        // One byte more: 10001 parts at 4 GiB, doubled to 8 GiB, clamped to 5 GiB: 8001 parts.
        check("aws-cli", 40_000 * GIB + 1, uni(5 * GIB));
        // S3's largest object, 5 GiB x 10000, still fits; one byte more does not exist on S3.
        check("aws-cli", MAX_OBJECT_SIZE, uni(5 * GIB));
        check("aws-cli", MAX_OBJECT_SIZE + 1, None);
    }

    #[test]
    fn aws_crt() {
        check("aws-crt", 0, SINGLE);
        check("aws-crt", 1, SINGLE);
        check("aws-crt", 8 * MIB - 1, SINGLE);
        check("aws-crt", 8 * MIB, SINGLE); // size > 8 MiB: exactly 8 MiB is one PUT
        check("aws-crt", 8 * MIB + 1, uni(8 * MIB));
        // ceil(S / 10000) = 10,737,419 > 8 MiB, rounded up to a multiple of 8 MiB: 16 MiB
        check("aws-crt", G100, uni(16 * MIB));
        // ceil(S / 10000) = 109,951,163 = 13.1 x 8 MiB, rounded up: 14 x 8 MiB = 112 MiB
        check("aws-crt", T1, uni(112 * MIB));
    }

    #[test]
    fn aws_crt_legacy() {
        check("aws-crt-legacy", 0, SINGLE);
        check("aws-crt-legacy", 1, SINGLE);
        check("aws-crt-legacy", 8 * MIB - 1, SINGLE);
        check("aws-crt-legacy", 8 * MIB, SINGLE);
        check("aws-crt-legacy", 8 * MIB + 1, uni(8 * MIB));
        check("aws-crt-legacy", G100, uni(10_737_419)); // ceil(S / 10000), exact bytes
        check("aws-crt-legacy", T1, uni(109_951_163));
        assert_eq!(parts("aws-crt-legacy", G100), 10_000);
    }

    #[test]
    fn java_v1() {
        check("java-v1", 0, SINGLE);
        check("java-v1", 1, SINGLE);
        check("java-v1", 16 * MIB - 1, SINGLE);
        check("java-v1", 16 * MIB, SINGLE); // size > 16 MiB
        check("java-v1", 16 * MIB + 1, uni(5 * MIB)); // ceil(S / 10000) = 1678 < 5 MiB: 4 parts
        check("java-v1", G100, uni(10_737_419)); // max(ceil(S / 10000), 5 MiB)
        check("java-v1", T1, uni(109_951_163));
    }

    #[test]
    fn java_v2() {
        check("java-v2", 0, SINGLE);
        check("java-v2", 1, SINGLE);
        check("java-v2", 8 * MIB - 1, SINGLE);
        check("java-v2", 8 * MIB, SINGLE); // size > 8 MiB
        check("java-v2", 8 * MIB + 1, uni(8 * MIB));
        check("java-v2", G100, uni(10_737_419)); // max(ceil(S / 10000), 8 MiB)
        check("java-v2", T1, uni(109_951_163));
    }

    #[test]
    fn go_sdk() {
        check("go-sdk", 0, SINGLE);
        check("go-sdk", 1, SINGLE);
        check("go-sdk", 5 * MIB - 1, SINGLE);
        check("go-sdk", 5 * MIB, SINGLE); // size > 5 MiB
        check("go-sdk", 5 * MIB + 1, uni(5 * MIB));
        // S / 5 MiB = 20480 >= 10000: S / 10000 + 1 = 10,737,418 + 1
        check("go-sdk", G100, uni(10_737_419));
        check("go-sdk", T1, uni(109_951_163)); // 109,951,162 + 1
    }

    #[test]
    fn go_transfermanager() {
        check("go-transfermanager", 0, SINGLE);
        check("go-transfermanager", 1, SINGLE);
        check("go-transfermanager", 16 * MIB - 1, SINGLE);
        check("go-transfermanager", 16 * MIB, uni(8 * MIB)); // size >= 16 MiB: two parts
        check("go-transfermanager", 16 * MIB + 1, uni(8 * MIB));
        check("go-transfermanager", G100, uni(10_737_419)); // S / 8 MiB = 12800 >= 10000: S / 10000 + 1
        check("go-transfermanager", T1, uni(109_951_163));
    }

    #[test]
    fn s5cmd() {
        check("s5cmd", 0, SINGLE);
        check("s5cmd", 1, SINGLE);
        check("s5cmd", 50 * MIB - 1, SINGLE);
        check("s5cmd", 50 * MIB, SINGLE); // size > 50 MiB
        check("s5cmd", 50 * MIB + 1, uni(50 * MIB));
        check("s5cmd", G100, uni(50 * MIB)); // S / 50 MiB = 2048 < 10000: the default stays
        check("s5cmd", T1, uni(109_951_163)); // S / 50 MiB = 20971 >= 10000: S / 10000 + 1
    }

    #[test]
    fn go_plus_one_differs_from_the_ceiling_at_exact_multiples() {
        // S = 10000 x 6 MiB: ceil(S / 10000) = 6 MiB, but the Go manager adds one byte.
        let s = 10_000 * 6 * MIB;
        check("go-sdk", s, uni(6 * MIB + 1));
        check("js-v3", s, uni(6 * MIB));
        check("js-v3-legacy", s, uni(6 * MIB)); // floor = ceil here: exactly 10000 parts
        assert_eq!(parts("go-sdk", s), 10_000);
        assert_eq!(parts("js-v3", s), 10_000);
        // One byte more: the floor needs 10001 parts (the upload failed); the ceiling adds a byte.
        check("js-v3-legacy", s + 1, None);
        check("js-v3", s + 1, uni(6 * MIB + 1));
        check("go-sdk", s + 1, uni(6 * MIB + 1)); // (S + 1) / 10000 + 1 = 6 MiB + 1
    }

    #[test]
    fn js_v3() {
        check("js-v3", 0, SINGLE);
        check("js-v3", 1, SINGLE);
        check("js-v3", 5 * MIB - 1, SINGLE);
        check("js-v3", 5 * MIB, SINGLE); // size > 5 MiB
        check("js-v3", 5 * MIB + 1, uni(5 * MIB));
        check("js-v3", G100, uni(10_737_419)); // max(5 MiB, ceil(S / 10000))
        check("js-v3", T1, uni(109_951_163));
    }

    #[test]
    fn js_v3_legacy() {
        check("js-v3-legacy", 0, SINGLE);
        check("js-v3-legacy", 1, SINGLE);
        check("js-v3-legacy", 5 * MIB - 1, SINGLE);
        check("js-v3-legacy", 5 * MIB, SINGLE);
        check("js-v3-legacy", 5 * MIB + 1, uni(5 * MIB));
        // floor(S / 10000) = 10,737,418; x 10000 = 107,374,180,000 < S: 10001 parts, S3 refuses part 10001
        check("js-v3-legacy", G100, None);
        // floor = 109,951,162; x 10000 = 1,099,511,620,000 < S: 10001 parts
        check("js-v3-legacy", T1, None);
        // Up to 10000 x 5 MiB the default part size is used, as with js-v3.
        check("js-v3-legacy", 10_000 * 5 * MIB, uni(5 * MIB));
    }

    #[test]
    fn dotnet_v3() {
        check("dotnet-v3", 0, SINGLE);
        check("dotnet-v3", 1, SINGLE);
        check("dotnet-v3", 16 * MIB - 1, SINGLE);
        check("dotnet-v3", 16 * MIB, uni(5 * MIB)); // size >= 16 MiB: 4 parts (5, 5, 5, 1 MiB)
        check("dotnet-v3", 16 * MIB + 1, uni(5 * MIB));
        check("dotnet-v3", G100, uni(10_737_419)); // max(5 MiB, ceil(S / 10000))
        check("dotnet-v3", T1, uni(109_951_163));
    }

    #[test]
    fn dotnet_v4() {
        check("dotnet-v4", 0, SINGLE);
        check("dotnet-v4", 1, SINGLE);
        check("dotnet-v4", 16 * MIB - 1, SINGLE);
        check("dotnet-v4", 16 * MIB, uni(8 * MIB)); // two parts
        check("dotnet-v4", 16 * MIB + 1, uni(8 * MIB));
        check("dotnet-v4", G100, uni(10_737_419)); // max(8 MiB, ceil(S / 10000))
        check("dotnet-v4", T1, uni(109_951_163));
    }

    #[test]
    fn ruby() {
        check("ruby", 0, SINGLE);
        check("ruby", 1, SINGLE);
        check("ruby", 100 * MIB - 1, SINGLE);
        check("ruby", 100 * MIB, uni(5 * MIB)); // size >= 100 MiB: 20 parts
        check("ruby", 100 * MIB + 1, uni(5 * MIB));
        check("ruby", G100, uni(10_737_419)); // max(ceil(S / 10000), 5 MiB)
        check("ruby", T1, uni(109_951_163));
    }

    #[test]
    fn ruby_legacy() {
        check("ruby-legacy", 0, SINGLE);
        check("ruby-legacy", 1, SINGLE);
        check("ruby-legacy", 15 * MIB - 1, SINGLE);
        check("ruby-legacy", 15 * MIB, uni(5 * MIB)); // size >= 15 MiB: 3 parts
        check("ruby-legacy", 15 * MIB + 1, uni(5 * MIB));
        check("ruby-legacy", G100, uni(10_737_419));
        check("ruby-legacy", T1, uni(109_951_163));
    }

    #[test]
    fn php() {
        check("php", 0, SINGLE);
        check("php", 1, SINGLE);
        check("php", 16 * MIB - 1, SINGLE);
        check("php", 16 * MIB, uni(5 * MIB)); // size >= 16 MiB
        check("php", 16 * MIB + 1, uni(5 * MIB));
        check("php", G100, uni(10_737_419)); // max(5 MiB, ceil(S / 10000))
        check("php", T1, uni(109_951_163));
    }

    #[test]
    fn rust_transfer_manager() {
        check("rust-transfer-manager", 0, SINGLE);
        check("rust-transfer-manager", 1, SINGLE);
        check("rust-transfer-manager", 16 * MIB - 1, SINGLE);
        check("rust-transfer-manager", 16 * MIB, uni(8 * MIB)); // size >= 16 MiB
        check("rust-transfer-manager", 16 * MIB + 1, uni(8 * MIB));
        check("rust-transfer-manager", G100, uni(10_737_419)); // max(8 MiB, ceil(S / 10000))
        check("rust-transfer-manager", T1, uni(109_951_163));
    }

    #[test]
    fn rclone() {
        check("rclone", 0, SINGLE);
        check("rclone", 1, SINGLE);
        check("rclone", 200 * MIB - 1, SINGLE);
        check("rclone", 200 * MIB, uni(5 * MIB)); // size >= 200 MiB: 40 parts
        check("rclone", 200 * MIB + 1, uni(5 * MIB));
        // S > 10000 x 5 MiB: 10,737,419 bytes = 10.24 MiB, up to a whole MiB: 11 MiB, 9310 parts
        check("rclone", G100, uni(11 * MIB));
        // 109,951,163 bytes = 104.86 MiB, up to 105 MiB: 1048576 / 105 = 9986.4, 9987 parts
        check("rclone", T1, uni(105 * MIB));
        assert_eq!(parts("rclone", T1), 9987);
        // Exactly 10000 x 5 MiB still fits the default; one byte more needs 6 MiB.
        check("rclone", 10_000 * 5 * MIB, uni(5 * MIB));
        check("rclone", 10_000 * 5 * MIB + 1, uni(6 * MIB));
        // floor(S / 10000) = 6 MiB exactly but S is not a multiple of 10000: rclone adds a MiB.
        check("rclone", 10_000 * 6 * MIB + 1, uni(7 * MIB));
    }

    #[test]
    fn s3cmd() {
        check("s3cmd", 0, SINGLE);
        check("s3cmd", 1, SINGLE);
        check("s3cmd", 15 * MIB - 1, SINGLE);
        check("s3cmd", 15 * MIB, SINGLE); // size > 15 MiB
        check("s3cmd", 15 * MIB + 1, uni(15 * MIB));
        check("s3cmd", G100, uni(15 * MIB)); // 102400 / 15 = 6826.7: 6827 parts
        check("s3cmd", T1, None); // 1048576 / 15 = 69905.1 parts: s3cmd refuses
        check("s3cmd", 10_000 * 15 * MIB, uni(15 * MIB));
        check("s3cmd", 10_000 * 15 * MIB + 1, None);
    }

    #[test]
    fn minio() {
        check("minio", 0, SINGLE);
        check("minio", 1, SINGLE);
        check("minio", 16 * MIB - 1, SINGLE);
        check("minio", 16 * MIB, uni(16 * MIB)); // single PUT only below 16 MiB: a "-1" ETag
        check("minio", 16 * MIB + 1, uni(16 * MIB));
        // ceil(S / 10000) = 10.24 MiB, up to 16 MiB: 6400 parts
        check("minio", G100, uni(16 * MIB));
        // ceil(S / 10000) = 109,951,163 = 6.55 x 16 MiB, up to 7 x 16 MiB = 112 MiB
        check("minio", T1, uni(112 * MIB));
    }

    #[test]
    fn minio_py() {
        check("minio-py", 0, SINGLE);
        check("minio-py", 1, SINGLE);
        check("minio-py", 5 * MIB - 1, SINGLE);
        check("minio-py", 5 * MIB, SINGLE); // one part of 5 MiB is sent as a single PUT
        check("minio-py", 5 * MIB + 1, uni(5 * MIB));
        check("minio-py", G100, uni(15 * MIB)); // 10,737,419 = 2.05 x 5 MiB, up to 3 x 5 MiB
        check("minio-py", T1, uni(105 * MIB)); // 109,951,163 = 20.97 x 5 MiB, up to 21 x 5 MiB
        check("minio-py", 5 * TIB + 1, None); // minio-py refuses objects over 5 TiB
    }

    #[test]
    fn restic() {
        check("restic", 0, SINGLE);
        check("restic", 1, SINGLE);
        check("restic", 200 * MIB - 1, SINGLE);
        check("restic", 200 * MIB, uni(200 * MIB)); // minio-go: single PUT only below the part size
        check("restic", 200 * MIB + 1, uni(200 * MIB));
        check("restic", G100, uni(200 * MIB)); // 102400 / 200 = 512 parts
        check("restic", T1, uni(200 * MIB)); // 1048576 / 200 = 5242.9: 5243 parts
        check("restic", 2 * TIB, None); // 10486 parts of a fixed 200 MiB: minio-go refuses
    }

    #[test]
    fn mountpoint() {
        check("mountpoint", 0, uni(8 * MIB)); // always multipart: the empty object is one empty part
        check("mountpoint", 1, uni(8 * MIB));
        check("mountpoint", 8 * MIB - 1, uni(8 * MIB));
        check("mountpoint", 8 * MIB, uni(8 * MIB));
        check("mountpoint", 8 * MIB + 1, uni(8 * MIB));
        check("mountpoint", G100, None); // 12800 parts of 8 MiB
        check("mountpoint", T1, None);
        check("mountpoint", 10_000 * 8 * MIB, uni(8 * MIB)); // 78.1 GiB, its largest object
        check("mountpoint", 10_000 * 8 * MIB + 1, None);
    }

    #[test]
    fn s3fs() {
        check("s3fs", 0, SINGLE);
        check("s3fs", 1, SINGLE);
        check("s3fs", 10 * MIB - 1, SINGLE);
        check("s3fs", 10 * MIB, uni(10 * MIB)); // size >= 10 MiB: one part
        check("s3fs", 10 * MIB + 1, uni(10 * MIB));
        check("s3fs", G100, None); // 102400 / 10 = 10240 parts
        check("s3fs", T1, None);
        check("s3fs", 10_000 * 10 * MIB, uni(10 * MIB));
    }

    #[test]
    fn cyberduck() {
        check("cyberduck", 0, SINGLE);
        check("cyberduck", 1, SINGLE);
        check("cyberduck", 100 * MIB - 1, SINGLE);
        check("cyberduck", 100 * MIB, SINGLE); // size > 100 MiB
        check("cyberduck", 100 * MIB + 1, uni(10 * MIB));
        check("cyberduck", G100, None); // S / 10000 = 10,737,418 (integer): 10001 parts
        check("cyberduck", T1, None); // 109,951,162: 10001 parts
        check("cyberduck", 10_000 * 10 * MIB, uni(10 * MIB)); // 10000 parts exactly
        check("cyberduck", 10_000 * 10 * MIB + 1, None); // floor is still 10 MiB: 10001 parts
        check("cyberduck", 10_000 * 11 * MIB, uni(11 * MIB)); // a multiple of 10000 fits
    }

    #[test]
    fn goofys() {
        check("goofys", 0, SINGLE);
        check("goofys", 1, SINGLE);
        check("goofys", 5 * MIB - 1, SINGLE);
        check("goofys", 5 * MIB, uni(5 * MIB)); // size >= 5 MiB: the first buffer fills, one part
        check("goofys", 5 * MIB + 1, uni(5 * MIB));
        // 102400 MiB: 500 x 5 (2500) + 500 x 25 (12500) = 15000; 87400 left = 699 x 125 + 25
        let g100 = runs(&[(500, 5 * MIB), (500, 25 * MIB), (699, 125 * MIB), (1, 25 * MIB)]);
        check("goofys", G100, Some(Layout::Explicit { part_sizes: g100 }));
        // 1048576 MiB: 2000 parts hold 2500 + 12500 + 125000 = 140000; 908576 left = 1453 x 625 + 451
        let t1 =
            runs(&[(500, 5 * MIB), (500, 25 * MIB), (1000, 125 * MIB), (1453, 625 * MIB), (1, 451 * MIB)]);
        check("goofys", T1, Some(Layout::Explicit { part_sizes: t1 }));
        assert_eq!(parts("goofys", T1), 3454);
        // Its largest object: 140000 MiB + 8000 x 625 MiB in 10000 parts.
        check("goofys", 5_140_000 * MIB + 1, None);
        assert_eq!(parts("goofys", 5_140_000 * MIB), 10_000);
    }

    #[test]
    fn goofys_legacy() {
        check("goofys-legacy", 0, SINGLE);
        check("goofys-legacy", 1, SINGLE);
        check("goofys-legacy", 5 * MIB - 1, SINGLE);
        check("goofys-legacy", 5 * MIB, uni(5 * MIB));
        check("goofys-legacy", 5 * MIB + 1, uni(5 * MIB));
        // 1000 x 5 (5000) + 1000 x 25 (25000) = 30000 MiB; 72400 left = 579 x 125 + 25
        let g100 = runs(&[(1000, 5 * MIB), (1000, 25 * MIB), (579, 125 * MIB), (1, 25 * MIB)]);
        check("goofys-legacy", G100, Some(Layout::Explicit { part_sizes: g100 }));
        // At most 5000 + 25000 + 8000 x 125 = 1,030,000 MiB < 1 TiB
        check("goofys-legacy", T1, None);
    }

    #[test]
    fn goofys_layouts_add_up_and_are_uniform_until_the_first_step() {
        let goofys = find("goofys").unwrap();
        for size in [5 * MIB, 2500 * MIB, 2500 * MIB + 1, 2505 * MIB + 1, G100, T1, 3 * TIB + 12_345] {
            let layout = goofys.layout(size).unwrap();
            let ranges = layout.part_ranges(size).unwrap();
            assert_eq!(ranges.iter().map(|r| r.end - r.start).sum::<u64>(), size, "{size}");
            if let Layout::Explicit { part_sizes } = &layout {
                assert_eq!(part_sizes.iter().sum::<u64>(), size);
            }
        }
        // 500 parts of 5 MiB plus a short 501st part is still uniform.
        check("goofys", 2500 * MIB, uni(5 * MIB));
        check("goofys", 2500 * MIB + 1, uni(5 * MIB));
        assert_eq!(goofys.part_size_for(2500 * MIB + 1), Some(5 * MIB));
        // The 501st part is longer than 5 MiB: not uniform any more.
        let uneven = runs(&[(500, 5 * MIB), (1, 5 * MIB + 1)]);
        check("goofys", 2505 * MIB + 1, Some(Layout::Explicit { part_sizes: uneven }));
        assert_eq!(goofys.part_size_for(2505 * MIB + 1), None);
    }

    #[test]
    fn famous_cases() {
        let aws = find("aws-cli").unwrap();
        assert_eq!(aws.layout(8 * MIB), uni(8 * MIB));
        assert_eq!(parts("aws-cli", 8 * MIB), 1); // the "-1" ETag
        assert_eq!(aws.layout(8 * MIB - 1), SINGLE);
        assert_eq!(aws.layout(G100), uni(16 * MIB));
        assert_eq!(parts("aws-cli", G100), 6400);
        assert_eq!(aws.layout(T1), uni(128 * MIB));
        assert_eq!(parts("aws-cli", T1), 8192);

        assert_eq!(find("rclone").unwrap().layout(T1), uni(105 * MIB));
        assert_eq!(find("minio").unwrap().layout(T1), uni(112 * MIB));
        assert_eq!(parts("minio", T1), 9363); // 1048576 / 112 = 9362.3
    }

    #[test]
    fn part_size_for_ignores_the_threshold() {
        assert_eq!(find("aws-cli").unwrap().part_size_for(1), Some(8 * MIB));
        assert_eq!(find("ruby").unwrap().part_size_for(MIB), Some(5 * MIB));
        assert_eq!(find("minio").unwrap().part_size_for(0), Some(16 * MIB));
        assert_eq!(find("goofys").unwrap().part_size_for(MIB), Some(5 * MIB));
        // Not uniform, or not uploadable at all.
        assert_eq!(find("goofys").unwrap().part_size_for(G100), None);
        assert_eq!(find("mountpoint").unwrap().part_size_for(G100), None);
        assert_eq!(find("js-v3-legacy").unwrap().part_size_for(G100), None);
        assert_eq!(find("minio-py").unwrap().part_size_for(6 * TIB), None);
        // A layout's part size is the part size it reports.
        for u in catalog() {
            for size in [0, 5 * MIB + 1, 300 * MIB, G100, T1] {
                if let Some(Layout::Uniform { part_size }) = u.layout(size) {
                    assert_eq!(u.part_size_for(size), Some(part_size), "{} at {size}", u.name);
                }
            }
        }
    }

    #[test]
    fn find_by_name_alias_and_any_case() {
        assert_eq!(find("aws-cli").unwrap().name, "aws-cli");
        assert_eq!(find("boto3").unwrap().name, "aws-cli");
        assert_eq!(find("S3Transfer").unwrap().name, "aws-cli");
        assert_eq!(find("AWS-CLI").unwrap().name, "aws-cli");
        assert_eq!(find(" aws-cli ").unwrap().name, "aws-cli");
        assert_eq!(find("Terraform").unwrap().name, "go-sdk");
        assert_eq!(find("POWERSHELL").unwrap().name, "dotnet-v3");
        assert_eq!(find("mc").unwrap().name, "minio");
        assert_eq!(find("minio-go").unwrap().name, "minio");
        assert_eq!(find("minio-py").unwrap().name, "minio-py");
        assert!(find("aws console").is_none());
        assert!(find("").is_none());
    }

    #[test]
    fn lookup_lists_the_valid_names() {
        assert_eq!(lookup("Boto3").unwrap().name, "aws-cli");
        let err = lookup("awscli").unwrap_err();
        assert_eq!(err.name(), "awscli");
        let msg = err.to_string();
        assert!(msg.starts_with(
            "unknown uploader 'awscli'; expected one of: aws-cli (boto3, s3transfer), aws-crt,"
        ));
        for u in catalog() {
            assert!(msg.contains(u.name), "{msg}");
        }
    }

    #[test]
    fn consistent_with_20_mib() {
        let s = 20 * MIB;
        assert_eq!(
            consistent_with(&Layout::Uniform { part_size: 8 * MIB }, s),
            [
                "aws-cli",
                "aws-crt",
                "aws-crt-legacy",
                "java-v2",
                "go-transfermanager",
                "dotnet-v4",
                "rust-transfer-manager",
                "mountpoint"
            ]
        );
        assert_eq!(consistent_with(&Layout::Single, s), ["s5cmd", "ruby", "rclone", "restic", "cyberduck"]);
        let five = [
            "java-v1",
            "go-sdk",
            "js-v3",
            "js-v3-legacy",
            "dotnet-v3",
            "ruby-legacy",
            "php",
            "minio-py",
            "goofys",
            "goofys-legacy",
        ];
        assert_eq!(consistent_with(&Layout::Uniform { part_size: 5 * MIB }, s), five);
        // The same four parts written out are the same upload.
        assert_eq!(consistent_with(&Layout::Explicit { part_sizes: vec![5 * MIB; 4] }, s), five);
        assert_eq!(consistent_with(&Layout::Uniform { part_size: 16 * MIB }, s), ["minio"]);
        // Nobody uploads 20 MiB in one part, or in 4 MiB parts; sizes that do not add up match nothing.
        assert!(consistent_with(&Layout::Uniform { part_size: 20 * MIB }, s).is_empty());
        assert!(consistent_with(&Layout::Uniform { part_size: 4 * MIB }, s).is_empty());
        assert!(consistent_with(&Layout::Explicit { part_sizes: vec![5 * MIB; 3] }, s).is_empty());
        // A tiny part size on a large object is rejected by its count, without building its ranges.
        assert!(consistent_with(&Layout::Uniform { part_size: 1 }, T1).is_empty());
    }

    #[test]
    fn predicted_layouts_20_mib() {
        let got = predicted_layouts(20 * MIB);
        let want: Vec<(Layout, Vec<&str>)> = vec![
            (Layout::Single, vec!["s5cmd", "ruby", "rclone", "restic", "cyberduck"]),
            (
                Layout::Uniform { part_size: 5 * MIB },
                vec![
                    "java-v1",
                    "go-sdk",
                    "js-v3",
                    "js-v3-legacy",
                    "dotnet-v3",
                    "ruby-legacy",
                    "php",
                    "minio-py",
                    "goofys",
                    "goofys-legacy",
                ],
            ),
            (
                Layout::Uniform { part_size: 8 * MIB },
                vec![
                    "aws-cli",
                    "aws-crt",
                    "aws-crt-legacy",
                    "java-v2",
                    "go-transfermanager",
                    "dotnet-v4",
                    "rust-transfer-manager",
                    "mountpoint",
                ],
            ),
            (Layout::Uniform { part_size: 10 * MIB }, vec!["s3fs"]),
            (Layout::Uniform { part_size: 15 * MIB }, vec!["s3cmd"]),
            (Layout::Uniform { part_size: 16 * MIB }, vec!["minio"]),
        ];
        assert_eq!(got, want);
        let named: usize = got.iter().map(|(_, names)| names.len()).sum();
        assert_eq!(named, catalog().len());
    }

    #[test]
    fn predicted_layouts_at_a_threshold_hold_both_forms() {
        // At exactly 8 MiB the aws cli makes a "-1", the CRT a plain MD5: a verifier must try both.
        let got = predicted_layouts(8 * MIB);
        assert_eq!(got[0].0, Layout::Single);
        let (one_part, names) =
            got.iter().find(|(l, _)| l.part_count(8 * MIB) == Ok(1) && l.is_multipart()).unwrap();
        assert_eq!(one_part, &Layout::Uniform { part_size: 8 * MIB });
        assert_eq!(names, &["aws-cli", "mountpoint"]);
        // One-part uploads with different nominal part sizes are one upload: s3fs at 10 MiB, minio
        // at 16 MiB, and goofys at 5 MiB each group with whatever else uploads one part there.
        for size in [5 * MIB, 10 * MIB, 16 * MIB] {
            let got = predicted_layouts(size);
            let one_part =
                got.iter().filter(|(l, _)| l.is_multipart() && l.part_count(size) == Ok(1)).count();
            assert!(one_part <= 1, "{size}: {got:?}");
        }
    }

    #[test]
    fn produces_compares_uploads_not_spellings() {
        let aws = find("aws-cli").unwrap();
        // One part of 8 MiB, however the part size was written.
        assert!(aws.produces(&Layout::Uniform { part_size: 8 * MIB }, 8 * MIB));
        assert!(aws.produces(&Layout::Uniform { part_size: 16 * MIB }, 8 * MIB));
        assert!(aws.produces(&Layout::Explicit { part_sizes: vec![8 * MIB] }, 8 * MIB));
        assert!(!aws.produces(&Layout::Single, 8 * MIB));
        assert!(aws.produces(&Layout::Single, 8 * MIB - 1));
        assert!(!aws.produces(&Layout::Uniform { part_size: 8 * MIB }, 8 * MIB - 1));
        // Nothing for a size it cannot upload.
        assert!(!find("mountpoint").unwrap().produces(&Layout::Uniform { part_size: 8 * MIB }, G100));
    }

    #[test]
    fn catalog_is_well_formed() {
        let mut seen = Vec::new();
        for u in catalog() {
            for name in std::iter::once(&u.name).chain(u.aliases) {
                assert!(!name.is_empty() && !name.contains(' '), "{name}");
                assert_eq!(name.to_ascii_lowercase(), *name, "{name}");
                assert!(!seen.contains(name), "{name} twice");
                seen.push(name);
            }
            assert!(!u.tools.is_empty() && !u.source.is_empty(), "{}", u.name);
            assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&u.part_size), "{}", u.name);
            assert!(u.max_object_size <= MAX_OBJECT_SIZE, "{}", u.name);
            match u.large_files {
                LargeFileRule::CeilDivRoundUp { multiple } => assert!(multiple > 0),
                LargeFileRule::Growing { steps } => {
                    assert_eq!(steps[0].part_size, u.part_size);
                    assert!(steps.iter().all(|s| s.parts > 0 && s.part_size >= MIN_PART_SIZE));
                }
                _ => {}
            }
            assert!(std::ptr::eq(find(u.name).unwrap(), u));
        }
    }

    #[test]
    fn every_layout_keeps_s3_limits_across_edge_sizes() {
        let mut sizes = vec![0, 1, MIB, 5 * GIB, 5 * GIB + 1, 48 * GIB, G100, T1, 5 * TIB, MAX_OBJECT_SIZE];
        for u in catalog() {
            let t = match u.threshold {
                Threshold::AtLeast(t) | Threshold::Above(t) => t,
                Threshold::Always => u.part_size,
            };
            let p = u.part_size;
            for base in [t, p, 10_000 * p, 10_000 * (p + MIB), 100_000 * MIB] {
                sizes.extend([base - 1, base, base + 1]);
            }
        }
        sizes.sort_unstable();
        sizes.dedup();
        for &size in &sizes {
            for u in catalog() {
                let Some(layout) = u.layout(size) else { continue };
                let parts = layout.part_count(size).unwrap();
                assert!(parts <= MAX_PARTS, "{} at {size}: {parts} parts", u.name);
                assert!(layout.limit_warnings(size).is_empty(), "{} at {size}: {layout}", u.name);
                assert_eq!(layout.is_multipart(), u.is_multipart(size), "{} at {size}", u.name);
                assert!(u.produces(&layout, size), "{} at {size}", u.name);
            }
            for (layout, names) in predicted_layouts(size) {
                assert_eq!(consistent_with(&layout, size), names, "{size}: {layout}");
            }
        }
    }

    #[test]
    fn an_edited_entry_with_zero_sizes_gives_no_layout_instead_of_panicking() {
        let mut u = *find("aws-cli").unwrap();
        u.part_size = 0;
        assert_eq!(u.layout(G100), None);
        let mut u = *find("minio").unwrap();
        u.large_files = LargeFileRule::CeilDivRoundUp { multiple: 0 };
        assert_eq!(u.layout(G100), None);
        let mut u = *find("goofys").unwrap();
        u.large_files = LargeFileRule::Growing { steps: &[GrowthStep { parts: 1, part_size: 0 }] };
        assert_eq!(u.layout(G100), None);
    }

    #[test]
    fn thresholds_and_rules_read_well() {
        assert_eq!(Threshold::AtLeast(8 * MIB).to_string(), "size >= 8 MiB");
        assert_eq!(Threshold::Above(16 * MIB).to_string(), "size > 16 MiB");
        assert_eq!(Threshold::Always.to_string(), "always");
        assert!(Threshold::AtLeast(8 * MIB).is_multipart(8 * MIB));
        assert!(!Threshold::Above(8 * MIB).is_multipart(8 * MIB));
        assert!(Threshold::Always.is_multipart(0));
        let rule = |name: &str| find(name).unwrap().large_files.to_string();
        assert_eq!(rule("aws-cli"), "double until <= 10000 parts");
        assert_eq!(rule("rclone"), "max(part, ceil(S/10000)) in 1 MiB units");
        assert_eq!(rule("go-sdk"), "S/10000+1 if S/part >= 10000");
        assert_eq!(rule("goofys"), "500 x 5 MiB, 500 x 25 MiB, 1000 x 125 MiB, then 625 MiB");
        assert_eq!(rule("goofys-legacy"), "1000 x 5 MiB, 1000 x 25 MiB, then 125 MiB");
    }

    #[test]
    fn serializes_for_json_output() {
        let v = serde_json::to_value(find("rclone").unwrap()).unwrap();
        assert_eq!(v["name"], "rclone");
        assert_eq!(v["threshold"], serde_json::json!({"kind": "at_least", "bytes": 200 * MIB}));
        assert_eq!(v["part_size"], 5 * MIB);
        assert_eq!(v["large_files"], serde_json::json!({"rule": "ceil_div_round_up", "multiple": MIB}));
        let v = serde_json::to_value(find("mountpoint").unwrap()).unwrap();
        assert_eq!(v["threshold"], serde_json::json!({"kind": "always"}));
        assert_eq!(v["large_files"], serde_json::json!({"rule": "no_rule"}));
        let v = serde_json::to_value(find("goofys").unwrap()).unwrap();
        assert_eq!(v["large_files"]["steps"][1], serde_json::json!({"parts": 500, "part_size": 25 * MIB}));
    }
}
