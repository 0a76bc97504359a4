//! Every engine path against the naive reference implementation, on random contents, sizes around
//! part boundaries, layouts, window sizes, read sizes and write splits.

#[path = "../../tests/common/mod.rs"]
#[allow(unreachable_pub)]
mod common;

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use super::plan::Plan;
use crate::checksum::{self, Algorithm, Checksum};
use crate::engine::{hash_reader_tuned, ChecksumRequest, EngineError, Hashed, NoProgress, Tuning};
use crate::md5x::Kernel;
use crate::{Layout, MultipartHasher};
use common::{reference_etag, Rng};
use proptest::prelude::*;

/// What the last hash on this thread held at most, recorded by the engine.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    /// Parts opened and not folded.
    ranges: usize,
    /// Streams.
    streams: usize,
    /// Streams in flight in the positional reader.
    in_flight: usize,
    /// Bytes the prefetcher read from the disk.
    prefetched: u64,
}

thread_local! {
    static LAST_RUN: Cell<Run> = Cell::new(Run::default());
}

pub(super) fn record((ranges, streams): (usize, usize), in_flight: usize) {
    LAST_RUN.set(Run { ranges, streams, in_flight, prefetched: 0 });
}

pub(super) fn record_prefetch(bytes: u64) {
    LAST_RUN.set(Run { prefetched: bytes, ..LAST_RUN.get() });
}

/// The reference ETag of `data` in `layout` as its digest and part count, for any part count
/// (`reference_etag` goes through the parser, which refuses more than S3's 10,000 parts).
fn reference_any(data: &[u8], layout: &Layout) -> (crate::Md5Digest, Option<u32>) {
    match layout {
        Layout::Uniform { part_size } if data.len() as u64 / part_size >= 10_000 => {
            let mut concat = Vec::new();
            for part in data.chunks(*part_size as usize) {
                concat.extend_from_slice(&common::md5(part).0);
            }
            (common::md5(&concat), Some(data.len().div_ceil(*part_size as usize) as u32))
        }
        _ => {
            let etag = reference_etag(data, layout);
            (etag.digest(), etag.parts())
        }
    }
}

fn last_run() -> Run {
    LAST_RUN.get()
}

/// The kernels this CPU can run. Those it cannot are reported as not tested, never skipped in
/// silence.
fn kernels_under_test() -> Vec<Kernel> {
    for k in Kernel::ALL.into_iter().filter(|k| !k.is_supported()) {
        eprintln!("NOT TESTED: the {k} kernel, which this CPU cannot run");
    }
    Kernel::supported()
}

/// The front-to-back reader with a window of `window` bytes, so that window boundaries fall
/// anywhere on small inputs.
fn windowed<R: std::io::Read + Send>(
    reader: R,
    expected: Option<u64>,
    layouts: &[Layout],
    progress: &NoProgress,
    window: usize,
) -> Result<Hashed, EngineError> {
    hash_reader_tuned(
        reader,
        expected,
        layouts,
        &[],
        &Default::default(),
        progress,
        Tuning { window, ..Tuning::default() },
    )
}

/// A reader that returns at most a few bytes per call, to put read boundaries anywhere.
struct Trickle<'a> {
    data: &'a [u8],
    rng: Rng,
    max: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (1 + self.rng.below(self.max as u64) as usize).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A size near a multiple of the part size, where off-by-one errors live.
fn size_near_boundary(part: u64, rng: &mut Rng) -> u64 {
    let k = rng.below(5);
    let delta = rng.below(5) as i64 - 2;
    (k * part).saturating_add_signed(delta)
}

