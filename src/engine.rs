//! The engine: reads a source once, front to back, and advances many independent MD5 streams over it.
//!
//! A *stream* is one MD5 over a byte range of the source that starts at some offset. Every part of
//! every requested layout is a range, and ranges that start at the same offset share one stream: the
//! stream keeps running and hands out a finished copy of its digest at each range's end. So the
//! single-part MD5 and the first part of every candidate layout cost one pass, and a layout is never
//! hashed twice.
//!
//! The source is read in windows of a few MiB into two buffers: while the streams that cover one
//! window advance in parallel on the caller's rayon pool, the next window is read. Memory is bounded
//! by the window size, not by the part size or the file size, and a file, standard input and a pipe
//! all go through [`hash_reader`].

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use md5::{Digest, Md5};
use rayon::prelude::*;
use thiserror::Error;

use crate::etag::{Etag, Md5Digest};
use crate::layout::{Layout, LayoutError};

/// Bytes read per window.
const WINDOW: usize = 16 << 20;

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
    /// The path names something that is not a regular file.
    #[error("is a directory, not a file")]
    IsDirectory,
    /// The source did not hold the number of bytes it was expected to.
    #[error("changed size while it was read: expected {expected} bytes, read {actual}")]
    SizeChanged {
        /// The size announced before reading.
        expected: u64,
        /// The bytes actually read.
        actual: u64,
    },
}

/// What the engine computed for one source: its size and one ETag per requested layout.
#[derive(Debug)]
pub struct Hashed {
    /// The number of bytes read.
    pub size: u64,
    /// For each requested layout, in order: its ETag, or why it does not fit the source.
    pub etags: Vec<Result<Etag, LayoutError>>,
    /// For each requested layout, in order: the MD5 of each of its parts (empty for a layout that
    /// does not fit). For a single-part layout, the one digest of the whole source.
    pub part_digests: Vec<Vec<Md5Digest>>,
}

/// Opens `path` and hashes it for every layout in one pass. A file whose size changes while it is
/// read is an error, never a wrong result.
pub fn hash_path(path: &Path, layouts: &[Layout], progress: &dyn Progress) -> Result<Hashed, EngineError> {
    let (file, expected) = open(path)?;
    hash_reader(file, expected, layouts, progress)
}

/// Opens `path` for hashing: its size when it is a regular file (devices and pipes report a length
/// of 0 or nonsense), and an error for a directory.
pub fn open(path: &Path) -> Result<(File, Option<u64>), EngineError> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(EngineError::IsDirectory);
    }
    Ok((file, meta.is_file().then_some(meta.len())))
}

/// Hashes everything `reader` yields for every layout in one pass. With `expected_size`, a source
/// that yields another number of bytes is an error ([`EngineError::SizeChanged`]).
pub fn hash_reader<R: Read + Send>(
    reader: R,
    expected_size: Option<u64>,
    layouts: &[Layout],
    progress: &dyn Progress,
) -> Result<Hashed, EngineError> {
    hash_reader_windowed(reader, expected_size, layouts, progress, WINDOW)
}

