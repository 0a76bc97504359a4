//! Verdicts: does a local file equal the object behind a remote ETag?
//!
//! The promise: [`Verdict::Match`] only when the remote ETag was reproduced exactly from the local
//! bytes; [`Verdict::Mismatch`] only with evidence about the bytes: a digest that differs for a
//! layout that is known (a plain MD5 or `-1` ETag, or a caller's layout whose part count agrees
//! with the ETag and that no other candidate rescues), or a remote size that differs from the
//! local one. Everything else is [`Verdict::Inconclusive`], with a typed [`Reason`] and the typed
//! [`Need`]s: the facts that, read from S3, would settle it.
//!
//! What S3 would refuse (parts under 5 MiB, more than 10,000 parts, 12 bytes in 3 parts) is never
//! evidence: other stores and other uploaders do it. What the caller says (a part size, a list of
//! part sizes, a single PUT) is never evidence against the content either, unless it agrees with
//! the ETag's own part count. `docs/verify-rules.md` states every rule with the test that holds it.
//!
//! The object's additional checksums ([`VerifyOptions::checksums`]) are more evidence, computed in
//! the same read as the ETag (see `checksums` for how each is planned). They are judged each on
//! its own and then together with the ETag: one piece of evidence that matches and another that
//! differs is never a match ([`Reason::Disagree`]); a checksum settles an object whose ETag cannot
//! (an encrypted one); and the ETag may be absent.
//!
//! The module is sans-IO at its core: one private function plans from the facts, asks a hashing
//! closure for the layouts and checksums it needs, and judges. The `verify_*` functions plug in
//! the engine.

mod checksums;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use crate::checksum::{Algorithm, Checksum, ChecksumType};
use crate::engine::{self, ChecksumRequest, EngineError, Hashed, Progress, ReadOptions};
use crate::etag::{Etag, OpaqueShape, RemoteEtag};
use crate::guess::{self, Candidate, Candidates, Interval, Origin};
use crate::layout::{checked_sum, sum_text, Layout, LayoutError, LimitWarning};
use checksums::{Computed, EtagFacts, Outcome, Stage, SumPlan};

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The remote ETag was reproduced exactly from the local bytes.
    Match,
    /// The local bytes are not the remote object's.
    Mismatch,
    /// The remote ETag cannot be reproduced locally; the report says why and what to read from S3.
    Inconclusive,
}

impl Verdict {
    /// `OK`, `MISMATCH` or `INCONCLUSIVE`, as the command line prints it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Match => "OK",
            Verdict::Mismatch => "MISMATCH",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Server-side encryption of the remote object, as the caller knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sse {
    /// Not known (the default): a digest that differs may then come from an encrypted object.
    #[default]
    Unknown,
    /// No encryption.
    None,
    /// SSE-S3: the ETag is still the MD5.
    S3,
    /// SSE-KMS or DSSE-KMS: the ETag is not an MD5 of the content.
    Kms,
    /// SSE-C: the ETag is not an MD5 of the content.
    C,
}

impl Sse {
    /// Whether S3 makes this object's ETag from the MD5 of its content, as far as the caller knows.
    fn md5_etag(self) -> Option<bool> {
        match self {
            Sse::Unknown => None,
            Sse::None | Sse::S3 => Some(true),
            Sse::Kms | Sse::C => Some(false),
        }
    }
}

/// An encryption name that is none of those [`Sse`] reads.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid encryption '{0}'; expected none, s3 (AES256), kms (aws:kms, aws:kms:dsse) or c (SSE-C)")]
pub struct SseError(String);

impl FromStr for Sse {
    type Err = SseError;

    /// Reads `none`, `s3`, `kms`, `c`, and the values of S3's `ServerSideEncryption` header
    /// (`AES256`, `aws:kms`, `aws:kms:dsse`), in any case.
    fn from_str(s: &str) -> Result<Sse, SseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Sse::None),
            "s3" | "aes256" | "sse-s3" => Ok(Sse::S3),
            "kms" | "aws:kms" | "dsse" | "aws:kms:dsse" | "sse-kms" => Ok(Sse::Kms),
            "c" | "sse-c" => Ok(Sse::C),
            _ => Err(SseError(s.to_string())),
        }
    }
}

/// What the caller knows about the remote object besides its ETag. Every field is optional; each
/// narrows the answer, and none is taken as evidence against the content on its own.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// The remote object's size (ContentLength), if known. A local size that differs is a mismatch.
    pub remote_size: Option<u64>,
    /// The layout the object was uploaded with, if known (a part size, or every part's size).
    pub layout: Option<Layout>,
    /// The remote object's encryption, if known.
    pub sse: Sse,
    /// The object's additional checksums, as S3 shows them: a composite value with or without its
    /// `-N` (HeadObject shows it, GetObjectAttributes does not). Each is verified with the ETag, in
    /// the same read; they survive encryption, so an encrypted object is verified by them.
    pub checksums: Vec<Checksum>,
    /// How the checksums cover the object, if known (S3's `ChecksumType`). Without it, a value
    /// with `-N` is composite, a CRC64NVME is full-object, a value beside a plain-MD5 ETag is
    /// full-object, and any other value may be either: both are tried.
    pub checksum_type: Option<ChecksumType>,
}

