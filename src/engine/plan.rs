//! The plan: which byte ranges the requested layouts need, and the streams that hash them.
//!
//! Ranges that start at the same offset share one stream, which hands out a digest at each
//! range's end: the single-part MD5 and the first part of every candidate layout cost one pass.
//!
//! Memory does not grow with the part count. Parts are opened lazily, in start order, and only
//! while fewer than a cap of them are held; each layout folds its parts' digests into its ETag as
//! soon as they are finished, in order. A digest that several layouts need (the same range in
//! each) is kept until the last of them has folded it.
//!
//! One rule keeps lazy opening correct: a stream may move only when every range that starts
//! where it starts is registered, or it would pass the end of a range that is not known yet and
//! that digest would be lost. Parts are opened in start order, so every range that starts before
//! the *horizon* (the start of the first part not opened yet) is known, and only the streams that
//! start before it move.
//!
//! Checksums ride on the same ranges. A composite checksum needs its layout's parts; a track for
//! that layout (shared with the ETag's when the layout is the same) folds them. A full-object value
//! is the same whatever the parts, so the plan picks where it rides (see [`Plan::with_checksums`]):
//! a CRC on the parts of a multipart layout, combined, so that it runs in parallel per part; a SHA,
//! which cannot be combined, on one stream over the whole source.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;

use super::stream::{Needs, Stream, Sums};
use super::{ChecksumRequest, EngineError, Hashed};
use crate::checksum::{Algorithm, Checksum, ChecksumFolder, ChecksumType, FoldError};
use crate::etag::{Etag, Md5Digest, PartCountError, PartFolder};
use crate::layout::{Layout, LayoutError, MAX_PARTS};

/// A full-object CRC of a source at least this large, with no multipart layout to ride on, gets
/// parts of its own, so that it is computed in parallel.
const SPLIT_MIN: u64 = 32 << 20;
/// The parts of that split: at least this large...
const SPLIT_PART_MIN: u64 = 8 << 20;
/// ...and at most this many.
const SPLIT_PARTS: u64 = 64;

/// Where a requested checksum is assembled in its track.
enum Slot {
    /// From the parts, in order: composite, or a full-object CRC combined.
    Fold(Box<ChecksumFolder>),
    /// The value of the track's one range (a single-part layout): a full-object value.
    Whole(Option<Checksum>),
}

/// A requested checksum in a track: its algorithm, where it is assembled, and its place in
/// [`Hashed::checksums`].
struct Sum {
    algorithm: Algorithm,
    slot: Slot,
    out: usize,
    error: Option<EngineError>,
}

/// How one requested layout maps onto streams.
struct Track {
    layout: Layout,
    /// Parts opened and not folded yet, in order: (start, end). While the size is unknown, `end`
    /// may lie past the end of the source.
    pending: VecDeque<(u64, u64)>,
    /// Parts opened so far.
    opened: u64,
    /// Where the next part starts.
    next_start: u64,
    /// The multipart ETag so far.
    folder: PartFolder,
    /// The digest of a single-part layout.
    single: Option<Md5Digest>,
    /// Each part's digest, kept while the layout has at most [`MAX_PARTS`] parts.
    kept: Option<Vec<Md5Digest>>,
    error: Option<LayoutError>,
    /// Whether the layout's ETag was asked for (a track may serve checksums only), and its place in
    /// [`Hashed::etags`].
    etag: Option<usize>,
    /// The checksums assembled from this track's parts.
    sums: Vec<Sum>,
    /// What each of the track's ranges needs.
    needs: Needs,
}

