//! Checking every entry of a listing against local files.
//!
//! [`check`] takes the entries in batches (at most [`BATCH_ENTRIES`] entries or [`BATCH_BYTES`]
//! listed bytes), maps and opens the batch's files in parallel on the caller's rayon pool (opens
//! dominate the time for small files), compares the sizes (a listed size that is not the local
//! size is a mismatch without hashing), verifies the rest together on the engine (small files
//! share the kernels' lanes), and hands one [`Checked`] per object to the caller in listing order.
//! Memory is one batch's, whatever the listing's length; with [`CheckOptions::extra`], also 16
//! bytes per listed key.
//!
//! The rules:
//! - a key outside [`CheckOptions::prefix`] is skipped and counted (an S3 Inventory lists the
//!   whole bucket), and so is a folder marker (a key ending in `/` of 0 bytes, or of no listed
//!   size) and a key of another shard;
//! - a key that cannot name a file beneath the root is an error for that object ([`KeyError`]),
//!   and so is an ETag that cannot be read, a file that cannot be opened or read, a record the
//!   reader could not read ([`BadEntry`]); the run goes on;
//! - no local file: [`Outcome::Missing`]; an entry without an ETag: [`Outcome::NoEtag`], a
//!   mismatch when the sizes differ, else inconclusive (no evidence either way);
//! - with [`CheckOptions::extra`], the files under the root that no key names come last, as
//!   [`Outcome::Extra`].

use std::collections::HashSet;
use std::fmt;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use thiserror::Error;

use super::root::{bytes_to_path, open_plain, FoundKind, KeyError, LocalFile, OpenError, RelPath};
use super::{At, BadEntry, Entry, ListingError, Root, Shard, Skipped, Source};
use crate::checksum::{Algorithm, Checksum, ChecksumError};
use crate::engine::{Progress, ReadOptions};
use crate::etag::{EtagError, Md5Digest, RemoteEtag};
use crate::verify::{verify_files, Report, Verdict, VerifyError, VerifyJob, VerifyOptions};

/// Entries taken from the listing at once, at most: the files of a batch are open together, and
/// this stays well below the usual limit of 1024 open files.
pub const BATCH_ENTRIES: usize = 512;
/// Listed bytes in one batch, at most (a larger object makes a batch alone).
pub const BATCH_BYTES: u64 = 256 << 20;
/// Bytes of local files verified in one call of the engine, at most (a larger file goes alone):
/// outcomes are handed over after each call, so this bounds how long the caller waits for the
/// next one and how much is hashed after it asks to stop.
const GROUP_BYTES: u64 = 256 << 20;

/// How [`check`] maps keys to files and which keys it checks.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The tree the keys live under: each key (without the prefix) is opened beneath it and
    /// nowhere else. `None`: each key is a path relative to the working directory, opened as
    /// `md5sum -c` opens the names of a checkfile (symlinks followed, absolute paths allowed).
    pub root: Option<Root>,
    /// Keys start with this; it is cut off before the key is joined to the root. Keys that do
    /// not start with it are skipped (and counted).
    pub prefix: Vec<u8>,
    /// Also report the files under the root that the listing does not name (after the listed
    /// objects). Only with a root; ignored without one. Not when keys were listed but none
    /// starts with the prefix: the prefix is then a mistake, not an empty folder, and every file
    /// would be a false alarm.
    pub extra: bool,
    /// Check only the keys of this shard.
    pub shard: Option<Shard>,
}

impl CheckOptions {
    /// Whether [`check`] checks `entry` (it starts with the prefix, is not a folder marker, and
    /// falls in the shard), or skips it: for a caller that counts the work ahead.
    pub fn selects(&self, entry: &Entry) -> bool {
        self.skip(entry).is_none()
    }

    fn skip(&self, entry: &Entry) -> Option<Skip> {
        if !entry.key.starts_with(&self.prefix) {
            return Some(Skip::OutsidePrefix);
        }
        if entry.key.ends_with(b"/") && entry.size.unwrap_or(0) == 0 {
            return Some(Skip::FolderMarker);
        }
        if self.shard.is_some_and(|s| !s.contains(&entry.key)) {
            return Some(Skip::OtherShard);
        }
        None
    }
}

#[derive(Clone, Copy, Debug)]
enum Skip {
    OutsidePrefix,
    FolderMarker,
    OtherShard,
}