/// Why the verdict is what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Match: the MD5 of the bytes equals a single-part ETag.
    Md5Equal,
    /// Match: the report's layout reproduces the multipart ETag.
    Reproduced,
    /// Mismatch: the remote object's size is not the local size.
    SizeDiffers {
        /// The remote object's size (ContentLength).
        remote: u64,
        /// The bytes of the local source.
        local: u64,
    },
    /// Mismatch: the layout is known (the report's layout) and its digest differs
    /// ([`Report::computed_etag`]).
    DigestDiffers,
    /// Inconclusive: the remote ETag is not MD5-based.
    NotMd5 {
        /// What it looks like.
        shape: OpaqueShape,
    },
    /// Inconclusive: the object is encrypted with SSE-KMS, DSSE-KMS or SSE-C, whose ETags are no
    /// MD5 of the content.
    Encrypted {
        /// The encryption.
        sse: Sse,
    },
    /// Inconclusive: the caller's layout does not give the ETag's form: `None` stands for a
    /// single PUT (a plain MD5), `Some(n)` for `-n`. The caller's facts are wrong, or the file is
    /// not the object.
    LayoutDisagrees {
        /// What the caller's layout gives for the object's size.
        layout_parts: Option<u64>,
        /// What the ETag says.
        etag_parts: Option<u32>,
    },
    /// Inconclusive: the caller's part sizes add up to another size than the local file's
    /// (`None`: to more than 2^64 − 1 bytes).
    PartSizesDisagree {
        /// The sum of the part sizes, if it fits in 64 bits.
        sum: Option<u64>,
        /// The local size.
        local: u64,
    },
    /// Inconclusive: no part size splits the object into the ETag's part count with equal parts,
    /// and no uploader of the catalog makes that many uneven parts.
    NoUniformLayout {
        /// The ETag's part count.
        parts: u32,
    },
    /// Inconclusive: none of the candidate layouts reproduces the ETag.
    NotReproduced {
        /// The ETag's part count.
        parts: u32,
        /// The uniform part sizes that give that part count.
        interval: Option<Interval>,
        /// Whole-unit part sizes of the interval left untried.
        omitted: u64,
    },
    /// Match: an additional checksum was reproduced from the bytes (the ETag, if any, could not
    /// be compared).
    ChecksumEqual {
        /// Its algorithm.
        algorithm: Algorithm,
    },
    /// Mismatch: an additional checksum differs where its value is known (a full-object value, or
    /// a composite one for the object's layout).
    ChecksumDiffers {
        /// Its algorithm.
        algorithm: Algorithm,
    },
    /// Inconclusive: an additional checksum could not be reproduced (no layout to try, or the
    /// values tried differ but none is known to be the object's), and there is no ETag to decide.
    ChecksumNotReproduced {
        /// Its algorithm.
        algorithm: Algorithm,
    },
    /// Inconclusive: one piece of evidence matches and another differs or contradicts it (an ETag
    /// and a checksum of different objects or versions, or an encrypted object's ETag given as if
    /// it were an MD5).
    Disagree {
        /// What matched.
        matched: Evidence,
        /// What differs, or says another part count than the layout that matched.
        differs: Evidence,
    },
}

/// A piece of evidence about the remote object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Evidence {
    /// The ETag.
    Etag,
    /// An additional checksum.
    Checksum(Algorithm),
}

impl fmt::Display for Evidence {
    /// `the ETag`, `the CRC32 checksum`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Etag => f.write_str("the ETag"),
            Evidence::Checksum(a) => write!(f, "the {a} checksum"),
        }
    }
}

impl Reason {
    /// A stable name for scripts and JSON: `md5_equal`, `size_differs`, ...
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Md5Equal => "md5_equal",
            Reason::Reproduced => "reproduced",
            Reason::SizeDiffers { .. } => "size_differs",
            Reason::DigestDiffers => "digest_differs",
            Reason::NotMd5 { .. } => "not_md5",
            Reason::Encrypted { .. } => "encrypted",
            Reason::LayoutDisagrees { .. } => "layout_disagrees",
            Reason::PartSizesDisagree { .. } => "part_sizes_disagree",
            Reason::NoUniformLayout { .. } => "no_uniform_layout",
            Reason::NotReproduced { .. } => "not_reproduced",
            Reason::ChecksumEqual { .. } => "checksum_equal",
            Reason::ChecksumDiffers { .. } => "checksum_differs",
            Reason::ChecksumNotReproduced { .. } => "checksum_not_reproduced",
            Reason::Disagree { .. } => "disagree",
        }
    }
}

/// A fact about the remote object that would settle an inconclusive verdict, or that could turn a
/// mismatch into an inconclusive one. A driver with an S3 client reads it and verifies again; the
/// command line turns it into advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Need {
    /// The part size: HeadObject with PartNumber 1 gives the first part's ContentLength and the
    /// PartsCount. Settles a uniform layout.
    PartSize,
    /// Every part's size: GetObjectAttributes with ObjectParts, or HeadObject with each part
    /// number. Settles an uneven layout.
    PartSizes,
    /// The encryption: HeadObject's ServerSideEncryption and SSECustomerAlgorithm.
    Encryption,
    /// The object's size: HeadObject's ContentLength.
    RemoteSize,
    /// An additional checksum, which survives encryption: HeadObject with ChecksumMode ENABLED.
    Checksum,
    /// Whether a checksum is full-object or composite: GetObjectAttributes with Checksum gives its
    /// ChecksumType (and HeadObject a composite value's `-N`).
    ChecksumType,
}

impl Need {
    /// A stable name for scripts and JSON: `part_size`, `part_sizes`, ...
    pub fn code(self) -> &'static str {
        match self {
            Need::PartSize => "part_size",
            Need::PartSizes => "part_sizes",
            Need::Encryption => "encryption",
            Need::RemoteSize => "remote_size",
            Need::Checksum => "checksum",
            Need::ChecksumType => "checksum_type",
        }
    }
}

/// Something the caller may want to know that does not change the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The caller's layout breaks S3's limits (some stores accept it).
    Limit(LimitWarning),
    /// The caller gave a multipart layout, but the ETag is a plain MD5: the ETag's form decides.
    LayoutIgnored,
    /// The caller's layout did not reproduce the ETag, but the report's layout did.
    LayoutWrong {
        /// The caller's layout.
        given: Layout,
    },
    /// A checksum decided the verdict; the ETag given could not be reproduced (its reason is the
    /// one given), so it is no evidence either way. Not given for an ETag known to be no MD5 (an
    /// encrypted object's).
    EtagNotCompared {
        /// Why the ETag could not be compared.
        reason: Reason,
    },
}

