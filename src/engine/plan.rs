//! The plan: which byte ranges the requested layouts need, and the streams that hash them.
//!
//! Ranges that start at the same offset share one stream, which hands out a digest at each
//! range's end: the single-part MD5 and the first part of every candidate layout cost one pass.

use std::collections::{BTreeMap, HashMap};

use super::stream::Stream;
use super::Hashed;
use crate::etag::{Etag, Md5Digest};
use crate::layout::{Layout, LayoutError};

/// How one requested layout maps onto streams.
struct Track {
    layout: Layout,
    /// (start, end) of each part opened so far. While the size is unknown, `end` may be
    /// `u64::MAX` or lie past the end of the source.
    parts: Vec<(u64, u64)>,
    /// Where the next uniform part starts.
    next_start: u64,
    error: Option<LayoutError>,
}

pub(super) struct Plan {
    tracks: Vec<Track>,
    /// Streams not yet finished, by start offset.
    pub(super) streams: BTreeMap<u64, Stream>,
    /// Digests of finished ranges.
    done: HashMap<(u64, u64), Md5Digest>,
    size: Option<u64>,
}

impl Plan {
    pub(super) fn new(layouts: &[Layout], size: Option<u64>) -> Plan {
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

    fn open(&mut self, t: usize) {
        let Layout::Uniform { part_size } = self.tracks[t].layout else { return };
        let track = &mut self.tracks[t];
        let start = track.next_start;
        let mut end = start.saturating_add(part_size);
        if let Some(size) = self.size {
            end = end.min(size);
        }
        track.parts.push((start, end));
        track.next_start = start.saturating_add(part_size);
        self.streams.entry(start).or_insert_with(|| Stream::new(start)).add_end(end);
    }

    /// Opens every uniform part that starts before `limit`.
    pub(super) fn open_parts_before(&mut self, limit: u64) {
        for t in 0..self.tracks.len() {
            while self.is_open_uniform(t) && self.tracks[t].next_start < limit {
                self.open(t);
            }
        }
    }

    /// Opens the uniform part that starts first among those not yet opened (the size must be
    /// known); false when every part is open.
    pub(super) fn open_next(&mut self) -> bool {
        let size = self.size.expect("open_next needs the size");
        let next = (0..self.tracks.len())
            .filter(|&t| self.is_open_uniform(t) && self.tracks[t].next_start < size)
            .min_by_key(|&t| self.tracks[t].next_start);
        match next {
            Some(t) => {
                self.open(t);
                true
            }
            None => false,
        }
    }

    fn is_open_uniform(&self, t: usize) -> bool {
        matches!(self.tracks[t].layout, Layout::Uniform { .. }) && self.tracks[t].error.is_none()
    }

    /// Collects the digests the streams handed out and drops the finished streams.
    pub(super) fn collect(&mut self) {
        for s in self.streams.values_mut() {
            for (end, d) in s.out.drain(..) {
                self.done.insert((s.start, end), d);
            }
        }
        self.streams.retain(|_, s| !s.is_done());
    }

    /// Ends every stream at the source's end (`size` bytes) and assembles each layout's ETag.
    pub(super) fn finish(mut self, size: u64) -> Hashed {
        for s in self.streams.values_mut() {
            s.settle_all();
        }
        self.collect();
        // A uniform layout of the empty source is one empty part.
        for track in &mut self.tracks {
            if matches!(track.layout, Layout::Uniform { .. })
                && track.error.is_none()
                && track.parts.is_empty()
            {
                track.parts.push((0, 0));
                self.done.insert((0, 0), Stream::new(0).digest());
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