impl Track {
    /// The range of the next part to open, if any, for a source of `size` bytes (`None`: unknown).
    fn next_part(&self, size: Option<u64>) -> Option<(u64, u64)> {
        if self.error.is_some() {
            return None;
        }
        let start = self.next_start;
        match &self.layout {
            Layout::Single => (self.opened == 0).then(|| (0, size.unwrap_or(u64::MAX))),
            Layout::Uniform { part_size } => {
                let end = start.saturating_add(*part_size);
                match size {
                    None => Some((start, end)),
                    // The empty object uploaded in parts is one empty part.
                    Some(size) if start < size || self.opened == 0 => Some((start, end.min(size))),
                    Some(_) => None,
                }
            }
            Layout::Explicit { part_sizes } => {
                let len = *part_sizes.get(usize::try_from(self.opened).ok()?)?;
                Some((start, start.saturating_add(len)))
            }
        }
    }

    fn new(layout: Layout, size: Option<u64>) -> Result<Track, EngineError> {
        let mut error = match layout {
            Layout::Uniform { part_size: 0 } => Some(LayoutError::ZeroPartSize),
            Layout::Explicit { ref part_sizes } if part_sizes.is_empty() => Some(LayoutError::NoParts),
            _ => None,
        };
        let mut parts = None;
        if let (None, Some(size)) = (&error, size) {
            match layout.part_count(size) {
                Ok(n) => parts = Some(n),
                Err(e) => error = Some(e),
            }
        }
        if let Some(n) = parts.filter(|&n| n > u64::from(u32::MAX)) {
            return Err(EngineError::TooManyParts(PartCountError::TooMany { parts: n }));
        }
        let keep = parts.is_none_or(|n| n <= MAX_PARTS);
        Ok(Track {
            layout,
            pending: VecDeque::new(),
            opened: 0,
            next_start: 0,
            folder: PartFolder::new(),
            single: None,
            kept: keep.then(Vec::new),
            error,
            etag: None,
            sums: Vec::new(),
            needs: Needs::default(),
        })
    }

    /// The part count on a source of `size` bytes, when it fits.
    fn parts(&self, size: u64) -> Option<u64> {
        match self.error {
            Some(_) => None,
            None => self.layout.part_count(size).ok(),
        }
    }

    fn add_sum(&mut self, algorithm: Algorithm, slot: Slot, out: usize) {
        self.needs = self.needs.union(Needs::checksum(algorithm));
        self.sums.push(Sum { algorithm, slot, out, error: None });
    }

    /// Folds the next part, `len` bytes long, into the ETag and the checksums.
    fn fold(&mut self, sums: &Sums, len: u64) {
        if self.etag.is_some() {
            let digest = sums.md5.unwrap_or_default();
            match self.layout {
                Layout::Single => self.single = Some(digest),
                _ => self.folder.push(&digest),
            }
            if let Some(kept) = &mut self.kept {
                if kept.len() as u64 >= MAX_PARTS {
                    self.kept = None;
                } else {
                    kept.push(digest);
                }
            }
        }
        for sum in &mut self.sums {
            let Some(part) = sums.checksum(sum.algorithm) else {
                sum.error = Some(internal("a part's checksum was not computed"));
                continue;
            };
            match &mut sum.slot {
                Slot::Whole(value) => *value = Some(part),
                Slot::Fold(folder) => {
                    if let Err(e) = folder.push(&part, len) {
                        sum.error.get_or_insert(internal(&e.to_string()));
                    }
                }
            }
        }
    }
}

fn internal(what: &str) -> EngineError {
    io::Error::other(format!("internal error: {what}")).into()
}

pub(super) struct Plan {
    tracks: Vec<Track>,
    /// Streams not yet finished, by start offset.
    pub(super) streams: BTreeMap<u64, Stream>,
    /// Digests of finished ranges that some track has not folded yet, with how many tracks still
    /// need each.
    done: HashMap<(u64, u64), (Sums, u32)>,
    size: Option<u64>,
    /// Parts opened and not folded yet, over all tracks.
    held: usize,
    /// Parts are opened only while fewer than this are held, unless nothing could move otherwise.
    cap: usize,
    /// The number of ETags and of checksums asked for.
    wanted: (usize, usize),
    /// The most parts and the most streams held at once.
    #[cfg(test)]
    pub(super) high: (usize, usize),
}