/// The verdict for one source, with everything needed to explain it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// The local source's size in bytes (for an undecided source that was not read, the size known
    /// before reading, or 0).
    pub size: u64,
    /// The remote ETag, if one was given.
    pub remote_etag: Option<RemoteEtag>,
    /// The ETag computed for the layout that decided the verdict, if one was computed.
    pub computed_etag: Option<Etag>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// What would settle an inconclusive verdict, or could turn a mismatch into one (for instance
    /// the encryption, for a digest that differs while the encryption is unknown). Sorted.
    pub needs: Vec<Need>,
    /// The layout that matched, or that was known and differs.
    pub layout: Option<Layout>,
    /// Catalog uploaders whose defaults give that layout for this size.
    pub uploaders: Vec<&'static str>,
    /// The number of layouts hashed.
    pub tried: usize,
    /// What the caller may want to know besides the verdict.
    pub warnings: Vec<Warning>,
    /// What each of the caller's checksums came to, in the order given.
    pub checksums: Vec<ChecksumReport>,
    /// The facts the caller gave, as given: advice that says "then run this again with one more
    /// fact" keeps the others.
    pub facts: VerifyOptions,
}

/// What one of the caller's checksums came to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChecksumReport {
    /// The value given.
    pub remote: Checksum,
    /// Its verdict on its own: a match, a value that differs where it is known, or neither.
    pub verdict: Verdict,
    /// The value that matched, or the one that differs.
    pub computed: Option<Checksum>,
    /// Full-object or composite, as far as the answer tells.
    pub checksum_type: Option<ChecksumType>,
    /// The layout of a composite value that matched or differs.
    pub layout: Option<Layout>,
}

impl Report {
    fn new(size: u64, remote: Option<&RemoteEtag>, verdict: Verdict, reason: Reason) -> Report {
        Report {
            size,
            remote_etag: remote.cloned(),
            computed_etag: None,
            verdict,
            reason,
            needs: Vec::new(),
            layout: None,
            uploaders: Vec::new(),
            tried: 0,
            warnings: Vec::new(),
            checksums: Vec::new(),
            facts: VerifyOptions::default(),
        }
    }

    fn needing(mut self, needs: &[Need]) -> Report {
        self.needs.extend_from_slice(needs);
        self.needs.sort_unstable();
        self.needs.dedup();
        self
    }
}

/// Why a source could not be verified at all (as opposed to an inconclusive verdict).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Reading or hashing failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A `-N` ETag with N ≥ 2 needs the object's size to guess the part size, and the source's size
    /// is not known before reading it (a pipe or a device).
    #[error(
        "the size is not known before reading (a pipe or a device), and guessing the part size of a \
         multipart ETag needs it: give the remote object's size or its part size"
    )]
    SizeUnknown,
    /// The caller's facts contradict each other: part sizes that do not add up to the remote size.
    #[error("the part sizes given add up to {}, but the remote size given is {remote_size} bytes", sum_text(*.sum))]
    FactsDisagree {
        /// The sum of the part sizes, if it fits in 64 bits.
        sum: Option<u64>,
        /// The remote size given.
        remote_size: u64,
    },
    /// Neither an ETag nor a checksum was given: there is nothing to compare.
    #[error("nothing to verify against: give the remote ETag or an additional checksum")]
    NothingToVerify,
    /// A checksum of a kind S3 does not store (a composite CRC64NVME: a `-N` on a CRC64NVME value,
    /// or the composite type given for one).
    #[error("{0}")]
    ChecksumUnsupported(crate::checksum::Unsupported),
}

/// Verifies the file at `path` against `remote`.
/// The ETag is `remote`, or none (`None`: the checksums of `opts` decide).
pub fn verify_path<'a>(
    path: &Path,
    remote: impl Into<Option<&'a RemoteEtag>>,
    opts: &VerifyOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let (file, size) = engine::open(path)?;
    verify_file(&file, size, remote, opts, read, progress)
}

/// Verifies an open file against `remote`. With `size` (a regular file's length, as
/// [`engine::open`] gives it) the file is read with positional reads from offset 0, whatever its
/// position, and may be read twice: the uploaders' layouts first, the other candidates only if
/// none matched. Without it (a pipe, a device) it is read once, front to back.
pub fn verify_file<'a>(
    file: &File,
    size: Option<u64>,
    remote: impl Into<Option<&'a RemoteEtag>>,
    opts: &VerifyOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let remote = remote.into();
    match size {
        Some(_) => verify_with(size, remote, opts, true, |layouts, checksums, _| {
            engine::hash_file_with(file, size, layouts, checksums, read, progress)
        }),
        None => verify_reader(file, None, remote, opts, read, progress),
    }
}

/// Verifies what `reader` yields (`size` bytes, if known before reading) against `remote`. The
/// reader is read once.
pub fn verify_reader<'a, R: Read + Send>(
    reader: R,
    size: Option<u64>,
    remote: impl Into<Option<&'a RemoteEtag>>,
    opts: &VerifyOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let mut reader = Some(reader);
    verify_with(size, remote.into(), opts, false, |layouts, checksums, expected| match reader.take() {
        Some(r) => engine::hash_reader_with(r, expected, layouts, checksums, read, progress),
        // `verify_with` hashes a source that cannot be read again once.
        None => unreachable!("a reader is hashed once"),
    })
}

/// One source for [`verify_files`]: an open file with its size as [`engine::open`] gives it, the
/// remote ETag and what is known about the object.
#[derive(Clone, Copy, Debug)]
pub struct VerifyJob<'a> {
    /// The open file.
    pub file: &'a File,
    /// Its size, for a regular file.
    pub size: Option<u64>,
    /// The remote ETag, if one is known (else the checksums of `opts` decide).
    pub remote: Option<&'a RemoteEtag>,
    /// What is known about the object.
    pub opts: &'a VerifyOptions,
}

/// Files up to this size are verified together, their candidates hashed in one batch.
const BATCH_FILE_MAX: u64 = 1 << 20;

