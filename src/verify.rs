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
//! The module is sans-IO at its core: one private function plans from the facts, asks a hashing
//! closure for the layouts it needs, and judges. The `verify_*` functions plug in the engine.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use crate::engine::{self, EngineError, Hashed, Progress, ReadOptions};
use crate::etag::{Etag, OpaqueShape, RemoteEtag};
use crate::guess::{self, Candidate, Candidates, Interval, Origin};
use crate::layout::{checked_sum, sum_text, Layout, LayoutError, LimitWarning};

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
}

/// The verdict for one source, with everything needed to explain it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// The local source's size in bytes (for an undecided source that was not read, the size known
    /// before reading, or 0).
    pub size: u64,
    /// The remote ETag.
    pub remote_etag: RemoteEtag,
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
}

impl Report {
    fn new(size: u64, remote: &RemoteEtag, verdict: Verdict, reason: Reason) -> Report {
        Report {
            size,
            remote_etag: remote.clone(),
            computed_etag: None,
            verdict,
            reason,
            needs: Vec::new(),
            layout: None,
            uploaders: Vec::new(),
            tried: 0,
            warnings: Vec::new(),
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
}

/// Verifies the file at `path` against `remote`.
pub fn verify_path(
    path: &Path,
    remote: &RemoteEtag,
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
pub fn verify_file(
    file: &File,
    size: Option<u64>,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    match size {
        Some(_) => verify_with(size, remote, opts, true, |layouts, _| {
            engine::hash_file(file, size, layouts, read, progress)
        }),
        None => verify_reader(file, None, remote, opts, read, progress),
    }
}

/// Verifies what `reader` yields (`size` bytes, if known before reading) against `remote`. The
/// reader is read once.
pub fn verify_reader<R: Read + Send>(
    reader: R,
    size: Option<u64>,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let mut reader = Some(reader);
    verify_with(size, remote, opts, false, |layouts, expected| match reader.take() {
        Some(r) => engine::hash_reader(r, expected, layouts, read, progress),
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
    /// The remote ETag.
    pub remote: &'a RemoteEtag,
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
    let mut batch: Vec<(usize, Vec<Candidate>, Ctx)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match job.size {
            Some(size) if size <= BATCH_FILE_MAX => match plan(Some(size), job.remote, job.opts) {
                Ok(Plan::Hash(cands, ctx)) => batch.push((i, cands, ctx)),
                Ok(Plan::Decided(report)) => out[i] = Some(Ok(report)),
                Err(e) => out[i] = Some(Err(e)),
            },
            _ => out[i] = Some(verify_file(job.file, job.size, job.remote, job.opts, read, progress)),
        }
    }
    let layouts: Vec<Vec<Layout>> =
        batch.iter().map(|(_, cands, _)| cands.iter().map(|c| c.layout.clone()).collect()).collect();
    let file_jobs: Vec<engine::FileJob<'_>> = batch
        .iter()
        .zip(&layouts)
        .map(|((i, _, _), layouts)| engine::FileJob { file: jobs[*i].file, size: jobs[*i].size, layouts })
        .collect();
    let hashed = engine::hash_files(&file_jobs, read, progress);
    for ((i, cands, ctx), result) in batch.into_iter().zip(hashed) {
        out[i] = Some(match result {
            Ok(h) => Ok(judge(ctx, &cands, h)),
            Err(e) => Err(e.into()),
        });
    }
    out.into_iter().map(|r| r.expect("every file has a result")).collect()
}

/// Hashes a source for a list of layouts, given the size it must have (if known).
type HashFn<'a> = dyn FnMut(&[Layout], Option<u64>) -> Result<Hashed, EngineError> + 'a;

/// Plans from the facts, hashes with `hash` (given the layouts and the size the source must have,
/// if known) and judges. `rereadable`: the source can be hashed a second time, so the likely
/// layouts go first and the others only if none of them matched.
fn verify_with(
    size: Option<u64>,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
    rereadable: bool,
    mut hash: impl FnMut(&[Layout], Option<u64>) -> Result<Hashed, EngineError>,
) -> Result<Report, VerifyError> {
    let (cands, ctx) = match plan(size, remote, opts)? {
        Plan::Decided(report) => return Ok(report),
        Plan::Hash(cands, ctx) => (cands, ctx),
    };
    let expected = size.or(opts.remote_size);
    let run = |which: &[usize], hash: &mut HashFn<'_>| {
        let layouts: Vec<Layout> = which.iter().map(|&i| cands[i].layout.clone()).collect();
        hash(&layouts, expected)
    };
    // The caller's layout and the uploaders' layouts reproduce nearly every real ETag. When the
    // source can be read again they go first, and the other candidates are hashed only if none
    // of them matched: a match then costs one layout's worth of hashing.
    let (likely, rest): (Vec<usize>, Vec<usize>) =
        (0..cands.len()).partition(|&i| matches!(cands[i].origin, Origin::Uploader | Origin::Fixed));
    let staged = rereadable && !likely.is_empty() && !rest.is_empty();
    let first: Vec<usize> = if staged { likely } else { (0..cands.len()).collect() };
    let mut hashed = match run(&first, &mut hash) {
        // A stream that is not of the remote size is not the remote object.
        Err(EngineError::SizeChanged { actual, .. }) if size.is_none() && opts.remote_size.is_some() => {
            let remote_size = opts.remote_size.unwrap_or_default();
            return Ok(size_differs(remote, remote_size, actual));
        }
        other => other?,
    };
    let mut order = first;
    if staged && !hashed.etags.iter().any(|e| e.as_ref().ok() == Some(&ctx.remote)) {
        let more = run(&rest, &mut hash)?;
        hashed.etags.extend(more.etags);
        order.extend(rest);
    }
    let kept: Vec<Candidate> = order.iter().map(|&i| cands[i].clone()).collect();
    Ok(judge(ctx, &kept, hashed))
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

enum Plan {
    Decided(Report),
    Hash(Vec<Candidate>, Ctx),
}

fn size_differs(remote: &RemoteEtag, remote_size: u64, local: u64) -> Report {
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

/// Decides what needs no hashing, and otherwise which layouts to hash. `size` is the source's
/// size when known before reading.
fn plan(size: Option<u64>, remote: &RemoteEtag, opts: &VerifyOptions) -> Result<Plan, VerifyError> {
    // The caller's facts must agree with each other before anything is judged from them.
    if let (Some(Layout::Explicit { part_sizes, .. }), Some(remote_size)) = (&opts.layout, opts.remote_size) {
        let sum = checked_sum(part_sizes);
        if sum != Some(remote_size) {
            return Err(VerifyError::FactsDisagree { sum, remote_size });
        }
    }
    let known_size = size.unwrap_or(opts.remote_size.unwrap_or(0));
    if let (Some(local), Some(remote_size)) = (size, opts.remote_size) {
        if local != remote_size {
            return Ok(Plan::Decided(size_differs(remote, remote_size, local)));
        }
    }
    let etag = match remote {
        RemoteEtag::Opaque { shape, .. } => {
            let r = Report::new(known_size, remote, Verdict::Inconclusive, Reason::NotMd5 { shape: *shape });
            return Ok(Plan::Decided(r.needing(&[Need::Checksum])));
        }
        RemoteEtag::Md5(e) => *e,
    };
    if opts.sse.md5_etag() == Some(false) {
        let r = Report::new(known_size, remote, Verdict::Inconclusive, Reason::Encrypted { sse: opts.sse });
        return Ok(Plan::Decided(r.needing(&[Need::Checksum])));
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
            let r = Report::new(known_size, remote, Verdict::Inconclusive, reason);
            return Ok(Plan::Decided(r.needing(&[Need::PartSize])));
        }
        (Some(layout), Some(n)) => {
            let need =
                if matches!(layout, Layout::Explicit { .. }) { Need::PartSizes } else { Need::PartSize };
            if let Some(s) = object_size {
                match layout.part_count(s) {
                    Ok(m) if m != u64::from(n) => {
                        let reason = Reason::LayoutDisagrees { layout_parts: Some(m), etag_parts: Some(n) };
                        let mut r = Report::new(s, remote, Verdict::Inconclusive, reason);
                        r.layout = Some(layout.clone());
                        return Ok(Plan::Decided(r.needing(&[need])));
                    }
                    Ok(_) => {}
                    Err(LayoutError::SumMismatch { .. }) => {
                        let sum = match layout {
                            Layout::Explicit { part_sizes, .. } => checked_sum(part_sizes),
                            _ => None,
                        };
                        let reason = Reason::PartSizesDisagree { sum, local: s };
                        let r = Report::new(s, remote, Verdict::Inconclusive, reason);
                        return Ok(Plan::Decided(r.needing(&[Need::PartSizes, Need::RemoteSize])));
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
                let r = Report::new(s, remote, Verdict::Inconclusive, Reason::NoUniformLayout { parts: n });
                return Ok(Plan::Decided(r.needing(&undecided_needs(&ctx))));
            }
            ctx.known = false;
            ctx.interval = c.interval;
            ctx.omitted = c.omitted;
            cands = c.candidates;
        }
    }
    Ok(Plan::Hash(cands, ctx))
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

fn judge(ctx: Ctx, cands: &[Candidate], hashed: Hashed) -> Report {
    let size = hashed.size;
    let remote = &ctx.remote_etag;
    let tried = hashed.etags.iter().filter(|e| e.is_ok()).count();
    let found = cands.iter().zip(&hashed.etags).find(|(_, e)| e.as_ref().ok() == Some(&ctx.remote));
    if let Some((cand, etag)) = found {
        let reason = if cand.layout.is_multipart() { Reason::Reproduced } else { Reason::Md5Equal };
        let mut r = Report::new(size, remote, Verdict::Match, reason);
        r.computed_etag = etag.as_ref().ok().copied();
        r.layout = Some(resolve(&cand.layout, size));
        r.uploaders = cand.uploaders.clone();
        r.tried = tried;
        r.warnings = ctx.warnings;
        if let Some(given) = ctx.given.filter(|g| *g != cand.layout) {
            r.warnings.push(Warning::LayoutWrong { given });
        }
        return r;
    }
    let first = cands.first().zip(hashed.etags.first());
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
            Report::new(size, remote, Verdict::Inconclusive, reason).needing(&undecided_needs(&ctx))
        }
    };
    r.tried = tried;
    r.warnings = ctx.warnings;
    r
}

/// A layout as reported: a one-part upload of unknown part size is shown with the object's size.
fn resolve(layout: &Layout, size: u64) -> Layout {
    match layout {
        Layout::Uniform { part_size: u64::MAX, .. } => Layout::Uniform { part_size: size.max(1) },
        l => l.clone(),
    }
}