/// The answer for one object.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The file was verified: match, mismatch or inconclusive.
    Verified(Box<Report>),
    /// No local file for the key.
    Missing,
    /// A local file (or symlink) under the root that the listing does not name.
    Extra,
    /// The listing gives no ETag for the object (an S3 Inventory without the ETag field): only
    /// the sizes could be compared. A size that differs is a mismatch; otherwise nothing is known.
    NoEtag {
        /// The listed size is not the local size.
        size_differs: bool,
    },
    /// The object could not be checked.
    Error(CheckError),
}

impl Outcome {
    /// Which of the six kinds of answer this is.
    pub fn kind(&self) -> Kind {
        match self {
            Outcome::Verified(r) => match r.verdict {
                Verdict::Match => Kind::Match,
                Verdict::Mismatch => Kind::Mismatch,
                Verdict::Inconclusive => Kind::Inconclusive,
            },
            Outcome::Missing => Kind::Missing,
            Outcome::Extra => Kind::Extra,
            Outcome::NoEtag { size_differs: true } => Kind::Mismatch,
            Outcome::NoEtag { size_differs: false } => Kind::Inconclusive,
            Outcome::Error(_) => Kind::Error,
        }
    }
}

/// The kinds of answer, for counting and for scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The ETag was reproduced.
    Match,
    /// The local file is not the object.
    Mismatch,
    /// Nothing can be said from the local bytes.
    Inconclusive,
    /// No local file.
    Missing,
    /// A local file the listing does not name.
    Extra,
    /// Could not be checked.
    Error,
}

impl Kind {
    /// Every kind, in this order.
    pub const ALL: [Kind; 6] =
        [Kind::Match, Kind::Mismatch, Kind::Inconclusive, Kind::Missing, Kind::Extra, Kind::Error];

    /// `match`, `mismatch`, `inconclusive`, `missing`, `extra` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Match => "match",
            Kind::Mismatch => "mismatch",
            Kind::Inconclusive => "inconclusive",
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::Error => "error",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an object could not be checked.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The reader could not read the record (its place is in [`Checked::at`]).
    #[error("{0}")]
    BadEntry(String),
    /// The key cannot name a file beneath the root.
    #[error("{0}")]
    Key(KeyError),
    /// The file could not be opened, or is not a regular file.
    #[error("{0}")]
    Open(OpenError),
    /// The listed ETag cannot be read.
    #[error("{0}")]
    Etag(EtagError),
    /// A listed checksum cannot be read.
    #[error("{0}")]
    Checksum(ChecksumError),
    /// Reading or hashing the file failed.
    #[error("{0}")]
    Verify(VerifyError),
    /// S3 could not settle the answer (the `s3` feature's check): the request that failed and
    /// why.
    #[error("{0}")]
    Remote(String),
    /// A directory under the root could not be read while looking for extra files.
    #[error("cannot read the directory: {0}")]
    Walk(std::io::Error),
}

/// One object checked.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// The key as listed (with the prefix); empty for a record that could not be read.
    pub key: Vec<u8>,
    /// The local file the key maps to, if it maps to one: the root joined with the key without
    /// its prefix, or the name of a checkfile.
    pub path: Option<PathBuf>,
    /// The size the listing gives.
    pub size: Option<u64>,
    /// The local file's size, when it was found.
    pub local_size: Option<u64>,
    /// The ETag as the listing gives it.
    pub remote_etag: Option<String>,
    /// The additional checksums the listing gives, as written.
    pub remote_checksums: Vec<(Algorithm, String)>,
    /// Where the entry was read.
    pub at: Option<At>,
    /// The requests made to S3 to settle the answer (the `s3` feature's check); 0 when the
    /// listing was enough.
    pub requests: u32,
    /// The answer.
    pub outcome: Outcome,
}

impl Checked {
    pub(crate) fn new(entry: Entry) -> Checked {
        Checked {
            key: entry.key,
            path: None,
            size: entry.size,
            local_size: None,
            remote_etag: entry.etag,
            remote_checksums: entry.checksums,
            at: entry.at,
            requests: 0,
            outcome: Outcome::Missing,
        }
    }

    fn bad(bad: BadEntry) -> Checked {
        Checked {
            key: Vec::new(),
            path: None,
            size: None,
            local_size: None,
            remote_etag: None,
            remote_checksums: Vec::new(),
            at: Some(bad.at),
            requests: 0,
            outcome: Outcome::Error(CheckError::BadEntry(bad.what)),
        }
    }
}

