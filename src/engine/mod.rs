//! The engine: reads a source once and advances many independent MD5 streams over it.
//!
//! A *stream* is one MD5 over a byte range of the source. Every part of every requested layout is
//! a range; ranges that start at the same offset share one stream (see `plan`). The streams'
//! whole 64-byte blocks go through the multi-buffer kernels of [`crate::md5x`] together, on the
//! caller's rayon pool, so the parts of a layout, the candidates of a guess and the single-part
//! MD5 all run side by side.
//!
//! Two ways to read, one plan:
//! - a regular file of known size is read with positional reads: the engine keeps as many streams
//!   in flight as the kernels have lanes (times the threads, within the caller's memory budget)
//!   and advances each by a chunk per round, so the lanes stay full however large the parts are.
//!   Memory is bounded by the streams in flight × chunk. What is not in the page cache is read front to back by a prefetcher thread ahead of
//!   the streams, which only take bytes it has passed (see `prefetch`): the disk sees one
//!   sequential read, as from `cat`, instead of dozens of scattered ones;
//! - a file whose layouts give a single stream (a plain MD5, a one-part upload) is read front to
//!   back like a pipe, reading ahead in one thread while hashing in another;
//! - anything else (standard input, a pipe, a device, a file of tiny parts, for which a read per
//!   part would cost more than the part) is read front to back in windows of a few MiB into two
//!   buffers: while the streams that cover one window advance, the next is read.
//!
//! Whatever the part count, memory stays bounded: parts are opened lazily and folded into their
//! layout's ETag as they finish (see `plan`), and only layouts of at most
//! [`MAX_PARTS`](crate::layout::MAX_PARTS) parts keep each part's digest.
//!
//! The additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) ride on the same read: each
//! stream also runs the checksums its ranges need (see `plan` for where a full-object value rides),
//! so an ETag, its candidate layouts and every checksum cost one pass over the source.
//!
//! A regular file is read with `pread`, never memory-mapped: a file truncated under a mapping
//! kills the process with SIGBUS, and the promise is an error for that file, never a crash.

mod plan;
mod prefetch;
mod stream;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use thiserror::Error;

use crate::checksum::{Algorithm, Checksum};
use crate::etag::{Etag, Md5Digest, PartCountError};
use crate::layout::{Layout, LayoutError};
use crate::md5x::Kernel;
use plan::Plan;
use prefetch::Gate;
#[doc(hidden)]
pub use prefetch::Prefetch;
use stream::Stream;

/// Bytes read per window from a source that is read front to back.
const WINDOW: usize = 16 << 20;
/// The read buffers' budget is at least this, whatever the caller asks.
const MEMORY_MIN: usize = 1 << 20;
/// Parts opened and not yet folded, at most (a few more when nothing could move otherwise): bounds
/// the plan's memory whatever the part count, and is large enough that tiny parts are hashed in
/// rounds of thousands.
const RANGES: usize = 4096;
/// Files whose layouts have parts smaller than this on average are read front to back: a
/// positional read per part costs more than the part.
const POSITIONAL_PART_MIN: u64 = 64 << 10;
/// Bytes each stream advances per round when the file is read with positional reads.
const CHUNK: usize = 256 << 10;
/// Files smaller than this are read front to back: positional reads buy nothing there.
const POSITIONAL_MIN: u64 = 1 << 20;
/// Smaller files are left to the kernel's readahead: a few streams over a few MiB read well
/// enough, and the prefetcher's thread would cost more than it saves.
const PREFETCH_MIN: u64 = 16 << 20;
/// Files of fewer parts than this are left to the kernel's readahead too: a part is finished
/// only after the prefetcher passed its end, so the last part's MD5 chain runs after the disk is
/// done, and with few large parts that tail costs more than scattered reads do (1 GiB of 64 MiB
/// parts, cold: 0.56 s with the prefetcher, 0.50 s without; of 32 MiB parts, 0.47 s against 0.53 s).
const PREFETCH_PARTS_MIN: u64 = 32;
/// Bytes the prefetcher reads at once from a cold file.
const PIECE: usize = 256 << 10;
/// How far the prefetcher may run ahead of the slowest stream, at least...
const LAG_MIN: u64 = 256 << 20;
/// ...and at most: the bytes ahead wait in the page cache.
const LAG_MAX: u64 = 1 << 30;
/// ...so that this many of the largest parts can run side by side: fewer lanes than that hash
/// slower than a disk reads.
const LAG_PARTS: u64 = 16;