/// Verifies many files in one call, on the caller's rayon pool, one result per file in order.
/// Small files are hashed together so that their streams share the kernels' lanes (every
/// candidate at once: for them a second read would cost more than the extra layouts); larger
/// files go one after the other, each as [`verify_file`] does.
pub fn verify_files(
    jobs: &[VerifyJob<'_>],
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Vec<Result<Report, VerifyError>> {
    let mut out: Vec<Option<Result<Report, VerifyError>>> = jobs.iter().map(|_| None).collect();
    let mut batch: Vec<(usize, Planned)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match job.size {
            Some(size) if size <= BATCH_FILE_MAX => match plan(Some(size), job.remote, job.opts) {
                Ok(Step::Hash(planned)) => batch.push((i, planned)),
                Ok(Step::Done(mut report)) => {
                    report.facts = job.opts.clone();
                    out[i] = Some(Ok(report));
                }
                Err(e) => out[i] = Some(Err(e)),
            },
            _ => out[i] = Some(verify_file(job.file, job.size, job.remote, job.opts, read, progress)),
        }
    }
    let work: Vec<Work> = batch.iter().map(|(_, p)| p.work(Stage::Only)).collect();
    let file_jobs: Vec<engine::FileJob<'_>> = batch
        .iter()
        .zip(&work)
        .map(|((i, _), w)| engine::FileJob {
            file: jobs[*i].file,
            size: jobs[*i].size,
            layouts: &w.layouts,
            checksums: &w.requests,
        })
        .collect();
    let hashed = engine::hash_files(&file_jobs, read, progress);
    for (((i, planned), w), result) in batch.into_iter().zip(&work).zip(hashed) {
        out[i] = Some(match result {
            Ok(h) => {
                let mut done = Done::new(planned.sums.len());
                done.record(w, h);
                let mut report = planned.judge(done);
                report.facts = jobs[i].opts.clone();
                Ok(report)
            }
            Err(e) => Err(e.into()),
        });
    }
    out.into_iter().map(|r| r.expect("every file has a result")).collect()
}

/// Hashes a source for a list of layouts and checksums, given the size it must have (if known).
type HashFn<'a> = dyn FnMut(&[Layout], &[ChecksumRequest], Option<u64>) -> Result<Hashed, EngineError> + 'a;

/// Plans from the facts, hashes with `hash` (given the layouts, the checksums and the size the
/// source must have, if known) and judges. `rereadable`: the source can be hashed a second time, so
/// the likely layouts go first and the others only if the first read left something unsettled.
fn verify_with(
    size: Option<u64>,
    remote: Option<&RemoteEtag>,
    opts: &VerifyOptions,
    rereadable: bool,
    hash: impl FnMut(&[Layout], &[ChecksumRequest], Option<u64>) -> Result<Hashed, EngineError>,
) -> Result<Report, VerifyError> {
    let mut report = verify_hashing(size, remote, opts, rereadable, hash)?;
    report.facts = opts.clone();
    Ok(report)
}

fn verify_hashing(
    size: Option<u64>,
    remote: Option<&RemoteEtag>,
    opts: &VerifyOptions,
    rereadable: bool,
    mut hash: impl FnMut(&[Layout], &[ChecksumRequest], Option<u64>) -> Result<Hashed, EngineError>,
) -> Result<Report, VerifyError> {
    let planned = match plan(size, remote, opts)? {
        Step::Done(report) => return Ok(report),
        Step::Hash(planned) => planned,
    };
    let expected = size.or(opts.remote_size);
    let hash: &mut HashFn<'_> = &mut hash;
    // The caller's layout and the uploaders' layouts reproduce nearly every real ETag. When the
    // source can be read again they go first, and the other candidates are hashed only if the
    // first read did not settle everything: a match then costs one layout's worth of hashing.
    let (first, second) = (planned.work(Stage::First), planned.work(Stage::Second));
    let staged = rereadable && !first.is_empty() && !second.is_empty();
    let first = if staged { first } else { planned.work(Stage::Only) };
    let mut done = Done::new(planned.sums.len());
    match hash(&first.layouts, &first.requests, expected) {
        // A stream that is not of the remote size is not the remote object.
        Err(EngineError::SizeChanged { actual, .. }) if size.is_none() && opts.remote_size.is_some() => {
            let remote_size = opts.remote_size.unwrap_or_default();
            return Ok(size_differs(remote, remote_size, actual));
        }
        other => done.record(&first, other?),
    }
    if staged && planned.unsettled(&done) {
        done.record(&second, hash(&second.layouts, &second.requests, expected)?);
    }
    Ok(planned.judge(done))
}

/// What a verification decided before reading, or what it must hash.
enum Step {
    Done(Report),
    Hash(Planned),
}

/// The ETag's part of a verification.
enum EtagStep {
    /// No ETag was given.
    Absent,
    /// Settled without hashing (inconclusive).
    Decided(Report),
    /// The candidate layouts to hash.
    Hash(Vec<Candidate>, Ctx),
}

/// Everything a verification hashes, and how it will judge.
struct Planned {
    etag: EtagStep,
    sums: Vec<SumPlan>,
    remote: Option<RemoteEtag>,
    sse: Sse,
    /// The caller's layout.
    given: Option<Layout>,
}

/// One read's share of the work: the ETag candidates (by index), their layouts, and the checksum
/// requests with the index of the checksum each serves.
struct Work {
    cands: Vec<usize>,
    layouts: Vec<Layout>,
    requests: Vec<ChecksumRequest>,
    owners: Vec<usize>,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.layouts.is_empty() && self.requests.is_empty()
    }
}

/// What the reads computed so far.
struct Done {
    size: u64,
    /// (candidate index, ETag), in the order hashed.
    etags: Vec<(usize, Result<Etag, LayoutError>)>,
    /// Per checksum, the values computed for it.
    sums: Vec<Computed>,
}

impl Done {
    fn new(sums: usize) -> Done {
        Done { size: 0, etags: Vec::new(), sums: vec![Vec::new(); sums] }
    }