fn layouts_for(size: u64, rng: &mut Rng) -> Vec<Layout> {
    let mut layouts = vec![Layout::Single];
    for _ in 0..3 {
        layouts.push(Layout::uniform(1 + rng.below(300)).unwrap());
    }
    // An explicit layout that adds up, with uneven parts (and sometimes an empty one).
    let mut parts = Vec::new();
    let mut left = size;
    while left > 0 {
        let p = rng.below(left + 1).max(u64::from(parts.len() % 3 != 0));
        parts.push(p.min(left));
        left -= p.min(left);
    }
    if parts.is_empty() {
        parts.push(0);
    }
    layouts.push(Layout::explicit(parts).unwrap());
    layouts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn engine_matches_reference(seed in any::<u64>(), window in 1usize..400, known_size in any::<bool>()) {
        let mut rng = Rng(seed | 1);
        let part = 1 + rng.below(200);
        let size = size_near_boundary(part, &mut rng);
        let data = rng.bytes(size as usize);
        let mut layouts = layouts_for(size, &mut rng);
        layouts.push(Layout::uniform(part).unwrap());
        let reader = Trickle { data: &data, rng: Rng(seed ^ 0x9e37), max: 1 + rng.below(500) as usize };
        let expected = known_size.then_some(size);
        // Caps small enough that parts wait for room, and streams for parts opened past the cap.
        let tuning = Tuning { window, ranges: [1, 2, 5, 4096][rng.below(4) as usize], ..Tuning::default() };
        let hashed = hash_reader_tuned(reader, expected, &layouts, &[], &Default::default(), &NoProgress, tuning).unwrap();
        prop_assert_eq!(hashed.size, size);
        for (layout, got) in layouts.iter().zip(&hashed.etags) {
            prop_assert_eq!(got.as_ref().unwrap(), &reference_etag(&data, layout), "{:?} size {}", layout, size);
        }
    }

    #[test]
    fn multipart_hasher_is_independent_of_write_sizes(seed in any::<u64>()) {
        let mut rng = Rng(seed | 1);
        let part = 1 + rng.below(300);
        let size = size_near_boundary(part, &mut rng);
        let data = rng.bytes(size as usize);
        let mut h = MultipartHasher::new(part).unwrap();
        let mut rest = &data[..];
        let mut closed = Vec::new();
        while !rest.is_empty() {
            let n = (rng.below(2 * part) as usize).min(rest.len());
            if rng.below(2) == 0 {
                h.write_all(&rest[..n]).unwrap();
            } else {
                h.update_parts(&rest[..n], |number, d| closed.push((number, d))).unwrap();
            }
            rest = &rest[n..];
            // Parts close as soon as they are full, and each is offered as it closes.
            let written = data.len() - rest.len();
            prop_assert_eq!(h.parts_closed(), (written / part as usize) as u64);
            if h.parts_closed() > 0 {
                let k = h.parts_closed() as usize - 1;
                let want = common::md5(&data[k * part as usize..(k + 1) * part as usize]);
                prop_assert_eq!(h.last_part_digest(), Some(want));
            }
        }
        for (number, d) in closed {
            let at = (number - 1) as usize * part as usize;
            prop_assert_eq!(d, common::md5(&data[at..at + part as usize]));
        }
        let (etag, last) = h.finish_with_last_part();
        let last_start = (data.len().max(1) - 1) / part as usize * part as usize;
        prop_assert_eq!(last, common::md5(&data[last_start.min(data.len())..]));
        prop_assert_eq!(etag, reference_etag(&data, &Layout::uniform(part).unwrap()));
    }
}

#[test]
fn explicit_layout_that_does_not_add_up_is_an_error_for_that_layout_only() {
    let data = vec![7u8; 100];
    let layouts = [Layout::explicit(vec![50, 49]).unwrap(), Layout::Single];
    for expected in [Some(100), None] {
        let hashed = windowed(&data[..], expected, &layouts, &NoProgress, 16).unwrap();
        assert!(hashed.etags[0].is_err());
        assert_eq!(hashed.etags[1].as_ref().unwrap(), &reference_etag(&data, &Layout::Single));
    }
}

#[test]
fn a_source_shorter_or_longer_than_announced_is_an_error() {
    let data = vec![1u8; 1000];
    for announced in [999, 1001, 0] {
        let err = windowed(&data[..], Some(announced), &[Layout::Single], &NoProgress, 64).unwrap_err();
        assert!(
            matches!(err, EngineError::SizeChanged { expected, actual: 1000 } if expected == announced),
            "{err}"
        );
    }
}

/// A file that shrinks while it is read (another process truncates it): an error, never a verdict.
#[test]
fn a_file_truncated_while_read_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrinks");
    std::fs::write(&path, vec![3u8; 1 << 20]).unwrap();
    struct Truncating {
        file: std::fs::File,
        victim: std::fs::File,
        read: usize,
    }
    impl Read for Truncating {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.read > 1000 {
                self.victim.set_len(5000)?;
            }
            let len = buf.len().min(4096);
            let n = self.file.read(&mut buf[..len])?;
            self.read += n;
            Ok(n)
        }
    }
    let file = std::fs::File::open(&path).unwrap();
    let victim = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let reader = Truncating { file, victim, read: 0 };
    let err = windowed(reader, Some(1 << 20), &[Layout::Single], &NoProgress, 1 << 16).unwrap_err();
    assert!(err.to_string().contains("but its size was 1048576 bytes when it was opened"), "{err}");
}

#[test]
fn empty_source_gives_the_known_answers() {
    let layouts = [Layout::Single, Layout::uniform(8 << 20).unwrap(), Layout::explicit(vec![0]).unwrap()];
    for expected in [Some(0), None] {
        let hashed = windowed(&[][..], expected, &layouts, &NoProgress, 8).unwrap();
        let got: Vec<String> = hashed.etags.iter().map(|e| e.as_ref().unwrap().to_string()).collect();
        assert_eq!(
            got,
            [
                "d41d8cd98f00b204e9800998ecf8427e",
                "59adb24ef3cdbe0297f05b395827453f-1",
                "59adb24ef3cdbe0297f05b395827453f-1"
            ]
        );
    }
}