/// Which multi-buffer MD5 kernel runs the lanes. The library never reads the environment: a caller
/// that lets its users force a kernel (the command line's `ETAGSUM_KERNEL`) says so here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KernelChoice {
    /// The best kernel this CPU supports.
    #[default]
    Auto,
    /// Plain Rust, on every target.
    Portable,
    /// AVX2 (x86-64).
    Avx2,
    /// AVX-512 (x86-64 with AVX-512F/BW/VL).
    Avx512,
}

impl KernelChoice {
    /// Every choice, `Auto` first.
    pub const ALL: [KernelChoice; 4] =
        [KernelChoice::Auto, KernelChoice::Portable, KernelChoice::Avx2, KernelChoice::Avx512];

    /// `auto`, `portable`, `avx2` or `avx512`.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelChoice::Auto => "auto",
            KernelChoice::Portable => "portable",
            KernelChoice::Avx2 => "avx2",
            KernelChoice::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the kernel (`Auto` always can).
    pub fn is_supported(self) -> bool {
        self.resolve().is_ok()
    }

    /// The kernels this CPU can run, best first.
    pub fn supported() -> Vec<KernelChoice> {
        Kernel::supported().into_iter().map(KernelChoice::from_kernel).collect()
    }

    fn from_kernel(k: Kernel) -> KernelChoice {
        match k {
            Kernel::Portable => KernelChoice::Portable,
            Kernel::Avx2 => KernelChoice::Avx2,
            Kernel::Avx512 => KernelChoice::Avx512,
        }
    }

    fn resolve(self) -> Result<Kernel, EngineError> {
        let k = match self {
            KernelChoice::Auto => return Ok(Kernel::detect()),
            KernelChoice::Portable => Kernel::Portable,
            KernelChoice::Avx2 => Kernel::Avx2,
            KernelChoice::Avx512 => Kernel::Avx512,
        };
        if k.is_supported() {
            Ok(k)
        } else {
            Err(EngineError::KernelUnsupported(self))
        }
    }
}

impl fmt::Display for KernelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KernelChoice {
    type Err = UnknownKernel;

    /// Parses `auto`, `portable`, `avx2` or `avx512`, in any case.
    fn from_str(s: &str) -> Result<KernelChoice, UnknownKernel> {
        KernelChoice::ALL
            .into_iter()
            .find(|k| s.trim().eq_ignore_ascii_case(k.as_str()))
            .ok_or_else(|| UnknownKernel(s.to_string()))
    }
}

/// A kernel name that is none of `auto`, `portable`, `avx2`, `avx512`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown kernel '{0}', which should be one of auto, portable, avx2 or avx512")]
pub struct UnknownKernel(String);

/// Stops a hash in progress from another thread: the call then returns [`EngineError::Cancelled`].
/// Clones share one flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that is not raised.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks every hash that holds a clone of this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How the engine reads a source: memory, cancellation, kernel and a size limit.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReadOptions {
    /// The most memory, in bytes, the engine's read buffers may take (at least 1 MiB is used): the
    /// two windows of a source read front to back, the chunks of the streams in flight of a file
    /// read with positional reads (however many threads the caller's pool has; one kernel's
    /// lanes always run), and a batch of small files read whole by [`hash_files`].
    pub memory: usize,
    /// Raised from another thread, ends the hash with [`EngineError::Cancelled`]; checked once per
    /// window or round at least.
    pub cancel: Cancel,
    /// The MD5 kernel.
    pub kernel: KernelChoice,
    /// A source that yields more bytes than this is an error ([`EngineError::TooLong`]) as soon as
    /// the limit is passed, not at its end; a file or an announced size larger than this is the
    /// same error before anything is read.
    pub max_size: Option<u64>,
}

impl ReadOptions {
    /// The read buffers' budget.
    fn budget(&self) -> usize {
        self.memory.max(MEMORY_MIN)
    }