    fn record(&mut self, work: &Work, hashed: Hashed) {
        self.size = hashed.size;
        self.etags.extend(work.cands.iter().copied().zip(hashed.etags));
        for ((request, owner), value) in work.requests.iter().zip(&work.owners).zip(hashed.checksums) {
            self.sums[*owner].push((request.clone(), value));
        }
    }
}

/// The ETags computed, each with its layout.
type EtagsByLayout = Vec<(Layout, Result<Etag, LayoutError>)>;

/// Where a piece of evidence stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Match,
    /// Differs where the value is known.
    Differs,
    /// Says another part count than the layout that matched.
    Contradicts,
    Unknown,
}

fn is_likely(c: &Candidate) -> bool {
    matches!(c.origin, Origin::Uploader | Origin::Fixed)
}

/// The part count of a layout on `size` bytes; `None` for a single PUT.
fn parts_of(layout: &Layout, size: u64) -> Option<u64> {
    if layout.is_multipart() {
        layout.part_count(size).ok()
    } else {
        None
    }
}

impl Planned {
    fn work(&self, stage: Stage) -> Work {
        let cands: Vec<usize> = match &self.etag {
            EtagStep::Hash(cands, _) => (0..cands.len())
                .filter(|&i| match stage {
                    Stage::Only => true,
                    Stage::First => is_likely(&cands[i]),
                    Stage::Second => !is_likely(&cands[i]),
                })
                .collect(),
            _ => Vec::new(),
        };
        let layouts: Vec<Layout> = match &self.etag {
            EtagStep::Hash(all, _) => cands.iter().map(|&i| all[i].layout.clone()).collect(),
            _ => Vec::new(),
        };
        let mut requests = Vec::new();
        let mut owners = Vec::new();
        for (k, sum) in self.sums.iter().enumerate() {
            for r in sum.requests(&layouts, stage) {
                requests.push(r);
                owners.push(k);
            }
        }
        Work { cands, layouts, requests, owners }
    }

    /// Whether the first read left some evidence unmatched that a second read could settle.
    fn unsettled(&self, done: &Done) -> bool {
        let etag_matched = match &self.etag {
            EtagStep::Hash(_, ctx) => done.etags.iter().any(|(_, e)| e.as_ref().ok() == Some(&ctx.remote)),
            _ => true,
        };
        let sums_matched =
            self.sums.iter().zip(&done.sums).all(|(p, c)| matches!(p.judge(c, None), Outcome::Match(..)));
        !etag_matched || !sums_matched
    }

