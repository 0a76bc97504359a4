//! Every engine path against the naive reference implementation, on random contents, sizes around
//! part boundaries, layouts, window sizes, read sizes and write splits.

#[path = "../../tests/common/mod.rs"]
#[allow(unreachable_pub)]
mod common;

use std::io::{self, Read, Write};

use crate::engine::{hash_reader_tuned, EngineError, Hashed, NoProgress, Tuning};
use crate::{Layout, MultipartHasher};
use common::{reference_etag, Rng};
use proptest::prelude::*;

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
        let hashed = windowed(reader, expected, &layouts, &NoProgress, window).unwrap();
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
        let mut closed = 0;
        while !rest.is_empty() {
            let n = (rng.below(2 * part) as usize).min(rest.len());
            h.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            // Parts close as soon as they are full.
            let written = data.len() - rest.len();
            prop_assert_eq!(h.part_digests().len(), written / part as usize);
            closed = h.part_digests().len();
        }
        let (etag, parts) = h.finish_with_parts();
        prop_assert!(parts.len() >= closed);
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
    assert!(err.to_string().contains("changed size while it was read"), "{err}");
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
    use crate::md5x::Kernel;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    for case in 0..120 {
        let part = 1 + rng.below(700);
        let size = size_near_boundary(part, &mut rng) + rng.below(3000) * u64::from(case % 3 == 0);
        let data = rng.bytes(size as usize);
        let path = dir.path().join(format!("f{case}"));
        std::fs::write(&path, &data).unwrap();
        let mut layouts = layouts_for(size, &mut rng);
        layouts.push(Layout::uniform(part).unwrap());
        for kernel in Kernel::supported() {
            // The prefetcher reads pieces of any size a few bytes ahead of the streams, or everything
            // is cached (this test's files are), or there is none: the results never change.
            let prefetch = [Prefetch::Always, Prefetch::Auto, Prefetch::Never][rng.below(3) as usize];
            let tuning = Tuning {
                chunk: 64 * (1 + rng.below(8) as usize),
                positional_min: 0,
                kernel: Some(kernel),
                prefetch,
                piece: 1 + rng.below(5000) as usize,
                lag: Some(1 + rng.below(20_000)),
                ..Tuning::default()
            };
            let (file, len) = crate::engine::open(&path).unwrap();
            let hashed =
                hash_file_tuned(&file, len, &layouts, &Default::default(), &NoProgress, tuning).unwrap();
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
fn a_cold_file_is_read_ahead_and_hashed_right() {
    use crate::engine::{hash_file_tuned, Prefetch, Tuning};
    use rustix::fs::{fadvise, Advice};
    use rustix::io::{preadv2, Errno, IoSliceMut, ReadWriteFlags};
    // Under the target directory, on the disk: a tmpfs file cannot be evicted.
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let path = dir.path().join("cold");
    // Large enough, in enough parts, for the engine to run its prefetcher.
    let data = Rng(0xc01d).bytes(32 << 20);
    std::fs::write(&path, &data).unwrap();
    let layouts = [Layout::uniform(1 << 20).unwrap(), Layout::uniform(5_000_000).unwrap(), Layout::Single];
    for (piece, lag) in [(256 << 10, Some(4 << 20)), (1 << 20, None)] {
        let file = std::fs::File::open(&path).unwrap();
        file.sync_all().unwrap();
        fadvise(&file, 0, None, Advice::DontNeed).unwrap();
        let mut byte = [0u8; 1];
        let probe = preadv2(&file, &mut [IoSliceMut::new(&mut byte)], 12 << 20, ReadWriteFlags::NOWAIT);
        assert_eq!(probe, Err(Errno::AGAIN), "the file should have left the page cache");
        let tuning = Tuning { positional_min: 0, prefetch: Prefetch::Auto, piece, lag, ..Tuning::default() };
        let hashed = hash_file_tuned(
            &file,
            Some(data.len() as u64),
            &layouts,
            &Default::default(),
            &NoProgress,
            tuning,
        )
        .unwrap();
        for (layout, got) in layouts.iter().zip(&hashed.etags) {
            assert_eq!(got.as_ref().unwrap(), &reference_etag(&data, layout), "{layout:?}");
        }
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
            prefetch,
            piece: 3000,
            lag: Some(10_000),
            ..Tuning::default()
        };
        let layouts = [Layout::uniform(5000).unwrap(), Layout::Single];
        let err = hash_file_tuned(&file, len, &layouts, &Default::default(), &resize, tuning).unwrap_err();
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
    let jobs: Vec<FileJob<'_>> =
        opened.iter().zip(&layouts).map(|((f, s), l)| FileJob { file: f, size: *s, layouts: l }).collect();
    let results = hash_files(&jobs, &Default::default(), &NoProgress);
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