    fn check_cancel(&self) -> Result<(), EngineError> {
        if self.cancel.is_cancelled() {
            Err(EngineError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A source known to hold `size` bytes must not be more than the limit.
    fn check_size(&self, size: Option<u64>) -> Result<(), EngineError> {
        match (self.max_size, size) {
            (Some(limit), Some(size)) if size > limit => Err(EngineError::TooLong { limit }),
            _ => Ok(()),
        }
    }
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            memory: DEFAULT_MEMORY,
            cancel: Cancel::new(),
            kernel: KernelChoice::Auto,
            max_size: None,
        }
    }
}

/// The read buffers' default budget.
pub const DEFAULT_MEMORY: usize = 64 << 20;

/// Receives progress reports while a source is hashed. The library never draws anything itself.
pub trait Progress: Sync {
    /// `bytes` more bytes of the source have been hashed.
    fn advance(&self, bytes: u64);
}

/// A [`Progress`] that ignores every report.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}

/// Why a source could not be hashed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The path names a directory.
    #[error("is a directory, not a file")]
    IsDirectory,
    /// The source did not hold the number of bytes it was expected to: a file that shrank or grew
    /// while it was read, a file whose reported size is not what it holds, a reader that yielded
    /// fewer or more bytes than announced.
    #[error("{}", size_changed(*.expected, *.actual))]
    SizeChanged {
        /// The size announced before reading: the file's size when it was opened, or the size
        /// the caller gave.
        expected: u64,
        /// The bytes really there: where the source ended, or, for one that holds more than
        /// expected, how many it holds.
        actual: u64,
    },
    /// The kernel the caller chose cannot run on this CPU.
    #[error("the {0} kernel is not supported by this CPU")]
    KernelUnsupported(KernelChoice),
    /// The caller cancelled the hash ([`Cancel`]).
    #[error("cancelled")]
    Cancelled,
    /// The source yielded more bytes than [`ReadOptions::max_size`].
    #[error("more than {limit} bytes, the most allowed")]
    TooLong {
        /// The limit.
        limit: u64,
    },
    /// A layout has more parts than an ETag can count.
    #[error(transparent)]
    TooManyParts(PartCountError),
}

fn size_changed(expected: u64, actual: u64) -> String {
    if actual < expected {
        format!("ended after {actual} bytes, but its size was {expected} bytes when it was opened")
    } else {
        format!("holds {actual} bytes, but its size was {expected} bytes when it was opened")
    }
}

/// What the engine computed for one source: its size and one ETag per requested layout.
#[derive(Debug)]
pub struct Hashed {
    /// The number of bytes read.
    pub size: u64,
    /// For each requested layout, in order: its ETag, or why it does not fit the source.
    pub etags: Vec<Result<Etag, LayoutError>>,
    /// For each requested layout, in order: the MD5 of each of its parts (for a single-part
    /// layout, the one digest of the whole source). `None` for a layout that does not fit, and for
    /// a layout of more than [`MAX_PARTS`](crate::layout::MAX_PARTS) parts, more than S3 accepts:
    /// those digests are folded into the ETag as they are computed and not kept, so that memory
    /// does not grow with the part count.
    pub part_digests: Vec<Option<Vec<Md5Digest>>>,
    /// For each requested checksum, in order: its value (a composite one with its `-N`), or why
    /// its layout does not fit the source.
    pub checksums: Vec<Result<Checksum, LayoutError>>,
}

/// An additional checksum to compute while the source is read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumRequest {
    /// The checksum of the whole object, as S3 stores it with `FULL_OBJECT`: the same whatever the
    /// object's layout. A CRC is computed per part and combined, so it runs in parallel; a SHA in
    /// one stream.
    FullObject(Algorithm),
    /// The composite checksum of the object uploaded as the layout says, as S3 stores it with
    /// `COMPOSITE`: the checksum of its parts' raw checksums, with `-N`.
    Composite(Algorithm, Layout),
}

/// How the engine reads and hashes; the defaults are right for production, tests move the
/// boundaries around.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Window of the front-to-back reader.
    pub window: usize,
    /// Bytes per stream per round of the positional reader.
    pub chunk: usize,
    /// The smallest file read with positional reads.
    pub positional_min: u64,
    /// The kernel; `None` for the caller's choice in [`ReadOptions`].
    pub kernel: Option<Kernel>,
    /// Whether the positional reader reads ahead front to back.
    pub prefetch: Prefetch,
    /// Bytes the prefetcher reads at once.
    pub piece: usize,
    /// How far the prefetcher may run ahead of the slowest stream; `None` for room for
    /// [`LAG_PARTS`] of the largest parts, within [`LAG_MIN`] and [`LAG_MAX`].
    pub lag: Option<u64>,
    /// Parts the plan holds at once (opened and not folded), at most (a few more per layout when
    /// nothing could move otherwise).
    pub ranges: usize,
    /// Files whose multipart layouts have smaller parts than this on average are read front to
    /// back.
    pub positional_part_min: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            window: WINDOW,
            chunk: CHUNK,
            positional_min: POSITIONAL_MIN,
            kernel: None,
            prefetch: Prefetch::Auto,
            piece: PIECE,
            lag: None,
            ranges: RANGES,
            positional_part_min: POSITIONAL_PART_MIN,
        }
    }
}

impl Tuning {
    fn kernel(&self, opts: &ReadOptions) -> Result<Kernel, EngineError> {
        match self.kernel {
            Some(k) => Ok(k),
            None => opts.kernel.resolve(),
        }
    }
}