/// Objects per kind of answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Matches.
    pub matched: u64,
    /// Mismatches (including sizes that differ for entries without an ETag).
    pub mismatched: u64,
    /// Inconclusive answers.
    pub inconclusive: u64,
    /// Objects without a local file.
    pub missing: u64,
    /// Local files the listing does not name.
    pub extra: u64,
    /// Objects that could not be checked.
    pub errors: u64,
}

impl Counts {
    /// The count of one kind.
    pub fn get(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Match => self.matched,
            Kind::Mismatch => self.mismatched,
            Kind::Inconclusive => self.inconclusive,
            Kind::Missing => self.missing,
            Kind::Extra => self.extra,
            Kind::Error => self.errors,
        }
    }

    /// Counts one more of `kind`.
    pub fn add(&mut self, kind: Kind) {
        let c = match kind {
            Kind::Match => &mut self.matched,
            Kind::Mismatch => &mut self.mismatched,
            Kind::Inconclusive => &mut self.inconclusive,
            Kind::Missing => &mut self.missing,
            Kind::Extra => &mut self.extra,
            Kind::Error => &mut self.errors,
        };
        *c = c.saturating_add(1);
    }

    /// All objects counted.
    pub fn total(&self) -> u64 {
        Kind::ALL.iter().map(|&k| self.get(k)).fold(0, u64::saturating_add)
    }
}

/// Counts for the whole run.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CheckSummary {
    /// What the reader skipped on purpose (delete markers, old versions, blank lines).
    pub skipped: Skipped,
    /// Keys that do not start with the prefix.
    pub outside_prefix: u64,
    /// Folder markers: keys ending in `/` of 0 bytes.
    pub folder_markers: u64,
    /// Keys of other shards.
    pub other_shards: u64,
    /// Bytes read and hashed.
    pub bytes_hashed: u64,
    /// Objects per kind of answer.
    pub counts: Counts,
    /// The run stopped before the end: the callback asked it to, or [`ReadOptions::cancel`]
    /// was raised.
    pub stopped: bool,
}

/// Counts the bytes hashed on their way to the caller's progress.
struct Counting<'a> {
    inner: &'a dyn Progress,
    bytes: AtomicU64,
}

impl Progress for Counting<'_> {
    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner.advance(bytes);
    }
}

/// An entry mapped and opened, ready to hash, or decided already.
enum Prepared {
    Skip(Skip),
    Done(Checked, Option<u128>),
    Open {
        checked: Checked,
        file: LocalFile,
        remote: Option<RemoteEtag>,
        facts: VerifyOptions,
        listed: Option<u128>,
    },
}

/// The 128-bit name of a relative path in the set of listed keys.
fn path_id(rel: &[u8]) -> u128 {
    u128::from_be_bytes(*Md5Digest::of(rel).as_bytes())
}

struct Run<'a> {
    opts: &'a CheckOptions,
    read: &'a ReadOptions,
    progress: &'a Counting<'a>,
    on: &'a mut dyn FnMut(Checked) -> ControlFlow<()>,
    summary: CheckSummary,
    /// The relative paths the listing names, with `extra`.
    listed: Option<HashSet<u128>>,
    stopped: bool,
}