impl Plan {
    /// A plan for `layouts` over a source of `size` bytes (`None`: unknown until it ends) that
    /// holds about `cap` parts at most.
    #[cfg(test)]
    pub(super) fn new(layouts: &[Layout], size: Option<u64>, cap: usize) -> Result<Plan, EngineError> {
        Plan::with_checksums(layouts, &[], size, cap)
    }

    /// A plan for the ETags of `layouts` and for `checksums`.
    ///
    /// A composite checksum rides on its layout's track. A full-object value rides, in this order
    /// of preference: for a CRC, on a multipart layout of the ETags that fits the known size with
    /// two parts or more (its parts' CRCs are combined), or on the single-part ETag's stream, whose
    /// MD5 is far slower than a CRC anyway; failing both, on parts of its own when the source is
    /// large (so that it runs in parallel), else on one stream with no MD5. A SHA always rides on
    /// one stream over the whole source.
    pub(super) fn with_checksums(
        layouts: &[Layout],
        checksums: &[ChecksumRequest],
        size: Option<u64>,
        cap: usize,
    ) -> Result<Plan, EngineError> {
        let mut tracks: Vec<Track> = Vec::with_capacity(layouts.len() + checksums.len());
        for (i, layout) in layouts.iter().enumerate() {
            let mut track = Track::new(layout.clone(), size)?;
            track.etag = Some(i);
            track.needs = Needs::MD5;
            tracks.push(track);
        }
        let track_for = |tracks: &mut Vec<Track>, layout: &Layout| -> Result<usize, EngineError> {
            if let Some(t) = tracks.iter().position(|t| t.layout == *layout) {
                return Ok(t);
            }
            tracks.push(Track::new(layout.clone(), size)?);
            Ok(tracks.len() - 1)
        };
        for (out, request) in checksums.iter().enumerate() {
            match request {
                ChecksumRequest::Composite(algorithm, layout) => {
                    let t = track_for(&mut tracks, layout)?;
                    let folder = ChecksumFolder::new(*algorithm, ChecksumType::Composite)
                        .map_err(|e| internal(&e.to_string()))?;
                    tracks[t].add_sum(*algorithm, Slot::Fold(Box::new(folder)), out);
                }
                ChecksumRequest::FullObject(algorithm) => {
                    let single = |tracks: &Vec<Track>| {
                        tracks.iter().position(|t| t.layout == Layout::Single && t.etag.is_some())
                    };
                    let combined = match (algorithm.is_crc(), size) {
                        (true, Some(size)) => single(&tracks).is_none().then(|| {
                            tracks
                                .iter()
                                .enumerate()
                                .filter(|(_, t)| t.etag.is_some() && t.layout.is_multipart())
                                .filter_map(|(i, t)| Some((t.parts(size)?, i)))
                                .filter(|&(n, _)| n >= 2)
                                .max()
                                .map(|(_, i)| i)
                        }),
                        _ => None,
                    };
                    let host = match (combined.flatten(), size) {
                        (Some(t), _) => Some(t),
                        (None, Some(size))
                            if algorithm.is_crc() && single(&tracks).is_none() && size >= SPLIT_MIN =>
                        {
                            let part = size.div_ceil(SPLIT_PARTS).max(SPLIT_PART_MIN);
                            Some(track_for(&mut tracks, &Layout::Uniform { part_size: part })?)
                        }
                        _ => None,
                    };
                    match host {
                        Some(t) => {
                            let folder = ChecksumFolder::new(*algorithm, ChecksumType::FullObject)
                                .map_err(|e| internal(&e.to_string()))?;
                            tracks[t].add_sum(*algorithm, Slot::Fold(Box::new(folder)), out);
                        }
                        None => {
                            let t = track_for(&mut tracks, &Layout::Single)?;
                            tracks[t].add_sum(*algorithm, Slot::Whole(None), out);
                        }
                    }
                }
            }
        }
        Ok(Plan {
            tracks,
            streams: BTreeMap::new(),
            done: HashMap::new(),
            size,
            held: 0,
            cap: cap.max(1),
            wanted: (layouts.len(), checksums.len()),
            #[cfg(test)]
            high: (0, 0),
        })
    }