/// Opens `path` for hashing: the file, and its size when that can be trusted, or `None` when the
/// file must be read to its end like a pipe; an error for a directory.
///
/// The size is `None` for anything but a regular file (devices and pipes report a length of 0 or
/// nonsense), for a regular file that reports 0 bytes but has a first byte (what procfs reports,
/// e.g. `/proc/version`; `md5sum` reads such files to their end too), and on Linux for any file on
/// procfs, sysfs, debugfs or tracefs, whose files report a size (often 0 or 4096) that has nothing
/// to do with what they yield.
pub fn open(path: &Path) -> Result<(File, Option<u64>), EngineError> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(EngineError::IsDirectory);
    }
    let size = if meta.is_file() { trusted_size(&file, meta.len())? } else { None };
    Ok((file, size))
}

/// The size of a regular file that reports `len` bytes, or `None` when that is not what it holds.
/// (Also for files opened beneath a listing's root, which are not opened by path.)
pub(crate) fn trusted_size(file: &File, len: u64) -> Result<Option<u64>, EngineError> {
    if is_synthetic(file) {
        return Ok(None);
    }
    if len > 0 {
        return Ok(Some(len));
    }
    // An empty file has no first byte; a synthetic one that reports 0 bytes does.
    let mut byte = [0u8; 1];
    match read_at(file, &mut byte, 0) {
        Ok(0) => Ok(Some(0)),
        _ => {
            // `seek_read` moves the position, and a stream is read from the position.
            #[cfg(windows)]
            io::Seek::seek(&mut &*file, io::SeekFrom::Start(0))?;
            Ok(None)
        }
    }
}

/// Whether `file` lives on a file system whose files are made up as they are read.
#[cfg(target_os = "linux")]
fn is_synthetic(file: &File) -> bool {
    // statfs(2) f_type values; the field's integer type differs between targets.
    const SYNTHETIC: [u64; 4] = [
        0x9fa0,      // procfs
        0x6265_6572, // sysfs
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
    ];
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::fstatfs(file).is_ok_and(|s| SYNTHETIC.contains(&((s.f_type as u64) & 0xffff_ffff)))
}

#[cfg(not(target_os = "linux"))]
fn is_synthetic(_file: &File) -> bool {
    false
}

/// Opens `path` and hashes it for every layout in one pass. A file whose size changes while it is
/// read is an error, never a wrong result.
pub fn hash_path(
    path: &Path,
    layouts: &[Layout],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    hash_path_with(path, layouts, &[], opts, progress)
}

/// [`hash_path`] that also computes `checksums`, in the same pass.
pub fn hash_path_with(
    path: &Path,
    layouts: &[Layout],
    checksums: &[ChecksumRequest],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    let (file, size) = open(path)?;
    hash_file_with(&file, size, layouts, checksums, opts, progress)
}

/// Hashes an open file for every layout in one pass. `size` is its length when it is a regular
/// file (as [`open`] gives it), `None` for a pipe, a device or a file whose size cannot be trusted,
/// which is then read front to back from its current position, never with positional reads.
/// A file of known size is read from offset 0 whatever its current position, so that one open
/// file can be hashed several times.
pub fn hash_file(
    file: &File,
    size: Option<u64>,
    layouts: &[Layout],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    hash_file_with(file, size, layouts, &[], opts, progress)
}

/// [`hash_file`] that also computes `checksums`, in the same pass.
pub fn hash_file_with(
    file: &File,
    size: Option<u64>,
    layouts: &[Layout],
    checksums: &[ChecksumRequest],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    hash_file_tuned(file, size, layouts, checksums, opts, progress, Tuning::default())
}

/// [`hash_file_with`] with explicit tuning.
#[doc(hidden)]
pub fn hash_file_tuned(
    file: &File,
    size: Option<u64>,
    layouts: &[Layout],
    checksums: &[ChecksumRequest],
    opts: &ReadOptions,
    progress: &dyn Progress,
    tuning: Tuning,
) -> Result<Hashed, EngineError> {
    opts.check_size(size)?;
    let plan = Plan::with_checksums(layouts, checksums, size, tuning.ranges)?;
    // Positional reads pay off when several streams run side by side; one stream (a single-part
    // MD5, a one-part upload) runs fastest reading ahead in one thread while hashing in another,
    // and so do tiny parts, where a read per part would cost more than the part.
    let positional = |size: u64| {
        let mut counts = plan
            .layouts()
            .filter(|l| l.is_multipart())
            .filter_map(|l| l.part_count(size).ok())
            .filter(|&n| n > 1)
            .peekable();
        counts.peek().is_some() && counts.all(|n| size / n >= tuning.positional_part_min)
    };
    match size {
        Some(size) if size >= tuning.positional_min && positional(size) => {
            self::positional(file, size, plan, opts, progress, tuning)
        }
        Some(_) => read_front_to_back(ReadAt { file, pos: 0 }, size, plan, opts, progress, tuning),
        None => read_front_to_back(file, size, plan, opts, progress, tuning),
    }
}

