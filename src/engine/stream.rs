//! One stream of the engine, and the batch step that advances many streams at once.
//!
//! A stream hashes the source from its start with every hash some range from there needs: the MD5
//! of the ETags, and the additional checksums. Each hash runs only as far as the farthest range
//! that needs it, so a checksum asked for the first part of one layout does not ride along the
//! whole object with the single-part MD5 that shares its start.

use crate::checksum::{Algorithm, Checksum, Hasher};
use crate::etag::Md5Digest;
use crate::md5x::{self, Job, Kernel};

/// Which hashes a range needs: bit 0 the MD5, bit `1 + i` the checksum `Algorithm::ALL[i]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Needs(u8);

impl Needs {
    pub(super) const MD5: Needs = Needs(1);

    pub(super) fn checksum(algorithm: Algorithm) -> Needs {
        Needs(2 << algorithm_index(algorithm))
    }

    pub(super) fn union(self, other: Needs) -> Needs {
        Needs(self.0 | other.0)
    }

    pub(super) fn md5(self) -> bool {
        self.0 & 1 != 0
    }

    pub(super) fn has(self, algorithm: Algorithm) -> bool {
        self.0 & (2 << algorithm_index(algorithm)) != 0
    }
}

fn algorithm_index(algorithm: Algorithm) -> usize {
    Algorithm::ALL.iter().position(|&a| a == algorithm).unwrap_or(0)
}

/// What a stream hands out at the end of a range: the hashes the ranges that end there need.
/// Small when only the MD5 is (an ETag of millions of tiny parts hands out millions of these).
#[derive(Clone, Debug, Default)]
pub(super) struct Sums {
    pub(super) md5: Option<Md5Digest>,
    checksums: Vec<Checksum>,
}

impl Sums {
    /// The range's checksum of `algorithm`, if it was asked for.
    pub(super) fn checksum(&self, algorithm: Algorithm) -> Option<Checksum> {
        self.checksums.iter().find(|c| c.algorithm() == algorithm).copied()
    }
}

/// One hash chain from `start`, handing out its hashes at each of `ends`.
pub(super) struct Stream {
    pub(super) start: u64,
    /// Ends still to reach, ascending, each with the number of ranges (of different layouts) that
    /// end there and the hashes they need. While the size of the source is unknown an end may lie
    /// past the source's end.
    ends: Vec<(u64, u32, Needs)>,
    /// Offset in the source up to which bytes were consumed (compressed or held in `tail`).
    pub(super) pos: u64,
    /// The MD5 runs up to here: the farthest end of a range that needs it (`start`: none does).
    md5_until: u64,
    state: [u32; 4],
    /// Consumed bytes that do not fill a block yet.
    tail: [u8; 64],
    tail_len: usize,
    /// The checksums, each with the farthest end of a range that needs it.
    checksums: Vec<(Hasher, u64)>,
    /// Hashes handed out since the plan last collected them: (end, hashes, ranges that end there).
    pub(super) out: Vec<(u64, Sums, u32)>,
}

impl Stream {
    pub(super) fn new(start: u64) -> Stream {
        Stream {
            start,
            ends: Vec::new(),
            pos: start,
            md5_until: start,
            state: md5x::IV,
            tail: [0; 64],
            tail_len: 0,
            checksums: Vec::new(),
            out: Vec::new(),
        }
    }

    /// One more range from `start` to `end`, needing `needs`. The plan registers every range of a
    /// stream before the stream moves (see `Plan::horizon`), so `end` is never behind the stream,
    /// and a hash a new range needs starts at the stream's start.
    pub(super) fn add_end(&mut self, end: u64, needs: Needs) {
        debug_assert!(end >= self.pos, "a range was planned after its stream passed its end");
        match self.ends.binary_search_by_key(&end, |&(e, _, _)| e) {
            Ok(i) => {
                self.ends[i].1 += 1;
                self.ends[i].2 = self.ends[i].2.union(needs);
            }
            Err(i) => self.ends.insert(i, (end, 1, needs)),
        }
        if needs.md5() {
            self.md5_until = self.md5_until.max(end);
        }
        for algorithm in Algorithm::ALL.into_iter().filter(|&a| needs.has(a)) {
            match self.checksums.iter_mut().find(|(h, _)| h.algorithm() == algorithm) {
                Some((_, until)) => *until = (*until).max(end),
                None => {
                    debug_assert_eq!(self.pos, self.start, "a checksum was added to a stream that moved");
                    self.checksums.push((Hasher::new(algorithm), end));
                }
            }
        }
    }

