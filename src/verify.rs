//! Verdicts: does a local file equal the object behind a remote ETag?
//!
//! The promise: "match" only when the remote ETag was reproduced exactly from the local bytes;
//! "mismatch" only when the layout is known (a single-part or `-1` ETag, a part size the caller
//! gave) and the digest differs, or when the sizes alone rule the object out. Everything else is
//! "inconclusive", with the reason and the `aws s3api` request that reads the missing fact.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use crate::engine::{self, EngineError, Progress, ReadOptions};
use crate::etag::{Etag, RemoteEtag};
use crate::guess::{self, Candidate, Candidates, Interval};
use crate::layout::Layout;

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// Server-side encryption of the remote object, as the caller knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sse {
    /// Not known (the default): a mismatch then advises checking the encryption.
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

impl FromStr for Sse {
    type Err = String;
    fn from_str(s: &str) -> Result<Sse, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Sse::None),
            "s3" | "aes256" => Ok(Sse::S3),
            "kms" | "aws:kms" | "dsse" | "aws:kms:dsse" => Ok(Sse::Kms),
            "c" | "sse-c" => Ok(Sse::C),
            _ => Err(format!("invalid encryption '{s}'; expected none, s3, kms or c")),
        }
    }
}

/// What the caller knows about the remote object besides its ETag.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The remote object's size (ContentLength), if known.
    pub remote_size: Option<u64>,
    /// The layout the object was uploaded with, if known (`--part-size`, `--part-sizes`).
    pub layout: Option<Layout>,
    /// The remote object's encryption, if known.
    pub sse: Sse,
}

/// The verdict for one file, with everything needed to explain it.
#[derive(Clone, Debug)]
pub struct Report {
    /// The local file's size.
    pub size: u64,
    /// The remote ETag, normalised (no quotes, lower case).
    pub remote_etag: String,
    /// The ETag computed for the layout that decided the verdict, if any was computed.
    pub computed_etag: Option<Etag>,
    /// The verdict.
    pub verdict: Verdict,
    /// The layout that matched, or that was known and differs.
    pub layout: Option<Layout>,
    /// Catalog uploaders whose defaults give that layout for this size.
    pub uploaders: Vec<&'static str>,
    /// Why the verdict is what it is, in one sentence.
    pub reason: String,
    /// For an inconclusive verdict, or a mismatch that could be a false alarm: the request that
    /// reads the missing fact from S3.
    pub advice: Option<String>,
    /// The number of layouts hashed.
    pub tried: usize,
    /// Ways in which a layout the caller gave breaks S3's limits.
    pub warnings: Vec<String>,
}

/// Why a file could not be verified at all (as opposed to an inconclusive verdict).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Reading or hashing failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A part size must be guessed, but the source's size is not known before reading (stdin).
    #[error(
        "the size of standard input is not known in advance: give --size, or the layout with --part-size"
    )]
    SizeUnknown,
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
    let name = path.display().to_string();
    // A regular file can be read twice: the likely layouts first, the rest only if none matched.
    verify_with(size, &name, remote, opts, size.is_some(), |layouts, expected| {
        engine::hash_file(&file, expected, layouts, read, progress)
    })
}

/// Verifies what `reader` yields (`size` bytes, if known) against `remote`. `name` is used in the
/// advice, where a command line is suggested.
pub fn verify_reader<R: Read + Send>(
    reader: R,
    size: Option<u64>,
    name: &str,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let mut reader = Some(reader);
    verify_with(size, name, remote, opts, false, |layouts, expected| {
        let reader = reader.take().expect("a reader is read once");
        engine::hash_reader(reader, expected, layouts, read, progress)
    })
}

