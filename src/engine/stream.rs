//! One MD5 stream of the engine, and the batch step that advances many streams at once.

use crate::etag::Md5Digest;
use crate::md5x::{self, Job, Kernel};

/// One MD5 chain from `start`, handing out a digest at each of `ends`.
pub(super) struct Stream {
    pub(super) start: u64,
    /// Ends still to reach, ascending, each with the number of ranges (of different layouts) that
    /// end there. While the size of the source is unknown an end may lie past the source's end.
    ends: Vec<(u64, u32)>,
    /// Offset in the source up to which bytes were consumed (compressed or held in `tail`).
    pub(super) pos: u64,
    state: [u32; 4],
    /// Consumed bytes that do not fill a block yet.
    tail: [u8; 64],
    tail_len: usize,
    /// Digests handed out since the plan last collected them: (end, digest, ranges that end there).
    pub(super) out: Vec<(u64, Md5Digest, u32)>,
}

impl Stream {
    pub(super) fn new(start: u64) -> Stream {
        Stream {
            start,
            ends: Vec::new(),
            pos: start,
            state: md5x::IV,
            tail: [0; 64],
            tail_len: 0,
            out: Vec::new(),
        }
    }

    /// One more range from `start` to `end`. The plan registers every range of a stream before the
    /// stream moves (see `Plan::horizon`), so `end` is never behind the stream.
    pub(super) fn add_end(&mut self, end: u64) {
        debug_assert!(end >= self.pos, "a range was planned after its stream passed its end");
        match self.ends.binary_search_by_key(&end, |&(e, _)| e) {
            Ok(i) => self.ends[i].1 += 1,
            Err(i) => self.ends.insert(i, (end, 1)),
        }
    }

    /// The offset where the stream must stop next: its next end.
    pub(super) fn next_end(&self) -> Option<u64> {
        self.ends.first().map(|&(e, _)| e)
    }

    pub(super) fn is_done(&self) -> bool {
        self.ends.is_empty()
    }

    /// The digest of everything consumed so far.
    pub(super) fn digest(&self) -> Md5Digest {
        Md5Digest(md5x::finalize(self.state, &self.tail[..self.tail_len], self.pos - self.start))
    }

    /// Hands out the digest for every end at or before the current position.
    fn settle(&mut self) {
        while self.ends.first().is_some_and(|&(e, _)| e <= self.pos) {
            let (end, refs) = self.ends.remove(0);
            let d = self.digest();
            self.out.push((end, d, refs));
        }
    }

    /// Hands out the digest of everything consumed for every remaining end: the source, of a size
    /// unknown in advance, ended at the current position.
    pub(super) fn settle_all(&mut self) {
        let d = self.digest();
        for (end, refs) in self.ends.drain(..) {
            self.out.push((end, d, refs));
        }
    }
}

/// Advances each stream over its bytes, `data` being the next bytes of the source at the stream's
/// position, never past its next end. The whole blocks of all streams go through the multi-buffer
/// kernel together; the partial blocks at either edge are buffered in each stream.
pub(super) fn advance(kernel: Kernel, items: &mut [(&mut Stream, &[u8])]) {
    let mut jobs: Vec<Job<'_>> = Vec::with_capacity(items.len());
    let mut advanced: Vec<(&mut u64, u64)> = Vec::with_capacity(items.len());
    for (stream, data) in items.iter_mut() {
        let Stream { state, tail, tail_len, pos, ends, .. } = &mut **stream;
        let mut data: &[u8] = data;
        debug_assert!(ends.first().is_some_and(|&(e, _)| *pos + data.len() as u64 <= e));
        advanced.push((pos, data.len() as u64));
        if *tail_len > 0 {
            let take = (64 - *tail_len).min(data.len());
            tail[*tail_len..*tail_len + take].copy_from_slice(&data[..take]);
            *tail_len += take;
            data = &data[take..];
            if *tail_len == 64 {
                md5x::compress_scalar(state, &tail[..]);
                *tail_len = 0;
            }
        }
        let whole = data.len() / 64 * 64;
        let rest = &data[whole..];
        tail[*tail_len..*tail_len + rest.len()].copy_from_slice(rest);
        *tail_len += rest.len();
        if whole > 0 {
            jobs.push(Job { state, data: &data[..whole] });
        }
    }
    md5x::compress_jobs(kernel, &mut jobs);
    drop(jobs);
    for (pos, n) in advanced {
        *pos += n;
    }
    for (stream, _) in items.iter_mut() {
        stream.settle();
    }
}