/// [`hash_reader`] with a window of `window` bytes, so that tests can put window boundaries
/// anywhere on small inputs.
#[doc(hidden)]
pub fn hash_reader_windowed<R: Read + Send>(
    mut reader: R,
    expected_size: Option<u64>,
    layouts: &[Layout],
    progress: &dyn Progress,
    window: usize,
) -> Result<Hashed, EngineError> {
    assert!(window > 0, "a window holds at least one byte");
    let mut plan = Plan::new(layouts, expected_size);
    let mut cur = vec![0u8; window];
    let mut next = vec![0u8; window];
    let mut cur_len = fill(&mut reader, &mut cur)?;
    let mut pos = 0u64;
    while cur_len > 0 {
        plan.open_parts(pos + cur_len as u64);
        let window = &cur[..cur_len];
        let (read, ()) = rayon::join(|| fill(&mut reader, &mut next), || plan.advance(pos, window));
        progress.advance(cur_len as u64);
        pos += cur_len as u64;
        std::mem::swap(&mut cur, &mut next);
        cur_len = read?;
    }
    if let Some(expected) = expected_size {
        if expected != pos {
            return Err(EngineError::SizeChanged { expected, actual: pos });
        }
    }
    Ok(plan.finish(pos))
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

/// One MD5 chain from `start`, with a digest handed out at each of `ends`.
struct Stream {
    start: u64,
    /// Ends still to reach, ascending; `u64::MAX` stands for "the end of the source".
    ends: Vec<u64>,
    /// Bytes consumed so far, as an offset into the source.
    pos: u64,
    hasher: Md5,
    /// Digests handed out during the current window: (end, digest).
    out: Vec<(u64, Md5Digest)>,
}

impl Stream {
    fn new(start: u64) -> Stream {
        Stream { start, ends: Vec::new(), pos: start, hasher: Md5::new(), out: Vec::new() }
    }

    fn add_end(&mut self, end: u64) {
        debug_assert!(end >= self.pos, "a range was planned after its stream passed its end");
        if let Err(i) = self.ends.binary_search(&end) {
            self.ends.insert(i, end);
        }
    }

    fn covers(&self, w1: u64) -> bool {
        self.pos < w1 && !self.ends.is_empty()
    }

    /// Consumes the part of `window` (which starts at offset `w0`) that this stream still needs.
    fn advance(&mut self, w0: u64, window: &[u8]) {
        let w1 = w0 + window.len() as u64;
        while let Some(&end) = self.ends.first() {
            let target = end.min(w1);
            if target > self.pos {
                self.hasher.update(&window[(self.pos - w0) as usize..(target - w0) as usize]);
                self.pos = target;
            }
            if target != end {
                break;
            }
            self.out.push((end, Md5Digest(self.hasher.clone().finalize().into())));
            self.ends.remove(0);
        }
    }
}

/// How one requested layout maps onto streams.
struct Track {
    layout: Layout,
    /// (start, end) of each part opened so far; `end` may be `u64::MAX` or past the source's end
    /// while the size is unknown.
    parts: Vec<(u64, u64)>,
    /// Where the next uniform part starts.
    next_start: u64,
    error: Option<LayoutError>,
}

struct Plan {
    tracks: Vec<Track>,
    /// Streams not yet finished, by start offset.
    streams: BTreeMap<u64, Stream>,
    /// Digests of finished ranges.
    done: HashMap<(u64, u64), Md5Digest>,
    size: Option<u64>,
}

impl Plan {
    fn new(layouts: &[Layout], size: Option<u64>) -> Plan {
        let mut plan = Plan { tracks: Vec::new(), streams: BTreeMap::new(), done: HashMap::new(), size };
        for layout in layouts {
            let mut track = Track { layout: layout.clone(), parts: Vec::new(), next_start: 0, error: None };
            match layout {
                Layout::Single => track.parts.push((0, size.unwrap_or(u64::MAX))),
                Layout::Uniform { part_size: 0 } => track.error = Some(LayoutError::ZeroPartSize),
                Layout::Uniform { .. } => {}
                Layout::Explicit { part_sizes } => match size.map(|s| layout.part_ranges(s)) {
                    Some(Err(e)) => track.error = Some(e),
                    _ if part_sizes.is_empty() => track.error = Some(LayoutError::NoParts),
                    _ => {
                        let mut start = 0u64;
                        for &len in part_sizes {
                            let end = start.saturating_add(len);
                            track.parts.push((start, end));
                            start = end;
                        }
                    }
                },
            }
            for &(s, e) in &track.parts {
                plan.streams.entry(s).or_insert_with(|| Stream::new(s)).add_end(e);
            }
            plan.tracks.push(track);
        }
        plan
    }

    /// Opens the uniform parts that start before `w1`.
    fn open_parts(&mut self, w1: u64) {
        for track in &mut self.tracks {
            let Layout::Uniform { part_size } = track.layout else { continue };
            if track.error.is_some() {
                continue;
            }
            while track.next_start < w1 {
                let start = track.next_start;
                let mut end = start.saturating_add(part_size);
                if let Some(size) = self.size {
                    end = end.min(size);
                }
                track.parts.push((start, end));
                self.streams.entry(start).or_insert_with(|| Stream::new(start)).add_end(end);
                track.next_start = start.saturating_add(part_size);
            }
        }
    }

    /// Advances, in parallel, every stream that covers the window starting at `w0`.
    fn advance(&mut self, w0: u64, window: &[u8]) {
        let w1 = w0 + window.len() as u64;
        let mut active: Vec<&mut Stream> = self.streams.values_mut().filter(|s| s.covers(w1)).collect();
        active.par_iter_mut().for_each(|s| s.advance(w0, window));
        for s in active {
            for (end, d) in s.out.drain(..) {
                self.done.insert((s.start, end), d);
            }
        }
        self.streams.retain(|_, s| !s.ends.is_empty());
    }

    /// Ends every stream at the source's end and assembles each layout's ETag.
    fn finish(mut self, size: u64) -> Hashed {
        // A uniform layout of the empty source is one empty part.
        for track in &mut self.tracks {
            if matches!(track.layout, Layout::Uniform { .. })
                && track.error.is_none()
                && track.parts.is_empty()
            {
                track.parts.push((0, 0));
                self.done.insert((0, 0), Md5Digest(Md5::new().finalize().into()));
            }
        }
        for (start, s) in std::mem::take(&mut self.streams) {
            let d = Md5Digest(s.hasher.finalize().into());
            for end in s.ends {
                if end >= size {
                    self.done.insert((start, end), d);
                }
            }
        }
        let mut etags = Vec::with_capacity(self.tracks.len());
        let mut part_digests = Vec::with_capacity(self.tracks.len());
        for track in &self.tracks {
            let result = self.assemble(track, size);
            part_digests.push(result.as_ref().map(|(_, d)| d.clone()).unwrap_or_default());
            etags.push(result.map(|(e, _)| e));
        }
        Hashed { size, etags, part_digests }
    }

    fn assemble(&self, track: &Track, size: u64) -> Result<(Etag, Vec<Md5Digest>), LayoutError> {
        if let Some(e) = &track.error {
            return Err(e.clone());
        }
        if matches!(track.layout, Layout::Explicit { .. }) {
            track.layout.part_ranges(size)?;
        }
        let digests: Vec<Md5Digest> = track.parts.iter().map(|range| self.done[range]).collect();
        let etag = match track.layout {
            Layout::Single => Etag::single(digests[0]),
            _ => Etag::multipart(&digests),
        };
        Ok((etag, digests))
    }
}