    /// Every layout whose parts the plan reads: the ETags' and those the checksums ride on.
    pub(super) fn layouts(&self) -> impl Iterator<Item = &Layout> {
        self.tracks.iter().map(|t| &t.layout)
    }

    /// Opens the next part of track `t`; false when it has none.
    fn open(&mut self, t: usize) -> bool {
        let track = &mut self.tracks[t];
        let Some((start, end)) = track.next_part(self.size) else { return false };
        track.opened += 1;
        track.next_start = end;
        track.pending.push_back((start, end));
        let needs = track.needs;
        self.streams.entry(start).or_insert_with(|| Stream::new(start)).add_end(end, needs);
        self.held += 1;
        #[cfg(test)]
        {
            self.high = (self.high.0.max(self.held), self.high.1.max(self.streams.len()));
        }
        true
    }

    /// Where the first part not opened yet starts (`u64::MAX` when every part is open): every
    /// range that starts before it is registered, so the streams that start before it may move.
    pub(super) fn horizon(&self) -> u64 {
        self.tracks.iter().filter_map(|t| t.next_part(self.size)).map(|(s, _)| s).min().unwrap_or(u64::MAX)
    }

    /// Opens the part that starts first among those not opened yet, if it starts before `limit`,
    /// whatever the cap. False when there is none.
    pub(super) fn open_first(&mut self, limit: u64) -> bool {
        let first = (0..self.tracks.len())
            .filter_map(|t| Some((self.tracks[t].next_part(self.size)?.0, t)))
            .filter(|&(start, _)| start < limit)
            .min();
        first.is_some_and(|(_, t)| self.open(t))
    }

    /// Opens parts that start before `limit`, in start order, while fewer than the cap are held
    /// and fewer than `streams` streams exist.
    pub(super) fn open_before(&mut self, limit: u64, streams: usize) {
        while self.held < self.cap && self.streams.len() < streams && self.open_first(limit) {}
    }

    /// Readies the plan for a window of the source that ends at `w1`: opens the parts that start
    /// in it, as far as the cap allows. True when some stream can take bytes from the window (or
    /// settle an empty range); false when the window is done with: every part that starts in it
    /// is open and every stream has passed it.
    pub(super) fn prepare_window(&mut self, w1: u64) -> bool {
        loop {
            self.open_before(w1, usize::MAX);
            let h = self.horizon();
            if self.streams.range(..h).any(|(_, s)| takes_from_window(s, w1)) {
                return true;
            }
            // Nothing can move under the cap: the parts held wait for bytes past this window or
            // for a part not opened yet. One more part, past the cap, unblocks them; this happens
            // only with a few parts held per layout, so memory stays bounded.
            if h >= w1 || !self.open_first(w1) {
                return false;
            }
        }
    }

    /// Collects the digests the streams handed out, drops the finished streams, and folds into
    /// each layout the parts that are finished, in order.
    pub(super) fn collect(&mut self) {
        for s in self.streams.values_mut() {
            for (end, sums, refs) in s.out.drain(..) {
                self.done.insert((s.start, end), (sums, refs));
            }
        }
        self.streams.retain(|_, s| !s.is_done());
        if self.done.is_empty() {
            return;
        }
        for track in &mut self.tracks {
            while let Some(&range) = track.pending.front() {
                let Entry::Occupied(mut entry) = self.done.entry(range) else { break };
                let refs = entry.get().1;
                let sums = if refs > 1 {
                    entry.get_mut().1 = refs - 1;
                    entry.get().0.clone()
                } else {
                    entry.remove().0
                };
                track.pending.pop_front();
                track.fold(&sums, range.1 - range.0);
                self.held -= 1;
            }
        }
    }