/// The positional reader (regular files) on every kernel this machine has, with chunks small
/// enough to put round boundaries anywhere.
#[test]
fn positional_reader_matches_reference_on_every_kernel() {
    use crate::engine::{hash_file_tuned, Prefetch, Tuning};
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    let kernels = kernels_under_test();
    for case in 0..120 {
        let part = 1 + rng.below(700);
        let size = size_near_boundary(part, &mut rng) + rng.below(3000) * u64::from(case % 3 == 0);
        let data = rng.bytes(size as usize);
        let path = dir.path().join(format!("f{case}"));
        std::fs::write(&path, &data).unwrap();
        let mut layouts = layouts_for(size, &mut rng);
        layouts.push(Layout::uniform(part).unwrap());
        for &kernel in &kernels {
            // The prefetcher reads pieces of any size a few bytes ahead of the streams, or everything
            // is cached (this test's files are), or there is none: the results never change.
            let prefetch = [Prefetch::Always, Prefetch::Auto, Prefetch::Never][rng.below(3) as usize];
            let tuning = Tuning {
                chunk: 64 * (1 + rng.below(8) as usize),
                positional_min: 0,
                positional_part_min: 0,
                ranges: [1, 7, 64, 4096][rng.below(4) as usize],
                kernel: Some(kernel),
                prefetch,
                piece: 1 + rng.below(5000) as usize,
                lag: Some(1 + rng.below(20_000)),
                ..Tuning::default()
            };
            let (file, len) = crate::engine::open(&path).unwrap();
            let hashed =
                hash_file_tuned(&file, len, &layouts, &[], &Default::default(), &NoProgress, tuning).unwrap();
            for (layout, got) in layouts.iter().zip(&hashed.etags) {
                assert_eq!(
                    got.as_ref().unwrap(),
                    &reference_etag(&data, layout),
                    "{kernel} {layout:?} size {size}"
                );
            }
        }
    }
}

/// A file evicted from the page cache: the prefetcher finds it cold, reads it front to back ahead
/// of the streams, and the results are the reference's.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "reads the page cache: run alone, as scripts/test does (cargo test -p etagsum --lib -- --ignored --test-threads=1)"]
fn a_cold_file_is_read_ahead_and_hashed_right() {
    use crate::engine::prefetch::tests::{evict, page_cache_lock};
    use crate::engine::{hash_file_tuned, Prefetch, Tuning};
    let _lock = page_cache_lock();
    use rustix::io::{preadv2, Errno, IoSliceMut, ReadWriteFlags};
    // Under the target directory, on the disk: a tmpfs file cannot be evicted.
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let path = dir.path().join("cold");
    // Large enough, in enough parts (the largest at most 1/32 of the file), for the engine to run
    // its prefetcher on its own.
    let data = Rng(0xc01d).bytes(32 << 20);
    std::fs::write(&path, &data).unwrap();
    let layouts = [Layout::uniform(1 << 20).unwrap(), Layout::uniform(1_000_000).unwrap(), Layout::Single];
    for (piece, lag) in [(256 << 10, Some(4 << 20)), (1 << 20, None)] {
        let file = std::fs::File::open(&path).unwrap();
        file.sync_all().unwrap();
        evict(&file);
        let mut byte = [0u8; 1];
        let probe = preadv2(&file, &mut [IoSliceMut::new(&mut byte)], 12 << 20, ReadWriteFlags::NOWAIT);
        assert_eq!(probe, Err(Errno::AGAIN), "the file should have left the page cache");
        let tuning = Tuning { positional_min: 0, prefetch: Prefetch::Auto, piece, lag, ..Tuning::default() };
        let hashed = hash_file_tuned(
            &file,
            Some(data.len() as u64),
            &layouts,
            &[],
            &Default::default(),
            &NoProgress,
            tuning,
        )
        .unwrap();
        for (layout, got) in layouts.iter().zip(&hashed.etags) {
            assert_eq!(got.as_ref().unwrap(), &reference_etag(&data, layout), "{layout:?}");
        }
        assert!(
            last_run().prefetched > 0,
            "the prefetcher did not read the cold file ahead: {:?}",
            last_run()
        );
    }
}