/// Reads a file front to back from offset 0 with positional reads, leaving its position alone.
struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Files up to this size are read whole and hashed together by [`hash_files`].
const BATCH_FILE_MAX: u64 = 1 << 20;
/// Bytes read at once for one batch of small files (within the caller's budget).
const BATCH_BYTES: u64 = 64 << 20;
/// Files in one batch, at most: empty files cost no bytes, but a plan each.
const BATCH_FILES: usize = 4096;

/// One file for [`hash_files`]: the open file, its size as [`open`] gives it, and its layouts.
#[derive(Clone, Copy, Debug)]
pub struct FileJob<'a> {
    /// The open file.
    pub file: &'a File,
    /// Its size, for a regular file.
    pub size: Option<u64>,
    /// The layouts to hash it for.
    pub layouts: &'a [Layout],
    /// The checksums to compute.
    pub checksums: &'a [ChecksumRequest],
}

/// Hashes several files, each for its layouts, with one result per file in order. Small files are
/// read whole and hashed together, so that their streams fill the kernels' lanes as the parts of
/// one large file do; larger files go through [`hash_file`] one after the other. The batches stay
/// within [`ReadOptions::memory`].
pub fn hash_files(
    jobs: &[FileJob<'_>],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Vec<Result<Hashed, EngineError>> {
    let batch_max = BATCH_BYTES.min(opts.budget() as u64);
    let mut out: Vec<Option<Result<Hashed, EngineError>>> = jobs.iter().map(|_| None).collect();
    let mut batch: Vec<usize> = Vec::new();
    let mut batch_bytes = 0;
    let flush = |batch: &mut Vec<usize>, out: &mut Vec<Option<Result<Hashed, EngineError>>>| {
        for (i, r) in batch.iter().zip(hash_batch(jobs, batch, opts, progress)) {
            out[*i] = Some(r);
        }
        batch.clear();
    };
    for (i, job) in jobs.iter().enumerate() {
        match job.size {
            Some(size) if size <= BATCH_FILE_MAX => {
                if batch_bytes + size > batch_max || batch.len() >= BATCH_FILES {
                    flush(&mut batch, &mut out);
                    batch_bytes = 0;
                }
                batch.push(i);
                batch_bytes += size;
            }
            _ => {
                out[i] = Some(hash_file_with(job.file, job.size, job.layouts, job.checksums, opts, progress))
            }
        }
    }
    flush(&mut batch, &mut out);
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("internal error: a file was not hashed").into())))
        .collect()
}