/// Checks every entry of `source` against the local files, handing each object's answer to `on`
/// in listing order (then the extra files, with [`CheckOptions::extra`]). When `on` breaks or
/// [`ReadOptions::cancel`] is raised, the run stops within one batch and the summary says so.
///
/// The listing is read in a thread of its own (the caller's rayon pool only maps, opens and
/// hashes), a batch or two ahead of the files being checked; if no thread can be started, it is
/// read in the calling thread between batches.
///
/// A listing that cannot be read stops the run with its error, after the objects read before it
/// were handed over. Errors about single objects are their outcomes and the run goes on.
pub fn check<S: Source + Send>(
    source: S,
    opts: &CheckOptions,
    read: &ReadOptions,
    progress: &dyn Progress,
    on: &mut dyn FnMut(Checked) -> ControlFlow<()>,
) -> Result<CheckSummary, ListingError> {
    let counting = Counting { inner: progress, bytes: AtomicU64::new(0) };
    let extra = opts.extra && opts.root.is_some();
    let mut run = Run {
        opts,
        read,
        progress: &counting,
        on,
        summary: CheckSummary::default(),
        listed: extra.then(HashSet::new),
        stopped: false,
    };
    let cancel = &read.cancel;
    // The source waits here until the reader thread takes it; if the thread cannot start, it is
    // taken back.
    let slot = std::sync::Mutex::new(Some(source));
    let result = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let slot = &slot;
        let reader =
            std::thread::Builder::new().name("etagsum-listing".into()).spawn_scoped(scope, move || {
                let source = slot.lock().ok().and_then(|mut s| s.take());
                match source {
                    Some(source) => read_batches(source, cancel, &mut |batch| tx.send(batch).is_ok()),
                    None => Ok(Skipped::default()),
                }
            });
        match reader {
            Ok(reader) => {
                for batch in rx.iter() {
                    run.process(batch);
                    if run.stopped {
                        break;
                    }
                }
                // The reader stops at its next entry once nobody receives.
                drop(rx);
                match reader.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Err(_) => {
                drop(rx);
                let source = slot.lock().ok().and_then(|mut s| s.take());
                match source {
                    Some(source) => read_batches(source, cancel, &mut |batch| {
                        run.process(batch);
                        !run.stopped
                    }),
                    None => Ok(Skipped::default()),
                }
            }
        }
    });
    if cancel.is_cancelled() {
        run.stopped = true;
    }
    let skipped = result?;
    let s = &run.summary;
    let prefix_names_nothing =
        s.outside_prefix > 0 && s.counts.total() == 0 && s.other_shards == 0 && s.folder_markers == 0;
    if extra && !run.stopped && !prefix_names_nothing {
        run.extras();
    }
    let mut summary = run.summary;
    summary.skipped = skipped;
    summary.bytes_hashed = counting.bytes.load(Ordering::Relaxed);
    summary.stopped = run.stopped;
    Ok(summary)
}

/// Entries taken from the listing together.
type Batch = Vec<Result<Entry, BadEntry>>;