/// A regular file that shrinks or grows while the positional reader reads it: an error.
#[test]
fn positional_reader_notices_a_file_that_changes_size() {
    use crate::engine::{hash_file_tuned, Prefetch, Progress, Tuning};
    struct Resize(std::fs::File, u64);
    impl Progress for Resize {
        fn advance(&self, _bytes: u64) {
            self.0.set_len(self.1).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    // With a prefetcher that waits for room a few KiB ahead, and with none.
    for (new_len, prefetch) in
        [100_000, 3_000_000].into_iter().flat_map(|n| [Prefetch::Always, Prefetch::Never].map(|p| (n, p)))
    {
        let path = dir.path().join("changes");
        std::fs::write(&path, vec![9u8; 2 << 20]).unwrap();
        let resize = Resize(std::fs::OpenOptions::new().write(true).open(&path).unwrap(), new_len);
        let (file, len) = crate::engine::open(&path).unwrap();
        let tuning = Tuning {
            chunk: 4096,
            positional_min: 0,
            positional_part_min: 0,
            prefetch,
            piece: 3000,
            lag: Some(10_000),
            ..Tuning::default()
        };
        let layouts = [Layout::uniform(5000).unwrap(), Layout::Single];
        let err =
            hash_file_tuned(&file, len, &layouts, &[], &Default::default(), &resize, tuning).unwrap_err();
        assert!(
            matches!(err, EngineError::SizeChanged { expected: 2097152, actual } if actual == new_len),
            "{err}"
        );
    }
}

/// Many files at once: the small ones are hashed together in the kernels' lanes, the large ones
/// one by one; every result is the reference's, in order.
#[test]
fn hash_files_matches_reference_for_every_file() {
    use crate::engine::{hash_files, open, FileJob};
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0xf11e5);
    let mut contents = Vec::new();
    let mut opened = Vec::new();
    let mut layouts = Vec::new();
    for i in 0..150 {
        let size = match i % 10 {
            0 => 0,
            1 => (1 << 20) + 1 + rng.below(3 << 20),
            _ => rng.below(5_000),
        };
        let data = rng.bytes(size as usize);
        let path = dir.path().join(format!("f{i}"));
        std::fs::write(&path, &data).unwrap();
        layouts.push(if size > 100_000 {
            vec![Layout::Single, Layout::uniform(1 << 20).unwrap(), Layout::uniform(777_777).unwrap()]
        } else {
            layouts_for(size, &mut rng)
        });
        opened.push(open(&path).unwrap());
        contents.push(data);
    }
    let jobs: Vec<FileJob<'_>> = opened
        .iter()
        .zip(&layouts)
        .map(|((f, s), l)| FileJob { file: f, size: *s, layouts: l, checksums: &[] })
        .collect();
    // With the default budget, and with the smallest, which makes batches of 1 MiB.
    let tight = crate::ReadOptions { memory: 0, ..Default::default() };
    for opts in [crate::ReadOptions::default(), tight] {
        let results = hash_files(&jobs, &opts, &NoProgress);
        assert_eq!(results.len(), 150);
        for ((result, data), layouts) in results.iter().zip(&contents).zip(&layouts) {
            let hashed = result.as_ref().unwrap();
            assert_eq!(hashed.size, data.len() as u64);
            for (layout, got) in layouts.iter().zip(&hashed.etags) {
                assert_eq!(
                    got.as_ref().unwrap(),
                    &reference_etag(data, layout),
                    "{layout:?} size {}",
                    data.len()
                );
            }
        }
    }
}

/// Tiny parts, millions of them on a large file: the plan holds a bounded number of parts and
/// streams at once, through the front-to-back reader and the positional reader alike, and the
/// per-part digests are kept only for layouts of at most `MAX_PARTS` parts.
#[test]
fn many_tiny_parts_are_hashed_in_bounded_memory() {
    use crate::engine::{hash_file_tuned, Prefetch};
    use crate::layout::MAX_PARTS;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x71e7);
    let len = 200_000 + rng.below(1000) as usize;
    let data = rng.bytes(len);
    let path = dir.path().join("tiny");
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let size = data.len() as u64;
    for part in 1..=7u64 {
        let layouts = [
            Layout::uniform(part).unwrap(),
            Layout::Single,
            Layout::uniform(part + 1).unwrap(),
            Layout::uniform(size / 5000).unwrap(),
        ];
        for (ranges, positional) in [(64, false), (64, true), (4096, false), (4096, true)] {
            let tuning = Tuning {
                window: 1 + rng.below(100_000) as usize,
                chunk: 64,
                positional_min: if positional { 0 } else { u64::MAX },
                positional_part_min: 0,
                ranges,
                prefetch: Prefetch::Never,
                ..Tuning::default()
            };
            let hashed =
                hash_file_tuned(&file, Some(size), &layouts, &[], &Default::default(), &NoProgress, tuning)
                    .unwrap();
            let run = last_run();
            // A few more than the cap when nothing could move otherwise: one per layout at most.
            let bound = ranges + layouts.len() + 1;
            assert!(run.ranges <= bound && run.streams <= bound, "part {part}: {run:?}, bound {bound}");
            assert_eq!(positional, run.in_flight > 0);
            for (layout, (got, digests)) in layouts.iter().zip(hashed.etags.iter().zip(&hashed.part_digests))
            {
                let got = got.as_ref().unwrap();
                let want = reference_any(&data, layout);
                assert_eq!((got.digest(), got.parts()), want, "{layout:?} positional {positional}");
                let count = layout.part_count(size).unwrap();
                match digests {
                    Some(d) => assert!(d.len() as u64 == count && count <= MAX_PARTS, "{layout:?}"),
                    None => assert!(count > MAX_PARTS, "{layout:?}"),
                }
            }
        }
    }
}