    /// The source ended after `end` bytes: settles what is left and assembles each layout's ETag.
    ///
    /// When the size was known, a source of another size, or a stream that did not reach its
    /// ends, is an error: a digest of bytes that were never hashed must not come out. Only when
    /// the size was unknown (a pipe) does the source's end settle the ranges still open.
    pub(super) fn finish(mut self, end: u64) -> Result<Hashed, EngineError> {
        let known = self.size.is_some();
        if let Some(expected) = self.size.filter(|&s| s != end) {
            return Err(EngineError::SizeChanged { expected, actual: end });
        }
        self.size = Some(end);
        for track in &mut self.tracks {
            if track.error.is_none() && matches!(track.layout, Layout::Explicit { .. }) {
                track.error = track.layout.part_count(end).err();
            }
        }
        // What starts at the very end: empty parts (the empty object in parts, an explicit part of
        // 0 bytes at the end).
        while self.open_first(end.saturating_add(1)) {}
        for s in self.streams.values_mut() {
            if s.next_end().is_some_and(|e| e > s.pos) && (known || s.pos != end) {
                return Err(EngineError::SizeChanged { expected: end, actual: s.pos });
            }
            s.settle_all();
        }
        self.collect();
        let (n_etags, n_checksums) = self.wanted;
        let mut etags: Vec<Option<Result<Etag, LayoutError>>> = (0..n_etags).map(|_| None).collect();
        let mut part_digests: Vec<Option<Vec<Md5Digest>>> = vec![None; n_etags];
        let mut checksums: Vec<Option<Result<Checksum, LayoutError>>> = vec![None; n_checksums];
        for track in self.tracks {
            if let Some(e) = track.error {
                if let Some(i) = track.etag {
                    etags[i] = Some(Err(e.clone()));
                }
                for sum in &track.sums {
                    checksums[sum.out] = Some(Err(e.clone()));
                }
                continue;
            }
            if !track.pending.is_empty() {
                return Err(internal("a part was opened but never hashed"));
            }
            if let Some(i) = track.etag {
                let etag = match track.layout {
                    Layout::Single => match track.single {
                        Some(d) => Etag::single(d),
                        None => return Err(internal("the source was never hashed")),
                    },
                    _ => track.folder.finish().map_err(EngineError::TooManyParts)?,
                };
                etags[i] = Some(Ok(etag));
                part_digests[i] = track.kept;
            }
            for sum in track.sums {
                if let Some(e) = sum.error {
                    return Err(e);
                }
                let value = match sum.slot {
                    Slot::Whole(value) => value.ok_or_else(|| internal("the source was never hashed"))?,
                    Slot::Fold(folder) => (*folder).finish().map_err(|e| match e {
                        FoldError::TooManyParts(parts) => {
                            EngineError::TooManyParts(PartCountError::TooMany { parts })
                        }
                        e => internal(&e.to_string()),
                    })?,
                };
                checksums[sum.out] = Some(Ok(value));
            }
        }
        let etags = etags.into_iter().map(|e| e.ok_or_else(|| internal("an ETag has no track")));
        let checksums = checksums.into_iter().map(|c| c.ok_or_else(|| internal("a checksum has no track")));
        Ok(Hashed {
            size: end,
            etags: etags.collect::<Result<_, _>>()?,
            part_digests,
            checksums: checksums.collect::<Result<_, _>>()?,
        })
    }

    /// The most parts and streams held at once.
    #[cfg(test)]
    pub(super) fn high_water(&self) -> (usize, usize) {
        self.high
    }
}

/// Whether `s` can take bytes from a window that ends at `w1` (or settle an empty range).
pub(super) fn takes_from_window(s: &Stream, w1: u64) -> bool {
    s.next_end().is_some_and(|end| s.pos < end.min(w1) || end == s.pos)
}