/// Plans, hashes with `hash` (given the layouts and the expected size) and judges.
fn verify_with(
    size: Option<u64>,
    name: &str,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
    rereadable: bool,
    mut hash: impl FnMut(&[Layout], Option<u64>) -> Result<engine::Hashed, EngineError>,
) -> Result<Report, VerifyError> {
    let plan = plan(size.or(opts.remote_size), name, remote, opts)?;
    let (candidates, ctx) = match plan {
        Plan::Decided(report) => return Ok(report),
        Plan::Hash(candidates, ctx) => (candidates, ctx),
    };
    let expected = size.or(opts.remote_size);
    let mut run = |which: &[usize]| -> Result<engine::Hashed, EngineError> {
        let layouts: Vec<Layout> = which.iter().map(|&i| candidates.candidates[i].layout.clone()).collect();
        hash(&layouts, expected)
    };
    // The uploaders' layouts reproduce nearly every real ETag. When the source can be read again,
    // they go first and the other candidates are hashed only if none of them matched: a match then
    // costs one layout's worth of hashing, and an inconclusive answer one more read.
    let (likely, rest): (Vec<usize>, Vec<usize>) = (0..candidates.candidates.len()).partition(|&i| {
        matches!(candidates.candidates[i].origin, guess::Origin::Uploader | guess::Origin::Fixed)
    });
    let staged = rereadable && !likely.is_empty() && !rest.is_empty();
    let first: Vec<usize> = if staged { likely.clone() } else { (0..candidates.candidates.len()).collect() };
    let mut hashed = match run(&first) {
        // A source that is not the remote size is not the remote object.
        Err(EngineError::SizeChanged { actual, .. }) if size.is_none() => {
            return Ok(size_mismatch(&ctx, opts.remote_size.unwrap_or_default(), actual));
        }
        other => other?,
    };
    let mut order = first;
    if staged && !hashed.etags.iter().any(|e| e.as_ref().ok() == Some(&ctx.remote)) {
        let more = run(&rest)?;
        hashed.etags.extend(more.etags);
        hashed.part_digests.extend(more.part_digests);
        order.extend(rest);
    }
    // Put the results back in the candidates' order, leaving out those not hashed.
    let mut at: Vec<Option<usize>> = vec![None; candidates.candidates.len()];
    for (k, &i) in order.iter().enumerate() {
        at[i] = Some(k);
    }
    let (mut etags, mut part_digests, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    for (cand, k) in candidates.candidates.iter().zip(at) {
        if let Some(k) = k {
            etags.push(hashed.etags[k].clone());
            part_digests.push(std::mem::take(&mut hashed.part_digests[k]));
            kept.push(cand.clone());
        }
    }
    let hashed = engine::Hashed { size: hashed.size, etags, part_digests };
    Ok(judge(ctx, Candidates { candidates: kept, ..candidates }, hashed))
}

/// What the verdict needs besides the hashes.
struct Ctx {
    name: String,
    remote: Etag,
    /// Whether the layout is known, so that a different digest is a mismatch.
    known: bool,
    warnings: Vec<String>,
}

enum Plan {
    Decided(Report),
    Hash(Candidates, Ctx),
}

fn report(size: u64, remote: &str, verdict: Verdict, reason: String) -> Report {
    Report {
        size,
        remote_etag: remote.to_string(),
        computed_etag: None,
        verdict,
        layout: None,
        uploaders: Vec::new(),
        reason,
        advice: None,
        tried: 0,
        warnings: Vec::new(),
    }
}

fn size_mismatch(ctx: &Ctx, remote_size: u64, local: u64) -> Report {
    report(
        local,
        &ctx.remote.to_string(),
        Verdict::Mismatch,
        format!("the remote object has {remote_size} bytes, the local file {local}"),
    )
}

/// Advice that reads the encryption of the object, for a digest that differs although the layout
/// was known: an encrypted object's ETag is no MD5, so the difference may not be in the bytes.
fn encryption_advice() -> String {
    "if the object is encrypted with SSE-KMS or SSE-C its ETag is not an MD5 of the content; check with: \
     aws s3api head-object --bucket BUCKET --key KEY --query '[ServerSideEncryption,SSECustomerAlgorithm]' \
     (aws:kms, aws:kms:dsse or an SSECustomerAlgorithm mean the ETag cannot be compared; compare an \
     additional checksum instead: aws s3api head-object --bucket BUCKET --key KEY --checksum-mode ENABLED)"
        .to_string()
}

fn plan(
    size: Option<u64>,
    name: &str,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
) -> Result<Plan, VerifyError> {
    let etag = match remote {
        RemoteEtag::Opaque { value, looks_like } => {
            let mut r = report(
                size.unwrap_or(0),
                value,
                Verdict::Inconclusive,
                format!(
                    "the remote ETag is {looks_like}: it is not MD5-based (an object encrypted with SSE-KMS, \
                     DSSE-KMS or SSE-C, a directory bucket, or a store with its own ETag scheme)"
                ),
            );
            r.advice = Some(
                "compare an additional checksum instead: aws s3api head-object --bucket BUCKET --key KEY \
                 --checksum-mode ENABLED"
                    .to_string(),
            );
            return Ok(Plan::Decided(r));
        }
        RemoteEtag::Md5(e) => *e,
    };
    let remote_text = etag.to_string();
    if let (Some(local), Some(remote_size)) = (size, opts.remote_size) {
        if local != remote_size {
            let ctx = Ctx { name: name.into(), remote: etag, known: true, warnings: vec![] };
            return Ok(Plan::Decided(size_mismatch(&ctx, remote_size, local)));
        }
    }
    if matches!(opts.sse, Sse::Kms | Sse::C) {
        let kind = if opts.sse == Sse::Kms { "SSE-KMS" } else { "SSE-C" };
        let mut r = report(
            size.unwrap_or(0),
            &remote_text,
            Verdict::Inconclusive,
            format!(
                "the object is encrypted with {kind}: S3 does not make its ETag from the MD5 of the content"
            ),
        );
        r.advice = Some(
            "compare an additional checksum, which survives encryption: aws s3api head-object --bucket BUCKET \
             --key KEY --checksum-mode ENABLED"
                .to_string(),
        );
        return Ok(Plan::Decided(r));
    }

    let mut warnings = Vec::new();
    let ctx = |known, warnings| Ctx { name: name.into(), remote: etag, known, warnings };
    match (&opts.layout, etag.parts()) {
        (Some(layout), Some(n)) if layout.is_multipart() => {
            if let Some(size) = size {
                warnings.extend(layout.limit_warnings(size).iter().map(|w| w.to_string()));
                match layout.part_count(size) {
                    Ok(m) if m != u64::from(n) => {
                        let mut r = report(
                            size,
                            &remote_text,
                            Verdict::Mismatch,
                            format!("{layout} gives {m} parts for {size} bytes, but the remote ETag has {n}"),
                        );
                        r.layout = Some(layout.clone());
                        r.warnings = warnings;
                        return Ok(Plan::Decided(r));
                    }
                    Err(e) => {
                        let mut r = report(size, &remote_text, Verdict::Mismatch, e.to_string());
                        r.layout = Some(layout.clone());
                        return Ok(Plan::Decided(r));
                    }
                    Ok(_) => {}
                }
            }
            let c = Candidate { layout: layout.clone(), uploaders: Vec::new(), origin: guess::Origin::Fixed };
            let cands = Candidates { interval: None, candidates: vec![c], omitted: 0 };
            Ok(Plan::Hash(cands, ctx(true, warnings)))
        }
        (Some(Layout::Single), Some(n)) => {
            let r = report(
                size.unwrap_or(0),
                &remote_text,
                Verdict::Mismatch,
                format!("a single-part upload has a plain MD5 ETag, but the remote ETag has {n} parts"),
            );
            Ok(Plan::Decided(r))
        }
        (layout, parts) => {
            if layout.as_ref().is_some_and(|l| l.is_multipart()) && parts.is_none() {
                warnings.push("the remote ETag is single-part, so the part size given does not apply".into());
            }
            let known = !matches!(parts, Some(n) if n >= 2);
            let size = match size {
                Some(s) => s,
                None if known => {
                    // Stdin: the layout is known without the size.
                    let layout = if parts.is_some() {
                        Layout::Uniform { part_size: u64::MAX }
                    } else {
                        Layout::Single
                    };
                    let c = Candidate { layout, uploaders: Vec::new(), origin: guess::Origin::Fixed };
                    let cands = Candidates { interval: None, candidates: vec![c], omitted: 0 };
                    return Ok(Plan::Hash(cands, ctx(true, warnings)));
                }
                None => return Err(VerifyError::SizeUnknown),
            };
            let cands = guess::candidates(size, &etag);
            if !known && cands.candidates.is_empty() {
                let n = parts.unwrap_or(0);
                let mut r = report(
                    size,
                    &remote_text,
                    Verdict::Mismatch,
                    format!("no upload within S3's limits can split {size} bytes into {n} parts"),
                );
                if guess::feasible_within_s3_limits(size, n) {
                    // Uneven parts could: that is not a mismatch.
                    r.verdict = Verdict::Inconclusive;
                    r.reason = format!(
                        "no uniform part size splits {size} bytes into {n} parts, so the parts were uneven"
                    );
                    r.advice = Some(parts_advice(name, &remote_text, n));
                }
                return Ok(Plan::Decided(r));
            }
            Ok(Plan::Hash(cands, ctx(known, warnings)))
        }
    }
}

/// The requests that read the part layout from S3, and how to feed it back.
fn parts_advice(name: &str, remote: &str, n: u32) -> String {
    format!(
        "read the part size from S3: aws s3api head-object --bucket BUCKET --key KEY --part-number 1 \
         (ContentLength is the part size; PartsCount should be {n}), then run: etagsum verify '{name}' {remote} \
         --part-size <ContentLength>; for uneven parts, list every part's size: aws s3api get-object-attributes \
         --bucket BUCKET --key KEY --object-attributes ObjectParts, then run: etagsum verify '{name}' {remote} \
         --part-sizes <Size1>,<Size2>,..."
    )
}

fn judge(ctx: Ctx, cands: Candidates, hashed: engine::Hashed) -> Report {
    let size = hashed.size;
    let remote_text = ctx.remote.to_string();
    let tried = hashed.etags.iter().filter(|e| e.is_ok()).count();
    let found =
        cands.candidates.iter().zip(&hashed.etags).find(|(_, e)| e.as_ref().ok() == Some(&ctx.remote));
    let mut r = report(size, &remote_text, Verdict::Match, String::new());
    r.tried = tried;
    r.warnings = ctx.warnings;
    if let Some((cand, etag)) = found {
        r.computed_etag = etag.as_ref().ok().copied();
        r.layout = Some(resolve(&cand.layout, size));
        r.uploaders = cand.uploaders.clone();
        r.reason = match &cand.layout {
            Layout::Single => "the MD5 of the file equals the remote ETag".to_string(),
            l => format!("reproduced with {}", describe(l, size)),
        };
        return r;
    }
    if ctx.known {
        let (cand, etag) = (&cands.candidates[0], &hashed.etags[0]);
        r.verdict = Verdict::Mismatch;
        r.layout = Some(resolve(&cand.layout, size));
        match etag {
            Ok(computed) => {
                r.computed_etag = Some(*computed);
                r.reason = match cand.layout {
                    Layout::Single => format!("the MD5 of the file is {computed}, not {remote_text}"),
                    _ => format!("{} gives {computed}, not {remote_text}", describe(&cand.layout, size)),
                };
                r.advice = Some(encryption_advice());
            }
            Err(e) => r.reason = e.to_string(),
        }
        return r;
    }
    let n = ctx.remote.parts().unwrap_or(1);
    if !guess::feasible_within_s3_limits(size, n) {
        r.verdict = Verdict::Mismatch;
        r.reason = format!("no upload within S3's limits can split {size} bytes into {n} parts");
        return r;
    }
    r.verdict = Verdict::Inconclusive;
    let span = cands
        .interval
        .map(|Interval { min, max }| format!("part sizes from {min} to {max} bytes give {n} parts"));
    let omitted = if cands.omitted > 0 {
        format!(" ({} more whole-unit part sizes left untried)", cands.omitted)
    } else {
        String::new()
    };
    r.reason = format!(
        "none of the {tried} part sizes tried reproduces the ETag{}{omitted}: the part size is unusual, the parts \
         are uneven, the object is encrypted, or the file differs",
        span.map(|s| format!("; {s}")).unwrap_or_default()
    );
    r.advice = Some(parts_advice(&ctx.name, &remote_text, n));
    r
}

/// A layout as reported: a one-part upload of unknown part size is shown with the object's size.
fn resolve(layout: &Layout, size: u64) -> Layout {
    match layout {
        Layout::Uniform { part_size: u64::MAX } => Layout::Uniform { part_size: size.max(1) },
        l => l.clone(),
    }
}

/// "part size 8 MiB (3 parts)".
pub fn describe(layout: &Layout, size: u64) -> String {
    let layout = resolve(layout, size);
    match layout.part_count(size) {
        Ok(n) if layout.is_multipart() => format!("{layout} ({n} part{})", if n == 1 { "" } else { "s" }),
        _ => layout.to_string(),
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