/// The same on a source of unknown size (a pipe), where the parts' ends are not known in advance.
#[test]
fn many_tiny_parts_of_a_stream_are_hashed_in_bounded_memory() {
    let data = Rng(0x7e57).bytes(150_000);
    let layouts = [Layout::uniform(1).unwrap(), Layout::uniform(3).unwrap(), Layout::Single];
    let tuning = Tuning { window: 10_007, ranges: 100, ..Tuning::default() };
    let hashed =
        hash_reader_tuned(&data[..], None, &layouts, &[], &Default::default(), &NoProgress, tuning).unwrap();
    let run = last_run();
    assert!(run.ranges <= 104 && run.streams <= 104, "{run:?}");
    for (layout, got) in layouts.iter().zip(&hashed.etags) {
        let got = got.as_ref().unwrap();
        assert_eq!((got.digest(), got.parts()), reference_any(&data, layout), "{layout:?}");
    }
    assert!(hashed.part_digests[0].is_none() && hashed.part_digests[2].as_ref().unwrap().len() == 1);
}

/// A reader that yields more than announced: an error that says how much it held, never a panic,
/// and never a digest of bytes past the announced size.
#[test]
fn a_reader_longer_than_announced_is_an_error_not_a_panic() {
    let data = Rng(20).bytes(20);
    let layouts = [Layout::Single, Layout::uniform(3).unwrap(), Layout::uniform(10).unwrap()];
    for window in [1, 3, 7, 10, 11, 64] {
        for announced in [0, 1, 9, 10, 19] {
            let err = windowed(&data[..], Some(announced), &layouts, &NoProgress, window).unwrap_err();
            assert!(
                matches!(err, EngineError::SizeChanged { expected, actual: 20 } if expected == announced),
                "{err}"
            );
            assert!(err.to_string().starts_with("holds 20 bytes, but its size was"), "{err}");
        }
    }
}

/// `max_size` ends a stream source as soon as it passes the limit, not at its end.
#[test]
fn a_stream_past_the_size_limit_is_stopped_at_the_limit() {
    struct Counted<'a>(&'a AtomicU64);
    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            // 64 MiB, then the end: a hash that ignores the limit would succeed.
            let n = buf.len().min((64 << 20) - self.0.load(Ordering::Relaxed) as usize);
            buf[..n].fill(7);
            self.0.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }
    let limit = 100_000;
    let opts = crate::ReadOptions { max_size: Some(limit), ..Default::default() };
    for expected in [None, Some(64 << 20)] {
        let pulled = AtomicU64::new(0);
        let err = hash_reader_tuned(
            Counted(&pulled),
            expected,
            &[Layout::uniform(5000).unwrap()],
            &[],
            &opts,
            &NoProgress,
            Tuning::default(),
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::TooLong { limit: 100_000 }), "{err}");
        let pulled = pulled.load(Ordering::Relaxed);
        assert!(pulled <= limit + 1, "read {pulled} bytes");
    }
    // At the limit exactly is fine.
    let data = vec![1u8; limit as usize];
    let hashed = crate::hash_reader(&data[..], None, &[Layout::Single], &opts, &NoProgress).unwrap();
    assert_eq!(hashed.size, limit);
}