    /// The offset where the stream must stop next: its next end.
    pub(super) fn next_end(&self) -> Option<u64> {
        self.ends.first().map(|&(e, _, _)| e)
    }

    pub(super) fn is_done(&self) -> bool {
        self.ends.is_empty()
    }

    /// Whether a checksum still runs at the stream's position.
    fn has_checksums(&self) -> bool {
        self.checksums.iter().any(|(_, until)| self.pos < *until)
    }

    /// Runs the checksums over `data`, the next bytes at the stream's position (never past its next
    /// end), without moving the stream.
    pub(super) fn update_checksums(&mut self, data: &[u8]) {
        // Data never crosses an end, so each checksum takes all of it or none.
        for (h, until) in &mut self.checksums {
            if self.pos < *until {
                h.update(data);
            }
        }
    }

    /// The hashes `needs` asks for, of everything consumed so far.
    fn sums(&self, needs: Needs) -> Sums {
        let mut sums = Sums::default();
        if needs.md5() {
            sums.md5 = Some(Md5Digest(md5x::finalize(
                self.state,
                &self.tail[..self.tail_len],
                self.pos - self.start,
            )));
        }
        for (h, _) in &self.checksums {
            if needs.has(h.algorithm()) {
                sums.checksums.push(h.clone().finish());
            }
        }
        sums
    }

    /// Hands out the hashes for every end at or before the current position.
    fn settle(&mut self) {
        while self.ends.first().is_some_and(|&(e, _, _)| e <= self.pos) {
            let (end, refs, needs) = self.ends.remove(0);
            let sums = self.sums(needs);
            self.out.push((end, sums, refs));
        }
    }

    /// Hands out the hashes of everything consumed for every remaining end: the source, of a size
    /// unknown in advance, ended at the current position.
    pub(super) fn settle_all(&mut self) {
        for (end, refs, needs) in std::mem::take(&mut self.ends) {
            let sums = self.sums(needs);
            self.out.push((end, sums, refs));
        }
    }
}

/// Advances each stream over its bytes, `data` being the next bytes of the source at the stream's
/// position, never past its next end. The whole blocks of all streams' MD5s go through the
/// multi-buffer kernel together; the partial blocks at either edge are buffered in each stream.
///
/// The checksums take the same bytes on the same thread, in steps of [`STEP`] bytes per stream
/// with the MD5s following each step: the bytes come from memory once, for the checksum, and the
/// MD5 finds them in the cache. (A read copies a chunk into its buffer past the cache, so a
/// checksum over whole chunks before the MD5s would read everything from memory twice.)
pub(super) fn advance(kernel: Kernel, items: &mut [(&mut Stream, &[u8])]) {
    if !items.iter().any(|(s, _)| s.has_checksums()) {
        return advance_md5(kernel, items);
    }
    let longest = items.iter().map(|(_, d)| d.len()).max().unwrap_or(0);
    let mut off = 0;
    loop {
        let mut step: Vec<(&mut Stream, &[u8])> = items
            .iter_mut()
            .filter_map(|(s, d)| {
                let (a, b) = (off.min(d.len()), (off + STEP).min(d.len()));
                // An empty range settles in the first step.
                (a < b || (off == 0 && d.is_empty())).then_some((&mut **s, &d[a..b]))
            })
            .collect();
        for (s, d) in step.iter_mut() {
            s.update_checksums(d);
        }
        advance_md5(kernel, &mut step);
        off += STEP;
        if off >= longest {
            return;
        }
    }
}

/// Bytes per stream per step when checksums run beside the MD5s: the steps of every lane together
/// stay in the cache.
const STEP: usize = 32 << 10;

/// Advances the MD5s of the streams over their bytes, for streams whose checksums already took
/// them ([`Stream::update_checksums`]): the positional reader runs the checksums on each chunk as
/// soon as it is read, while it is in the cache.
pub(super) fn advance_md5(kernel: Kernel, items: &mut [(&mut Stream, &[u8])]) {
    let mut jobs: Vec<Job<'_>> = Vec::with_capacity(items.len());
    let mut advanced: Vec<(&mut u64, u64)> = Vec::with_capacity(items.len());
    for (stream, data) in items.iter_mut() {
        let Stream { state, tail, tail_len, pos, ends, md5_until, .. } = &mut **stream;
        let mut data: &[u8] = data;
        debug_assert!(ends.first().is_some_and(|&(e, _, _)| *pos + data.len() as u64 <= e));
        let at = *pos;
        advanced.push((pos, data.len() as u64));
        if at >= *md5_until {
            continue;
        }
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