    /// Judges every piece of evidence, then all of them together.
    fn judge(self, done: Done) -> Report {
        let size = done.size;
        let remote = self.remote.as_ref();
        // The ETag on its own.
        let (mut etag_report, etag_layouts): (Option<Report>, EtagsByLayout) = match &self.etag {
            EtagStep::Absent => (None, Vec::new()),
            EtagStep::Decided(r) => (Some(r.clone()), Vec::new()),
            EtagStep::Hash(cands, ctx) => {
                let kept: Vec<Candidate> = done.etags.iter().map(|(i, _)| cands[*i].clone()).collect();
                let etags: Vec<Result<Etag, LayoutError>> =
                    done.etags.iter().map(|(_, e)| e.clone()).collect();
                let r = judge_etag(ctx, &kept, size, &etags);
                let pairs = kept.into_iter().map(|c| c.layout).zip(etags).collect();
                (Some(r), pairs)
            }
        };
        // The layout that reproduced the ETag, if one did.
        let etag_matched_layout = match &self.etag {
            EtagStep::Hash(_, ctx) => etag_layouts
                .iter()
                .find(|(_, e)| e.as_ref().ok() == Some(&ctx.remote))
                .map(|(l, _)| l.clone()),
            _ => None,
        };
        // The layout the ETag's candidates are known to be (its form, or the caller's layout).
        let etag_known = match &self.etag {
            EtagStep::Hash(cands, ctx) if ctx.known => cands.first().map(|c| c.layout.clone()),
            _ => None,
        };
        let shared_known = etag_matched_layout.clone().or(etag_known);
        // Each checksum on its own.
        let mut outcomes: Vec<Outcome> = self
            .sums
            .iter()
            .zip(&done.sums)
            .map(|(p, c)| match p.shares {
                true => p.judge(c, shared_known.as_ref()),
                false => p.judge(c, p.known_after(size).as_ref()),
            })
            .collect();
        // The object's layout, once some evidence matched with one: it makes the others' values
        // for that layout known.
        let matched_layout: Option<Layout> = etag_matched_layout.clone().or_else(|| {
            outcomes.iter().find_map(|o| match o {
                Outcome::Match(Some(l), _) => Some(l.clone()),
                _ => None,
            })
        });
        let mut etag_state = match etag_report.as_ref().map(|r| r.verdict) {
            None => None,
            Some(Verdict::Match) => Some(State::Match),
            Some(Verdict::Mismatch) => Some(State::Differs),
            Some(Verdict::Inconclusive) => Some(State::Unknown),
        };
        let mut states: Vec<State> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Match(..) => State::Match,
                Outcome::Differs(..) => State::Differs,
                Outcome::Unknown(_) => State::Unknown,
            })
            .collect();
        if let Some(l) = &matched_layout {
            let l_parts = parts_of(l, size);
            if etag_state == Some(State::Unknown) {
                let computed = etag_layouts.iter().any(|(el, e)| el == l && e.is_ok());
                let etag_parts = remote.and_then(RemoteEtag::md5).map(|e| e.parts().map(u64::from));
                if computed {
                    etag_state = Some(State::Differs);
                } else if etag_parts.is_some_and(|p| p != l_parts) {
                    // Even an encrypted object's ETag tells a single PUT from N parts.
                    etag_state = Some(State::Contradicts);
                }
            }
            for ((p, c), (o, st)) in
                self.sums.iter().zip(&done.sums).zip(outcomes.iter_mut().zip(&mut states))
            {
                if *st != State::Unknown {
                    continue;
                }
                let again = p.judge(c, Some(l));
                if matches!(again, Outcome::Differs(..)) {
                    *o = again;
                    *st = State::Differs;
                } else if p.remote.parts().is_some_and(|n| Some(u64::from(n)) != l_parts) {
                    *st = State::Contradicts;
                }
            }
        }
        let evidence = |k: usize| Evidence::Checksum(self.sums[k].remote.algorithm());
        let matched = match etag_state {
            Some(State::Match) => Some(Evidence::Etag),
            _ => states.iter().position(|s| *s == State::Match).map(evidence),
        };
        let against = |s: State| s == State::Differs || s == State::Contradicts;
        let differs = match etag_state {
            Some(s) if against(s) => Some(Evidence::Etag),
            _ => states.iter().position(|s| against(*s)).map(evidence),
        };
        let checksum_differs = states.iter().position(|s| *s == State::Differs);
        let given_checksums = !self.sums.is_empty();
        let mut report = match (matched, differs) {
            (Some(m), Some(d)) => {
                let mut r = Report::new(
                    size,
                    remote,
                    Verdict::Inconclusive,
                    Reason::Disagree { matched: m, differs: d },
                );
                r.layout = matched_layout.as_ref().map(|l| resolve(l, size));
                r.computed_etag = etag_report.as_ref().and_then(|r| r.computed_etag);
                // An encrypted object's ETag is no MD5: it would explain an ETag that differs.
                if d == Evidence::Etag && self.sse.md5_etag().is_none() {
                    r = r.needing(&[Need::Encryption]);
                }
                r
            }
            (Some(Evidence::Etag), None) => etag_report.take().expect("the ETag matched"),
            (Some(m), None) => {
                let algorithm = match m {
                    Evidence::Checksum(a) => a,
                    Evidence::Etag => unreachable!("handled above"),
                };
                let mut r = Report::new(size, remote, Verdict::Match, Reason::ChecksumEqual { algorithm });
                if let Some(l) = &matched_layout {
                    r.layout = Some(resolve(l, size));
                    r.uploaders = crate::uploaders::consistent_with(l, size);
                }
                if let Some(e) = &etag_report {
                    r.warnings = e.warnings.clone();
                    r.tried = e.tried;
                    // An encrypted or non-MD5 ETag is known to say nothing; any other that was not
                    // reproduced is worth a word.
                    if !matches!(e.reason, Reason::Encrypted { .. } | Reason::NotMd5 { .. }) {
                        r.warnings.push(Warning::EtagNotCompared { reason: e.reason.clone() });
                    }
                }
                // The caller's layout, beaten by another that reproduced the checksum.
                if let Some(given) =
                    self.given.clone().filter(|g| matched_layout.as_ref().is_some_and(|l| l != g))
                {
                    r.warnings.push(Warning::LayoutWrong { given });
                }
                r
            }
            (None, _) => match (checksum_differs, etag_report.take()) {
                (Some(k), etag) => {
                    let algorithm = self.sums[k].remote.algorithm();
                    let mut r =
                        Report::new(size, remote, Verdict::Mismatch, Reason::ChecksumDiffers { algorithm });
                    if let Outcome::Differs(l, _) = &outcomes[k] {
                        r.layout = l.as_ref().map(|l| resolve(l, size));
                    }
                    if let Some(e) = etag {
                        r.computed_etag = e.computed_etag;
                        r.warnings = e.warnings;
                        r.tried = e.tried;
                    }
                    r
                }
                (None, Some(mut e)) => {
                    // The ETag decides (a mismatch, or inconclusive). A checksum was given: the
                    // need for one is met, and what the checksums lack is needed too.
                    if given_checksums && e.verdict == Verdict::Inconclusive {
                        e.needs.retain(|n| *n != Need::Checksum);
                        let more: Vec<Need> =
                            self.sums.iter().flat_map(|p| p.needs.iter().copied()).collect();
                        e = e.needing(&more);
                    }
                    e
                }
                (None, None) => {
                    let algorithm = self.sums.first().map_or(Algorithm::Crc64Nvme, |p| p.remote.algorithm());
                    let more: Vec<Need> = self.sums.iter().flat_map(|p| p.needs.iter().copied()).collect();
                    Report::new(
                        size,
                        remote,
                        Verdict::Inconclusive,
                        Reason::ChecksumNotReproduced { algorithm },
                    )
                    .needing(&more)
                }
            },
        };
        report.size = size;
        report.checksums = self
            .sums
            .iter()
            .zip(outcomes)
            .zip(states)
            .map(|((p, o), st)| {
                let (computed, layout) = match o {
                    Outcome::Match(l, v) | Outcome::Differs(l, v) => (Some(v), l),
                    Outcome::Unknown(full) => (full, None),
                };
                let decided = matches!(st, State::Match | State::Differs);
                let checksum_type = match (decided, &layout) {
                    (true, None) => Some(ChecksumType::FullObject),
                    (true, Some(_)) => Some(ChecksumType::Composite),
                    (false, _) if p.full_certain => Some(ChecksumType::FullObject),
                    (false, _) if !p.full => Some(ChecksumType::Composite),
                    (false, _) => None,
                };
                ChecksumReport {
                    remote: p.remote,
                    verdict: match st {
                        State::Match => Verdict::Match,
                        State::Differs => Verdict::Mismatch,
                        State::Contradicts | State::Unknown => Verdict::Inconclusive,
                    },
                    computed,
                    checksum_type,
                    layout: layout.map(|l| resolve(&l, size)),
                }
            })
            .collect();
        report
    }
}