/// A raised `Cancel` ends every reader with `Cancelled`, including while it runs.
#[test]
fn cancel_stops_every_reader() {
    use crate::engine::{hash_file_tuned, hash_files, FileJob, Progress};
    use crate::{Cancel, ReadOptions};
    struct CancelOnProgress(Cancel);
    impl Progress for CancelOnProgress {
        fn advance(&self, _bytes: u64) {
            self.0.cancel();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    let data = Rng(9).bytes(3 << 20);
    std::fs::write(&path, &data).unwrap();
    let layouts = [Layout::uniform(100_000).unwrap()];
    for positional_min in [0, u64::MAX] {
        let opts = ReadOptions::default();
        let progress = CancelOnProgress(opts.cancel.clone());
        let tuning = Tuning { window: 1 << 16, chunk: 4096, positional_min, ..Tuning::default() };
        let (file, size) = crate::engine::open(&path).unwrap();
        let err = hash_file_tuned(&file, size, &layouts, &[], &opts, &progress, tuning).unwrap_err();
        assert!(matches!(err, EngineError::Cancelled), "{err}");
    }
    let opts = ReadOptions::default();
    opts.cancel.cancel();
    let (file, size) = crate::engine::open(&path).unwrap();
    let small = std::fs::File::open(&path).unwrap();
    let jobs = [
        FileJob { file: &file, size, layouts: &layouts, checksums: &[] },
        FileJob { file: &small, size: Some(10), layouts: &layouts, checksums: &[] },
    ];
    for r in hash_files(&jobs, &opts, &NoProgress) {
        assert!(matches!(r, Err(EngineError::Cancelled)));
    }
}

/// `memory` bounds the read buffers: the positional reader keeps fewer streams in flight on a
/// pool of many threads, but always one kernel's lanes; the results do not change.
#[test]
fn the_memory_budget_bounds_the_streams_in_flight() {
    use crate::engine::{hash_file_tuned, Prefetch, ReadOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let data = Rng(10).bytes(4 << 20);
    std::fs::write(&path, &data).unwrap();
    let layouts = [Layout::uniform(64 << 10).unwrap()];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(16).build().unwrap();
    let chunk = 256 << 10;
    for (memory, want) in [(1 << 20, None), (8 << 20, Some((8 << 20) / (chunk + 64))), (usize::MAX, None)] {
        let kernel = Kernel::detect();
        let opts = ReadOptions { memory, ..ReadOptions::default() };
        let tuning = Tuning { chunk, positional_min: 0, prefetch: Prefetch::Never, ..Tuning::default() };
        let (file, size) = crate::engine::open(&path).unwrap();
        let (hashed, run) = pool.install(|| {
            let h = hash_file_tuned(&file, size, &layouts, &[], &opts, &NoProgress, tuning).unwrap();
            (h, last_run())
        });
        let want = match (memory, want) {
            (usize::MAX, _) => kernel.lanes() * 16,
            (_, Some(n)) => n.max(kernel.lanes()),
            _ => kernel.lanes(),
        };
        assert_eq!(run.in_flight, want, "memory {memory}");
        assert_eq!(hashed.etags[0].as_ref().unwrap(), &reference_etag(&data, &layouts[0]));
    }
}

/// When the size is known, the plan never hands out the digest of a stream that did not reach
/// its end: that would be the digest of bytes never hashed.
#[test]
fn a_plan_with_unfinished_streams_is_an_error() {
    use crate::engine::plan::Plan;
    let mut plan = Plan::new(&[Layout::Single, Layout::uniform(3).unwrap()], Some(10), 100).unwrap();
    assert!(plan.prepare_window(10));
    let err = plan.finish(10).unwrap_err();
    assert!(matches!(err, EngineError::SizeChanged { expected: 10, actual: 0 }), "{err}");
    let plan = Plan::new(&[Layout::Single], Some(10), 100).unwrap();
    assert!(matches!(plan.finish(9), Err(EngineError::SizeChanged { expected: 10, actual: 9 })));
}

/// A source of unknown size (a pipe) goes front to back, never through positional reads, which
/// a pipe refuses.
#[cfg(unix)]
#[test]
fn a_pipe_is_hashed_as_a_stream() {
    use std::os::fd::OwnedFd;
    let data = Rng(11).bytes(3 << 20);
    let (reader, mut writer) = std::io::pipe().unwrap();
    let file = std::fs::File::from(OwnedFd::from(reader));
    let layouts = [Layout::Single, Layout::uniform(1 << 20).unwrap(), Layout::uniform(1000).unwrap()];
    let hashed = std::thread::scope(|s| {
        s.spawn(|| {
            writer.write_all(&data).unwrap();
            drop(writer);
        });
        crate::engine::hash_file(&file, None, &layouts, &Default::default(), &NoProgress).unwrap()
    });
    for (layout, got) in layouts.iter().zip(&hashed.etags) {
        assert_eq!(got.as_ref().unwrap(), &reference_etag(&data, layout), "{layout:?}");
    }
}

/// A regular file that reports 0 bytes but holds some (procfs) is read to its end; a file that
/// is really empty keeps its size.
#[test]
fn files_whose_size_cannot_be_trusted_are_read_as_streams() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(crate::engine::open(&empty).unwrap().1, Some(0));
    #[cfg(target_os = "linux")]
    {
        let path = std::path::Path::new("/proc/version");
        let (_, size) = crate::engine::open(path).unwrap();
        assert_eq!(size, None);
        let want = std::fs::read(path).unwrap();
        assert!(!want.is_empty());
        let hashed = crate::hash_path(path, &[Layout::Single], &Default::default(), &NoProgress).unwrap();
        assert_eq!(hashed.size, want.len() as u64);
        assert_eq!(hashed.etags[0].as_ref().unwrap(), &reference_etag(&want, &Layout::Single));
    }
}

/// A file that holds fewer bytes than its size says (sysfs reports 4096): the error says where it
/// really ended, through both readers, and on Linux `open` reads such files as streams.
#[cfg(target_os = "linux")]
#[test]
fn a_short_file_reports_the_bytes_really_read() {
    use crate::engine::{hash_file_tuned, Prefetch};
    let path = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled");
    let Ok(want) = std::fs::read(path) else {
        eprintln!("NOT TESTED: {} cannot be read here", path.display());
        return;
    };
    let (_, size) = crate::engine::open(path).unwrap();
    assert_eq!(size, None, "sysfs sizes are made up");
    let file = std::fs::File::open(path).unwrap();
    let reported = file.metadata().unwrap().len();
    assert!(reported > want.len() as u64, "{} reports {reported} bytes", path.display());
    for positional_min in [0, u64::MAX] {
        let tuning =
            Tuning { positional_min, positional_part_min: 0, prefetch: Prefetch::Never, ..Tuning::default() };
        let layouts = [Layout::uniform(7).unwrap()];
        let err =
            hash_file_tuned(&file, Some(reported), &layouts, &[], &Default::default(), &NoProgress, tuning)
                .unwrap_err();
        let n = want.len();
        assert!(
            matches!(err, EngineError::SizeChanged { expected, actual } if expected == reported && actual == n as u64),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("ended after {n} bytes, but its size was {reported} bytes when it was opened")
        );
    }
}

/// The checksum `request` asks for, computed naively: `None` when its layout does not fit.
fn reference_checksum(data: &[u8], request: &ChecksumRequest) -> Option<Checksum> {
    match request {
        ChecksumRequest::FullObject(a) => Some(Checksum::of(*a, data)),
        ChecksumRequest::Composite(a, layout) => {
            let ranges = layout.part_ranges(data.len() as u64).ok()?;
            let mut h = checksum::Hasher::new(*a);
            for r in &ranges {
                h.update(Checksum::of(*a, &data[r.start as usize..r.end as usize]).bytes());
            }
            Some(h.finish().with_parts(Some(ranges.len() as u32)))
        }
    }
}

/// Random checksum requests: full-object values of every algorithm, and composite ones over the
/// layouts (which the ETags share) and over layouts of their own.
fn requests_for(layouts: &[Layout], size: u64, rng: &mut Rng) -> Vec<ChecksumRequest> {
    let mut requests = Vec::new();
    for _ in 0..1 + rng.below(5) {
        let a = Algorithm::ALL[rng.below(5) as usize];
        requests.push(match rng.below(3) {
            0 => ChecksumRequest::FullObject(a),
            1 => ChecksumRequest::Composite(a, layouts[rng.below(layouts.len() as u64) as usize].clone()),
            _ => ChecksumRequest::Composite(a, Layout::uniform(1 + rng.below(size + 2)).unwrap()),
        });
    }
    requests
}

fn assert_checksums(data: &[u8], requests: &[ChecksumRequest], hashed: &Hashed, what: &str) {
    assert_eq!(hashed.checksums.len(), requests.len(), "{what}");
    for (request, got) in requests.iter().zip(&hashed.checksums) {
        assert_eq!(got.as_ref().ok(), reference_checksum(data, request).as_ref(), "{request:?} {what}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every checksum, over every reader, equals the naive computation, and the ETags beside them
    /// are untouched.
    #[test]
    fn checksums_match_reference_on_every_reader(seed in any::<u64>(), window in 1usize..400) {
        use crate::engine::{hash_file_tuned, hash_files, FileJob, Prefetch};
        let mut rng = Rng(seed | 1);
        let part = 1 + rng.below(200);
        let size = size_near_boundary(part, &mut rng);
        let data = rng.bytes(size as usize);
        let mut layouts = layouts_for(size, &mut rng);
        layouts.push(Layout::uniform(part).unwrap());
        let layouts = &layouts[rng.below(layouts.len() as u64) as usize..];
        let requests = requests_for(&layouts_for(size, &mut rng), size, &mut rng);
        let ranges = [1, 2, 5, 4096][rng.below(4) as usize];
        let check_etags = |hashed: &Hashed, what: &str| {
            for (layout, got) in layouts.iter().zip(&hashed.etags) {
                match got {
                    Ok(got) => assert_eq!((got.digest(), got.parts()), reference_any(&data, layout), "{what}"),
                    Err(_) => assert!(layout.part_count(size).is_err(), "{what}"),
                }
            }
        };
        for known in [false, true] {
            let reader = Trickle { data: &data, rng: Rng(seed ^ 0x9e37), max: 1 + rng.below(500) as usize };
            let tuning = Tuning { window, ranges, ..Tuning::default() };
            let hashed = crate::engine::hash_reader_tuned(
                reader, known.then_some(size), layouts, &requests, &Default::default(), &NoProgress, tuning,
            ).unwrap();
            assert_checksums(&data, &requests, &hashed, "front to back");
            check_etags(&hashed, "front to back");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let tuning = Tuning {
            chunk: 64 * (1 + rng.below(4) as usize),
            positional_min: 0,
            positional_part_min: 0,
            ranges,
            prefetch: Prefetch::Never,
            ..Tuning::default()
        };
        let hashed = hash_file_tuned(&file, Some(size), layouts, &requests, &Default::default(), &NoProgress, tuning).unwrap();
        assert_checksums(&data, &requests, &hashed, "positional");
        check_etags(&hashed, "positional");
        let jobs = [FileJob { file: &file, size: Some(size), layouts, checksums: &requests }];
        let hashed = hash_files(&jobs, &Default::default(), &NoProgress).pop().unwrap().unwrap();
        assert_checksums(&data, &requests, &hashed, "batch");
        check_etags(&hashed, "batch");
    }
}

/// A full-object CRC rides on the parts of a multipart ETag, or on parts of its own on a large file
/// with no multipart layout, and is combined: the same value as one stream gives, read with the
/// positional reader (in parallel). A full-object SHA is one stream, and no MD5 runs for a
/// checksum alone.
#[test]
fn full_object_crcs_are_combined_from_parts_of_any_layout() {
    use crate::engine::{hash_file_tuned, Prefetch};
    let dir = tempfile::tempdir().unwrap();
    let size = (40 << 20) + 12_345;
    let data = Rng(0xc4c).bytes(size);
    let path = dir.path().join("large");
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let requests: Vec<ChecksumRequest> =
        Algorithm::ALL.into_iter().map(ChecksumRequest::FullObject).collect();
    let tuning = Tuning { prefetch: Prefetch::Never, ..Tuning::default() };
    for (layouts, positional) in [
        (vec![], true),
        (vec![Layout::uniform(5 << 20).unwrap()], true),
        (vec![Layout::Single], false),
        (vec![Layout::Single, Layout::uniform(8 << 20).unwrap()], true),
    ] {
        let hashed = hash_file_tuned(
            &file,
            Some(size as u64),
            &layouts,
            &requests,
            &Default::default(),
            &NoProgress,
            tuning,
        )
        .unwrap();
        assert_checksums(&data, &requests, &hashed, &format!("{layouts:?}"));
        assert_eq!(positional, last_run().in_flight > 0, "{layouts:?}");
        assert_eq!(hashed.etags.len(), layouts.len());
    }
}

/// Streams run only the hashes their ranges need: with checksums alone no MD5 is computed (seen
/// from the plan), and a checksum of the first part does not run on over the whole object.
#[test]
fn streams_run_only_the_hashes_their_ranges_need() {
    use super::stream::Needs;
    let layouts = [Layout::Single, Layout::uniform(10).unwrap()];
    let requests = [ChecksumRequest::Composite(Algorithm::Sha256, Layout::uniform(10).unwrap())];
    let plan = Plan::with_checksums(&layouts, &requests, Some(100), 100).unwrap();
    let layouts: Vec<&Layout> = plan.layouts().collect();
    assert_eq!(layouts.len(), 2, "the composite shares the ETag's track");
    let plan =
        Plan::with_checksums(&[], &[ChecksumRequest::FullObject(Algorithm::Crc32)], Some(100), 100).unwrap();
    assert_eq!(plan.layouts().collect::<Vec<_>>(), [&Layout::Single]);
    let n = Needs::checksum(Algorithm::Crc32);
    assert!(!n.md5() && n.has(Algorithm::Crc32) && !n.has(Algorithm::Crc32c));
    // The data through the engine, with a checksum of the first part only: equal to the reference.
    let data = Rng(5).bytes(100);
    let hashed = crate::engine::hash_reader_with(
        &data[..],
        Some(100),
        &[Layout::Single],
        &[ChecksumRequest::Composite(Algorithm::Crc32c, Layout::explicit(vec![10, 90]).unwrap())],
        &Default::default(),
        &NoProgress,
    )
    .unwrap();
    assert_checksums(
        &data,
        &[ChecksumRequest::Composite(Algorithm::Crc32c, Layout::explicit(vec![10, 90]).unwrap())],
        &hashed,
        "",
    );
}