/// Reads the small files `which` of `jobs` whole and advances all their streams together.
fn hash_batch(
    jobs: &[FileJob<'_>],
    which: &[usize],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Vec<Result<Hashed, EngineError>> {
    let kernel = match opts.kernel.resolve() {
        Ok(k) => k,
        Err(_) => return which.iter().map(|_| Err(EngineError::KernelUnsupported(opts.kernel))).collect(),
    };
    let read = |i: &usize| -> Result<Vec<u8>, EngineError> {
        let job = &jobs[*i];
        let size = job.size.unwrap_or(0);
        opts.check_size(Some(size))?;
        let mut buf = vec![0u8; size as usize];
        let n = read_at(job.file, &mut buf, 0)?;
        if n < buf.len() {
            return Err(EngineError::SizeChanged { expected: size, actual: n as u64 });
        }
        let now = job.file.metadata()?.len();
        if now != size {
            return Err(EngineError::SizeChanged { expected: size, actual: now });
        }
        Ok(buf)
    };
    let read: Vec<Result<Vec<u8>, EngineError>> = which.par_iter().map(read).collect();
    let mut results: Vec<Option<Result<Hashed, EngineError>>> = Vec::with_capacity(which.len());
    let mut files: Vec<(usize, Vec<u8>, Plan)> = Vec::with_capacity(which.len());
    for (k, (&i, r)) in which.iter().zip(read).enumerate() {
        let plan = |buf: &Vec<u8>| {
            Plan::with_checksums(jobs[i].layouts, jobs[i].checksums, Some(buf.len() as u64), RANGES)
        };
        match r.and_then(|buf| Ok((plan(&buf)?, buf))) {
            Ok((plan, buf)) => {
                results.push(None);
                files.push((k, buf, plan));
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    loop {
        if opts.cancel.is_cancelled() {
            return which.iter().map(|_| Err(EngineError::Cancelled)).collect();
        }
        let mut ready = false;
        for (_, buf, plan) in &mut files {
            ready |= plan.prepare_window(buf.len() as u64);
        }
        if !ready {
            break;
        }
        let mut items: Vec<(&mut Stream, &[u8])> =
            files.iter_mut().flat_map(|(_, buf, plan)| window_items(plan, 0, buf)).collect();
        advance_parallel(kernel, &mut items);
        drop(items);
        for (_, _, plan) in &mut files {
            plan.collect();
        }
    }
    for (k, buf, plan) in files {
        progress.advance(buf.len() as u64);
        results[k] = Some(plan.finish(buf.len() as u64));
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("internal error: a file was not hashed").into())))
        .collect()
}

/// Hashes everything `reader` yields for every layout in one pass, front to back.
///
/// With `expected_size`, a source that yields another number of bytes is an error
/// ([`EngineError::SizeChanged`]): no byte past the announced size is hashed, and what lies beyond
/// is only counted, to report the real size. With [`ReadOptions::max_size`], a source that yields
/// more is an error as soon as one byte more than the limit is read.
pub fn hash_reader<R: Read + Send>(
    reader: R,
    expected_size: Option<u64>,
    layouts: &[Layout],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    hash_reader_with(reader, expected_size, layouts, &[], opts, progress)
}

/// [`hash_reader`] that also computes `checksums`, in the same pass.
pub fn hash_reader_with<R: Read + Send>(
    reader: R,
    expected_size: Option<u64>,
    layouts: &[Layout],
    checksums: &[ChecksumRequest],
    opts: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    hash_reader_tuned(reader, expected_size, layouts, checksums, opts, progress, Tuning::default())
}

/// [`hash_reader_with`] with explicit tuning.
#[doc(hidden)]
pub fn hash_reader_tuned<R: Read + Send>(
    reader: R,
    expected_size: Option<u64>,
    layouts: &[Layout],
    checksums: &[ChecksumRequest],
    opts: &ReadOptions,
    progress: &dyn Progress,
    tuning: Tuning,
) -> Result<Hashed, EngineError> {
    opts.check_size(expected_size)?;
    let plan = Plan::with_checksums(layouts, checksums, expected_size, tuning.ranges)?;
    read_front_to_back(reader, expected_size, plan, opts, progress, tuning)
}

/// Reads a source front to back in two windows, advancing the plan's streams over one while the
/// next is read.
fn read_front_to_back<R: Read + Send>(
    mut reader: R,
    expected_size: Option<u64>,
    mut plan: Plan,
    opts: &ReadOptions,
    progress: &dyn Progress,
    tuning: Tuning,
) -> Result<Hashed, EngineError> {
    assert!(tuning.window > 0, "a window holds at least one byte");
    let kernel = tuning.kernel(opts)?;
    opts.check_size(expected_size)?;
    // The plan never sees a byte past the announced size or the limit.
    let limit = expected_size.or(opts.max_size).unwrap_or(u64::MAX);
    // Two windows within the budget, and no larger than the source can fill.
    let window =
        tuning.window.min(opts.budget() / 2).min(usize::try_from(limit).unwrap_or(usize::MAX)).max(1);
    let want = |pos: u64| (window as u64).min(limit - pos) as usize;
    let mut cur = vec![0u8; window];
    let mut next = vec![0u8; window];
    let mut cur_len = fill(&mut reader, &mut cur[..want(0)])?;
    let mut pos = 0u64;
    while cur_len > 0 {
        opts.check_cancel()?;
        let w1 = pos + cur_len as u64;
        let next_len = want(w1);
        let window = &cur[..cur_len];
        let (read, hashed) = rayon::join(
            || fill(&mut reader, &mut next[..next_len]),
            || advance_window(kernel, &mut plan, pos, window, opts),
        );
        hashed?;
        progress.advance(cur_len as u64);
        pos = w1;
        std::mem::swap(&mut cur, &mut next);
        cur_len = read?;
    }
    // Stopped at the limit: one byte more tells whether the source goes on.
    if pos == limit && fill(&mut reader, &mut cur[..1])? == 1 {
        return Err(match expected_size {
            Some(expected) => match count_rest(&mut reader, pos + 1, opts, &mut cur) {
                Ok(actual) => EngineError::SizeChanged { expected, actual },
                Err(e) => e,
            },
            None => EngineError::TooLong { limit },
        });
    }
    #[cfg(test)]
    tests::record(plan.high_water(), 0);
    plan.finish(pos)
}

/// Counts the bytes a source yields from `pos` on, without hashing them: the real size of a
/// source that holds more than announced.
fn count_rest<R: Read>(
    reader: &mut R,
    mut pos: u64,
    opts: &ReadOptions,
    buf: &mut [u8],
) -> Result<u64, EngineError> {
    loop {
        opts.check_cancel()?;
        match fill(reader, buf)? {
            0 => return Ok(pos),
            n => pos += n as u64,
        }
        opts.check_size(Some(pos))?;
    }
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Advances every stream over the window that starts at offset `w0`, opening the parts that start
/// in it as the plan's cap allows: tiny parts, or a stream that ends inside the window and goes on
/// (a shared prefix), take several rounds.
fn advance_window(
    kernel: Kernel,
    plan: &mut Plan,
    w0: u64,
    window: &[u8],
    opts: &ReadOptions,
) -> Result<(), EngineError> {
    let w1 = w0 + window.len() as u64;
    while plan.prepare_window(w1) {
        opts.check_cancel()?;
        let mut items: Vec<(&mut Stream, &[u8])> = window_items(plan, w0, window).collect();
        advance_parallel(kernel, &mut items);
        drop(items);
        plan.collect();
    }
    Ok(())
}

/// The streams of `plan` that may move and have bytes to take from the window starting at offset
/// `w0`, each with those bytes (up to its next end).
fn window_items<'a>(
    plan: &'a mut Plan,
    w0: u64,
    window: &'a [u8],
) -> impl Iterator<Item = (&'a mut Stream, &'a [u8])> + 'a {
    let w1 = w0 + window.len() as u64;
    let horizon = plan.horizon();
    plan.streams.range_mut(..horizon).filter_map(move |(_, s)| {
        if !plan::takes_from_window(s, w1) {
            return None;
        }
        let end = s.next_end()?.min(w1);
        let (a, b) = ((s.pos - w0) as usize, (end - w0) as usize);
        Some((s, &window[a..b]))
    })
}

/// Spreads the streams over the rayon pool, each thread running the multi-buffer kernel over its
/// share.
fn advance_parallel(kernel: Kernel, items: &mut [(&mut Stream, &[u8])]) {
    let threads = rayon::current_num_threads().max(1);
    let share = items.len().div_ceil(threads).max(1);
    items.par_chunks_mut(share).for_each(|chunk| stream::advance(kernel, chunk));
}

/// The positional reader for a regular file of `size` bytes, with a prefetcher that reads what
/// is not cached front to back ahead of the streams (see `prefetch`).
fn positional(
    file: &File,
    size: u64,
    plan: Plan,
    opts: &ReadOptions,
    progress: &dyn Progress,
    tuning: Tuning,
) -> Result<Hashed, EngineError> {
    let kernel = tuning.kernel(opts)?;
    let largest = plan.layouts().filter_map(|l| largest_part(l, size)).max().unwrap_or(0);
    let prefetching = match tuning.prefetch {
        Prefetch::Never => false,
        Prefetch::Always => true,
        Prefetch::Auto => {
            cfg!(target_os = "linux")
                && size >= PREFETCH_MIN
                && largest.saturating_mul(PREFETCH_PARTS_MIN) <= size
        }
    };
    let gate = Gate::new(!prefetching);
    let hashed = std::thread::scope(|scope| {
        if prefetching {
            let lag = tuning.lag.unwrap_or(largest.saturating_mul(LAG_PARTS).clamp(LAG_MIN, LAG_MAX));
            let (piece, lag) = (tuning.piece.max(1), lag.max(1));
            let gate = &gate;
            let spawned = std::thread::Builder::new()
                .name("etagsum-prefetch".into())
                .spawn_scoped(scope, move || prefetch::run(file, size, tuning.prefetch, piece, lag, gate));
            // No thread to spare: the streams read where they are, as without a prefetcher.
            if spawned.is_err() {
                gate.open();
            }
        }
        // The prefetcher must stop however the hashers end, or the scope would wait for it forever.
        struct Stop<'a>(&'a Gate);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let _stop = Stop(&gate);
        hash_positional(kernel, file, size, plan, opts, progress, tuning, &gate)
    });
    #[cfg(test)]
    tests::record_prefetch(gate.read_ahead());
    hashed
}

/// The largest part of a multipart layout on `size` bytes.
fn largest_part(layout: &Layout, size: u64) -> Option<u64> {
    match layout {
        Layout::Single => None,
        Layout::Uniform { part_size } => Some((*part_size).min(size)),
        Layout::Explicit { part_sizes } => part_sizes.iter().copied().max(),
    }
}

/// Advances the streams of every layout by positional reads, taking only bytes below the gate's
/// frontier.
#[allow(clippy::too_many_arguments)]
fn hash_positional(
    kernel: Kernel,
    file: &File,
    size: u64,
    mut plan: Plan,
    opts: &ReadOptions,
    progress: &dyn Progress,
    tuning: Tuning,
    gate: &Gate,
) -> Result<Hashed, EngineError> {
    let threads = rayon::current_num_threads().max(1);
    let chunk = tuning.chunk.max(64) / 64 * 64;
    // Slots are a block longer than a chunk so that lanes that read the same offset of their
    // slots do not all land on the same cache set.
    let slot = chunk + 64;
    // A slot per stream in flight, within the caller's budget however large its pool, but always
    // enough to fill one kernel's lanes.
    let in_flight = (kernel.lanes() * threads).min(opts.budget() / slot).max(kernel.lanes());
    let nbuf = threads.min(in_flight);
    let share = in_flight.div_ceil(nbuf);
    let mut buffers: Vec<Vec<u8>> = (0..nbuf).map(|_| vec![0u8; share * slot]).collect();
    let mut reported = 0u64;
    loop {
        opts.check_cancel()?;
        plan.open_before(size, in_flight);
        // Streams that start at or past the horizon wait until every range they carry is known.
        let horizon = plan.horizon();
        let done = plan.streams.values().map(|s| s.pos).min().unwrap_or(horizon).min(horizon).min(size);
        if done > reported {
            progress.advance(done - reported);
            reported = done;
        }
        // The slowest stream in flight: the gate must open past it for the round to take anything.
        let floor = plan.streams.range(..horizon).take(in_flight).map(|(_, s)| s.pos).min();
        let Some(floor) = floor else {
            if plan.streams.is_empty() && horizon >= size {
                break;
            }
            // Every stream waits for a part that the cap kept closed: open it past the cap.
            if plan.open_first(size) {
                continue;
            }
            break;
        };
        gate.set_floor(floor);
        let frontier = gate.wait_past(floor);
        let mut items: Vec<(&mut Stream, usize)> = plan
            .streams
            .range_mut(..horizon)
            .take(in_flight)
            .filter_map(|(_, s)| {
                let end = s.next_end()?;
                let n = (end.min(frontier).saturating_sub(s.pos)).min(chunk as u64) as usize;
                // Empty ranges (an empty part) settle as soon as the stream reaches them.
                (n > 0 || end == s.pos).then_some((s, n))
            })
            .collect();
        if items.is_empty() {
            break;
        }
        let share = items.len().div_ceil(nbuf);
        items
            .par_chunks_mut(share)
            .zip(buffers.par_iter_mut())
            .try_for_each(|(items, buf)| read_and_advance(kernel, file, size, items, buf, slot))?;
        drop(items);
        plan.collect();
    }
    // A file that grew while it was read: the bytes hashed are not the file's.
    let now = file.metadata()?.len();
    if now != size {
        return Err(EngineError::SizeChanged { expected: size, actual: now });
    }
    if size > reported {
        progress.advance(size - reported);
    }
    #[cfg(test)]
    tests::record(plan.high_water(), in_flight);
    plan.finish(size)
}

/// Reads the next chunk of each stream into its slot of `buf` and advances them all.
fn read_and_advance(
    kernel: Kernel,
    file: &File,
    size: u64,
    items: &mut [(&mut Stream, usize)],
    buf: &mut [u8],
    slot: usize,
) -> Result<(), EngineError> {
    let mut work: Vec<(&mut Stream, &[u8])> = Vec::with_capacity(items.len());
    for ((stream, n), slot) in items.iter_mut().zip(buf.chunks_mut(slot)) {
        let dst = &mut slot[..*n];
        let got = read_at(file, dst, stream.pos)?;
        if got < dst.len() {
            // The file ended early. Where another read found its end is no better a witness than
            // its size now, which is where it ends at most.
            let now = file.metadata().map_or(u64::MAX, |m| m.len());
            return Err(EngineError::SizeChanged {
                expected: size,
                actual: (stream.pos + got as u64).min(now),
            });
        }
        // The chunk is in the cache now; after the round's other reads it would not be.
        stream.update_checksums(dst);
        work.push((&mut **stream, &*dst));
    }
    stream::advance_md5(kernel, &mut work);
    Ok(())
}

/// Reads from `offset` until `buf` is full or the file ends; returns the bytes read.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(file, &mut buf[n..], offset + n as u64);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_read(file, &mut buf[n..], offset + n as u64);
        match r {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