/// Decides what needs no hashing, and otherwise what to hash. `size` is the source's size when
/// known before reading.
fn plan(size: Option<u64>, remote: Option<&RemoteEtag>, opts: &VerifyOptions) -> Result<Step, VerifyError> {
    if remote.is_none() && opts.checksums.is_empty() {
        return Err(VerifyError::NothingToVerify);
    }
    for c in &opts.checksums {
        let composite = c.parts().is_some() || opts.checksum_type == Some(ChecksumType::Composite);
        if composite && c.algorithm() == Algorithm::Crc64Nvme {
            return Err(VerifyError::ChecksumUnsupported(crate::checksum::Unsupported::CompositeCrc64Nvme));
        }
    }
    // The caller's facts must agree with each other before anything is judged from them.
    if let (Some(Layout::Explicit { part_sizes, .. }), Some(remote_size)) = (&opts.layout, opts.remote_size) {
        let sum = checked_sum(part_sizes);
        if sum != Some(remote_size) {
            return Err(VerifyError::FactsDisagree { sum, remote_size });
        }
    }
    if let (Some(local), Some(remote_size)) = (size, opts.remote_size) {
        if local != remote_size {
            let mut r = size_differs(remote, remote_size, local);
            r.checksums = opts
                .checksums
                .iter()
                .map(|c| ChecksumReport {
                    remote: *c,
                    verdict: Verdict::Inconclusive,
                    computed: None,
                    checksum_type: None,
                    layout: None,
                })
                .collect();
            return Ok(Step::Done(r));
        }
    }
    let etag = match remote {
        None => EtagStep::Absent,
        Some(r) => plan_etag(size, r, opts)?,
    };
    if opts.checksums.is_empty() {
        if let EtagStep::Decided(r) = etag {
            return Ok(Step::Done(r));
        }
    }
    let facts = EtagFacts {
        parts: remote.and_then(RemoteEtag::md5).map(Etag::parts),
        candidates: match &etag {
            EtagStep::Hash(cands, _) => Some(cands),
            _ => None,
        },
    };
    let object_size = size.or(opts.remote_size);
    let sums = opts
        .checksums
        .iter()
        .map(|c| SumPlan::new(*c, opts.checksum_type, &facts, opts.layout.as_ref(), object_size))
        .collect();
    Ok(Step::Hash(Planned { etag, sums, remote: remote.cloned(), sse: opts.sse, given: opts.layout.clone() }))
}

/// What judging needs besides the hashes.
struct Ctx {
    remote: Etag,
    remote_etag: RemoteEtag,
    /// The first candidate's layout is known (the ETag's form, or a caller's layout whose part
    /// count agrees): a different digest for it is a mismatch.
    known: bool,
    sse: Sse,
    remote_size: Option<u64>,
    /// Part counts and the interval, for the reason of an inconclusive verdict.
    interval: Option<Interval>,
    omitted: u64,
    /// The caller's layout, if it leads the candidates.
    given: Option<Layout>,
    warnings: Vec<Warning>,
}

fn size_differs(remote: Option<&RemoteEtag>, remote_size: u64, local: u64) -> Report {
    Report::new(local, remote, Verdict::Mismatch, Reason::SizeDiffers { remote: remote_size, local })
}

fn fixed(layout: Layout) -> Candidate {
    Candidate { layout, uploaders: Vec::new(), origin: Origin::Fixed }
}

/// The needs of a digest that differs for a known layout: only the encryption, when unknown, can
/// still explain it.
fn digest_needs(sse: Sse) -> &'static [Need] {
    match sse.md5_etag() {
        None => &[Need::Encryption, Need::Checksum],
        Some(_) => &[],
    }
}

/// Decides what the ETag says without hashing, and otherwise which layouts to hash for it. `size`
/// is the source's size when known before reading.
fn plan_etag(size: Option<u64>, remote: &RemoteEtag, opts: &VerifyOptions) -> Result<EtagStep, VerifyError> {
    let known_size = size.unwrap_or(opts.remote_size.unwrap_or(0));
    let remote_opt = Some(remote);
    let etag = match remote {
        RemoteEtag::Opaque { shape, .. } => {
            let r =
                Report::new(known_size, remote_opt, Verdict::Inconclusive, Reason::NotMd5 { shape: *shape });
            return Ok(EtagStep::Decided(r.needing(&[Need::Checksum])));
        }
        RemoteEtag::Md5(e) => *e,
    };
    if opts.sse.md5_etag() == Some(false) {
        let r =
            Report::new(known_size, remote_opt, Verdict::Inconclusive, Reason::Encrypted { sse: opts.sse });
        return Ok(EtagStep::Decided(r.needing(&[Need::Checksum])));
    }
    // The object's size, if known before reading: the local file's, else the remote one's.
    let object_size = size.or(opts.remote_size);
    let mut ctx = Ctx {
        remote: etag,
        remote_etag: remote.clone(),
        known: true,
        sse: opts.sse,
        remote_size: opts.remote_size,
        interval: None,
        omitted: 0,
        given: None,
        warnings: Vec::new(),
    };
    let parts = etag.parts();
    let mut cands: Vec<Candidate> = Vec::new();
    match (&opts.layout, parts) {
        (Some(Layout::Single), Some(n)) => {
            let reason = Reason::LayoutDisagrees { layout_parts: None, etag_parts: Some(n) };
            let r = Report::new(known_size, remote_opt, Verdict::Inconclusive, reason);
            return Ok(EtagStep::Decided(r.needing(&[Need::PartSize])));
        }
        (Some(layout), Some(n)) => {
            let need =
                if matches!(layout, Layout::Explicit { .. }) { Need::PartSizes } else { Need::PartSize };
            if let Some(s) = object_size {
                match layout.part_count(s) {
                    Ok(m) if m != u64::from(n) => {
                        let reason = Reason::LayoutDisagrees { layout_parts: Some(m), etag_parts: Some(n) };
                        let mut r = Report::new(s, remote_opt, Verdict::Inconclusive, reason);
                        r.layout = Some(layout.clone());
                        return Ok(EtagStep::Decided(r.needing(&[need])));
                    }
                    Ok(_) => {}
                    Err(LayoutError::SumMismatch { .. }) => {
                        let sum = match layout {
                            Layout::Explicit { part_sizes, .. } => checked_sum(part_sizes),
                            _ => None,
                        };
                        let reason = Reason::PartSizesDisagree { sum, local: s };
                        let r = Report::new(s, remote_opt, Verdict::Inconclusive, reason);
                        return Ok(EtagStep::Decided(r.needing(&[Need::PartSizes, Need::RemoteSize])));
                    }
                    // Only a zero part size or an empty list, which `Layout`'s constructors refuse.
                    Err(_) => {}
                }
                ctx.warnings.extend(layout.limit_warnings(s).into_iter().map(Warning::Limit));
            }
            cands.push(fixed(layout.clone()));
            ctx.given = Some(layout.clone());
            // Other candidates may still reproduce the ETag if the caller's part size is wrong but
            // gives the same part count: a match from the bytes beats a caller's mistake.
            if let (Some(s), true) = (object_size, n >= 2) {
                let more = guess::candidates(s, &etag);
                ctx.interval = more.interval;
                ctx.omitted = more.omitted;
                cands.extend(more.candidates.into_iter().filter(|c| c.layout != *layout));
            }
        }
        (layout, None) => {
            if layout.as_ref().is_some_and(Layout::is_multipart) {
                ctx.warnings.push(Warning::LayoutIgnored);
            }
            match object_size {
                // The single PUT, with the uploaders that make one at this size.
                Some(s) => cands.extend(guess::candidates(s, &etag).candidates),
                None => cands.push(fixed(Layout::Single)),
            }
        }
        (None, Some(1)) => match object_size {
            Some(s) => cands.extend(guess::candidates(s, &etag).candidates),
            // The one part of a `-1` ETag is the whole source, whatever its size.
            None => cands.push(fixed(Layout::Uniform { part_size: u64::MAX })),
        },
        (None, Some(n)) => {
            let s = object_size.ok_or(VerifyError::SizeUnknown)?;
            let c: Candidates = guess::candidates(s, &etag);
            if c.candidates.is_empty() {
                let r =
                    Report::new(s, remote_opt, Verdict::Inconclusive, Reason::NoUniformLayout { parts: n });
                return Ok(EtagStep::Decided(r.needing(&undecided_needs(&ctx))));
            }
            ctx.known = false;
            ctx.interval = c.interval;
            ctx.omitted = c.omitted;
            cands = c.candidates;
        }
    }
    Ok(EtagStep::Hash(cands, ctx))
}