/// Reads `source` in batches, handing each to `deliver` (false: stop reading). The entries read
/// before an error are delivered before it is returned.
fn read_batches<S: Source>(
    source: S,
    cancel: &crate::engine::Cancel,
    deliver: &mut dyn FnMut(Batch) -> bool,
) -> Result<Skipped, ListingError> {
    let mut batch: Batch = Vec::new();
    let mut bytes = 0u64;
    let mut stopped = false;
    let result = source.read(&mut |item| {
        if let Ok(e) = &item {
            bytes = bytes.saturating_add(e.size.unwrap_or(0));
        }
        batch.push(item);
        if batch.len() >= BATCH_ENTRIES || bytes >= BATCH_BYTES {
            bytes = 0;
            stopped = !deliver(std::mem::take(&mut batch));
        }
        if stopped || cancel.is_cancelled() {
            stopped = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if !stopped && !batch.is_empty() {
        deliver(batch);
    }
    result
}

impl Run<'_> {
    /// Checks a batch and hands its outcomes over.
    fn process(&mut self, batch: Batch) {
        if batch.is_empty() || self.stopped {
            return;
        }
        let opts = self.opts;
        let prepared: Vec<Prepared> = batch.into_par_iter().map(|item| prepare(item, opts)).collect();
        // Hash in groups of consecutive files, each handed over as soon as it is done.
        let mut group: Vec<Prepared> = Vec::new();
        let mut group_bytes = 0u64;
        for p in prepared {
            if let Prepared::Open { file, .. } = &p {
                let len = file.size.unwrap_or(file.len);
                if !group.is_empty() && group_bytes.saturating_add(len) > GROUP_BYTES {
                    self.finish_group(std::mem::take(&mut group));
                    group_bytes = 0;
                    if self.stopped {
                        return;
                    }
                }
                group_bytes = group_bytes.saturating_add(len);
            }
            group.push(p);
        }
        self.finish_group(group);
    }

    fn finish_group(&mut self, group: Vec<Prepared>) {
        if self.stopped {
            return;
        }
        let jobs: Vec<VerifyJob<'_>> = group
            .iter()
            .filter_map(|p| match p {
                Prepared::Open { file, remote, facts, .. } => Some(VerifyJob {
                    file: &file.file,
                    size: file.size,
                    remote: remote.as_ref(),
                    opts: facts,
                }),
                _ => None,
            })
            .collect();
        let results = verify_group(&jobs, self.read, self.progress);
        drop(jobs);
        let mut reports = results.into_iter();
        if self.read.cancel.is_cancelled() {
            self.stopped = true;
            return;
        }
        for p in group {
            let (checked, listed) = match p {
                Prepared::Skip(Skip::OutsidePrefix) => {
                    self.summary.outside_prefix += 1;
                    continue;
                }
                Prepared::Skip(Skip::FolderMarker) => {
                    self.summary.folder_markers += 1;
                    continue;
                }
                Prepared::Skip(Skip::OtherShard) => {
                    self.summary.other_shards += 1;
                    continue;
                }
                Prepared::Done(checked, listed) => (checked, listed),
                Prepared::Open { mut checked, listed, .. } => {
                    checked.outcome = match reports.next() {
                        Some(Ok(report)) => Outcome::Verified(Box::new(report)),
                        Some(Err(e)) => Outcome::Error(CheckError::Verify(e)),
                        None => Outcome::Error(CheckError::Verify(VerifyError::Engine(
                            std::io::Error::other("internal error: a file was not verified").into(),
                        ))),
                    };
                    (checked, listed)
                }
            };
            if let (Some(set), Some(id)) = (&mut self.listed, listed) {
                set.insert(id);
            }
            if !self.emit(checked) {
                return;
            }
        }
    }

    /// Hands one outcome over; false when the caller asked to stop.
    fn emit(&mut self, checked: Checked) -> bool {
        if self.stopped {
            return false;
        }
        self.summary.counts.add(checked.outcome.kind());
        if (self.on)(checked).is_break() {
            self.stopped = true;
        }
        !self.stopped
    }

    /// Reports the files under the root that no listed key names.
    fn extras(&mut self) {
        let Some(root) = &self.opts.root else { return };
        let Some(listed) = self.listed.take() else { return };
        let prefix = &self.opts.prefix;
        let shard = self.opts.shard;
        let key_of = |rel: &[u8]| [prefix.as_slice(), rel].concat();
        // Listed files and keys of other shards are passed over before they are looked at.
        let skip =
            |rel: &[u8]| shard.is_some_and(|s| !s.contains(&key_of(rel))) || listed.contains(&path_id(rel));
        let cancel = &self.read.cancel;
        let _ = root.walk(&skip, &mut |found| {
            if cancel.is_cancelled() {
                self.stopped = true;
                return ControlFlow::Break(());
            }
            let key = key_of(&found.rel);
            if shard.is_some_and(|s| !s.contains(&key)) {
                return ControlFlow::Continue(());
            }
            let (local_size, outcome) = match found.what {
                FoundKind::File(len) => (Some(len), Outcome::Extra),
                // A symlink to a directory is no object, and is not followed.
                FoundKind::Symlink if root.is_dir_link(&found.rel) => return ControlFlow::Continue(()),
                FoundKind::Symlink => (None, Outcome::Extra),
                FoundKind::Unreadable(e) => (None, Outcome::Error(CheckError::Walk(e))),
            };
            let path = if found.rel.is_empty() {
                root.path().to_path_buf()
            } else {
                root.path().join(bytes_to_path(&found.rel))
            };
            let checked = Checked {
                key,
                path: Some(path),
                size: None,
                local_size,
                remote_etag: None,
                remote_checksums: Vec::new(),
                at: None,
                requests: 0,
                outcome,
            };
            if self.emit(checked) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        });
    }
}

/// Files up to this size are verified together by [`verify_files`], their streams sharing the
/// kernels' lanes.
const SMALL_FILE: u64 = 1 << 20;

/// Verifies a group of files, one result per file in order: the small ones together on the
/// kernels' lanes, the larger ones side by side, as many at once as the pool has threads, each
/// within its share of the memory budget. (One file of a few MiB is one MD5 stream, which no
/// kernel can spread over lanes: only several files at once keep the cores busy.)
fn verify_group(
    jobs: &[VerifyJob<'_>],
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Vec<Result<Report, VerifyError>> {
    let small = |j: &VerifyJob<'_>| j.size.is_some_and(|s| s <= SMALL_FILE);
    let (few, many): (Vec<usize>, Vec<usize>) = (0..jobs.len()).partition(|&i| small(&jobs[i]));
    let mut out: Vec<Option<Result<Report, VerifyError>>> = jobs.iter().map(|_| None).collect();
    let small_jobs: Vec<VerifyJob<'_>> = few.iter().map(|&i| jobs[i]).collect();
    for (i, r) in few.iter().zip(verify_files(&small_jobs, read, progress)) {
        out[*i] = Some(r);
    }
    let width = rayon::current_num_threads().clamp(1, many.len().max(1));
    let mut share = read.clone();
    share.memory = read.memory / width;
    for chunk in many.chunks(width) {
        let done: Vec<Result<Report, VerifyError>> = chunk
            .par_iter()
            .map(|&i| {
                let j = &jobs[i];
                crate::verify::verify_file(j.file, j.size, j.remote, j.opts, &share, progress)
            })
            .collect();
        for (i, r) in chunk.iter().zip(done) {
            out[*i] = Some(r);
        }
        if read.cancel.is_cancelled() {
            break;
        }
    }
    out.into_iter()
        .map(|r| r.unwrap_or(Err(VerifyError::Engine(crate::engine::EngineError::Cancelled))))
        .collect()
}

/// Maps an entry to its file and opens it, or decides it without hashing.
fn prepare(item: Result<Entry, BadEntry>, opts: &CheckOptions) -> Prepared {
    let entry = match item {
        Ok(e) => e,
        Err(bad) => return Prepared::Done(Checked::bad(bad), None),
    };
    if let Some(skip) = opts.skip(&entry) {
        return Prepared::Skip(skip);
    }
    let prefix_len = opts.prefix.len();
    let layout = entry.layout.clone();
    let sse = entry.sse;
    let checksum_type = entry.checksum_type;
    let mut checked = Checked::new(entry);
    let rest = &checked.key[prefix_len..];
    let mut listed = None;
    let opened = match &opts.root {
        Some(root) => match RelPath::new(rest) {
            Ok(rel) => {
                checked.path = Some(root.local_path(rel));
                listed = Some(path_id(rel.as_bytes()));
                root.open_file(rel)
            }
            Err(e) => {
                checked.outcome = Outcome::Error(CheckError::Key(e));
                return Prepared::Done(checked, None);
            }
        },
        None => {
            // A checkfile's name: any path, as md5sum reads it, but it must be one.
            if rest.is_empty() {
                checked.outcome = Outcome::Error(CheckError::Key(KeyError::Empty));
                return Prepared::Done(checked, None);
            }
            if rest.contains(&0) {
                checked.outcome = Outcome::Error(CheckError::Key(KeyError::Nul));
                return Prepared::Done(checked, None);
            }
            let path = bytes_to_path(rest);
            let opened = open_plain(&path);
            checked.path = Some(path);
            opened
        }
    };
    // A record whose ETag cannot be read is broken, whatever the file.
    let remote = match checked.remote_etag.as_deref().map(RemoteEtag::parse) {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            checked.outcome = Outcome::Error(CheckError::Etag(e));
            return Prepared::Done(checked, listed);
        }
        None => None,
    };
    let mut checksums = Vec::with_capacity(checked.remote_checksums.len());
    for (algorithm, value) in &checked.remote_checksums {
        match Checksum::parse(*algorithm, value) {
            Ok(c) => checksums.push(c),
            Err(e) => {
                checked.outcome = Outcome::Error(CheckError::Checksum(e));
                return Prepared::Done(checked, listed);
            }
        }
    }
    let file = match opened {
        Ok(f) => f,
        Err(OpenError::Missing) => {
            checked.outcome = Outcome::Missing;
            return Prepared::Done(checked, listed);
        }
        Err(e) => {
            checked.outcome = Outcome::Error(CheckError::Open(e));
            return Prepared::Done(checked, listed);
        }
    };
    checked.local_size = file.size;
    if remote.is_none() && checksums.is_empty() {
        let size_differs = matches!((checked.size, file.size), (Some(a), Some(b)) if a != b);
        checked.outcome = Outcome::NoEtag { size_differs };
        return Prepared::Done(checked, listed);
    }
    let facts = VerifyOptions {
        remote_size: checked.size,
        layout,
        sse,
        checksums,
        checksum_type,
        ..VerifyOptions::default()
    };
    Prepared::Open { checked, file, remote, facts, listed }
}