/// What would settle a multipart ETag that no candidate reproduced.
fn undecided_needs(ctx: &Ctx) -> Vec<Need> {
    let mut needs = vec![Need::PartSize, Need::PartSizes];
    if ctx.sse.md5_etag().is_none() {
        needs.push(Need::Encryption);
    }
    if ctx.remote_size.is_none() {
        needs.push(Need::RemoteSize);
    }
    needs
}

/// Judges the ETag from the candidates hashed, `etags[i]` being `cands[i]`'s ETag.
fn judge_etag(ctx: &Ctx, cands: &[Candidate], size: u64, etags: &[Result<Etag, LayoutError>]) -> Report {
    let remote = Some(&ctx.remote_etag);
    let tried = etags.iter().filter(|e| e.is_ok()).count();
    let found = cands.iter().zip(etags).find(|(_, e)| e.as_ref().ok() == Some(&ctx.remote));
    if let Some((cand, etag)) = found {
        let reason = if cand.layout.is_multipart() { Reason::Reproduced } else { Reason::Md5Equal };
        let mut r = Report::new(size, remote, Verdict::Match, reason);
        r.computed_etag = etag.as_ref().ok().copied();
        r.layout = Some(resolve(&cand.layout, size));
        r.uploaders = cand.uploaders.clone();
        r.tried = tried;
        r.warnings = ctx.warnings.clone();
        if let Some(given) = ctx.given.clone().filter(|g| *g != cand.layout) {
            r.warnings.push(Warning::LayoutWrong { given });
        }
        return r;
    }
    let first = cands.first().zip(etags.first());
    let mut r = match first {
        Some((cand, Ok(computed))) if ctx.known => {
            // Only a source whose size was unknown before reading can reach here with another
            // part count than the ETag's: the caller's part size was checked against known sizes.
            if computed.parts() != ctx.remote.parts() {
                let reason = Reason::LayoutDisagrees {
                    layout_parts: computed.parts().map(u64::from),
                    etag_parts: ctx.remote.parts(),
                };
                let need = if matches!(cand.layout, Layout::Explicit { .. }) {
                    Need::PartSizes
                } else {
                    Need::PartSize
                };
                let mut r = Report::new(size, remote, Verdict::Inconclusive, reason).needing(&[need]);
                r.layout = Some(resolve(&cand.layout, size));
                r.computed_etag = Some(*computed);
                r
            } else {
                let mut r = Report::new(size, remote, Verdict::Mismatch, Reason::DigestDiffers)
                    .needing(digest_needs(ctx.sse));
                r.layout = Some(resolve(&cand.layout, size));
                r.computed_etag = Some(*computed);
                r
            }
        }
        // The caller's part sizes do not fit the bytes that were read (a pipe).
        Some((Candidate { layout: Layout::Explicit { part_sizes, .. }, .. }, Err(_))) if ctx.known => {
            let reason = Reason::PartSizesDisagree { sum: checked_sum(part_sizes), local: size };
            Report::new(size, remote, Verdict::Inconclusive, reason)
                .needing(&[Need::PartSizes, Need::RemoteSize])
        }
        _ => {
            let parts = ctx.remote.parts().unwrap_or(1);
            let reason = Reason::NotReproduced { parts, interval: ctx.interval, omitted: ctx.omitted };
            Report::new(size, remote, Verdict::Inconclusive, reason).needing(&undecided_needs(ctx))
        }
    };
    r.tried = tried;
    r.warnings = ctx.warnings.clone();
    r
}

/// A layout as reported: a one-part upload of unknown part size is shown with the object's size.
fn resolve(layout: &Layout, size: u64) -> Layout {
    match layout {
        Layout::Uniform { part_size: u64::MAX, .. } => Layout::Uniform { part_size: size.max(1) },
        l => l.clone(),
    }
}
