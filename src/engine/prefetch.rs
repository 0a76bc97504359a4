//! Reading a cold file front to back while the hashers work at many offsets behind.
//!
//! The positional reader advances dozens of streams, one per part, each at its own offset: 64
//! streams of 8 MiB parts are spread over 512 MiB of the file. From the page cache that costs
//! nothing, but on a cold file those scattered reads defeat the kernel's readahead and the disk
//! delivers a fraction of what a front-to-back read gets from it.
//!
//! So a prefetcher thread reads the file front to back, as `cat` would, and publishes how far it
//! got (the *frontier*); the hashers only take bytes below it, which the page cache then holds. A
//! piece that is already cached (a probe with `RWF_NOWAIT` finds its first and last pages) is not
//! read again, and cached runs are crossed in doubling steps, so a warm file costs the
//! prefetcher a few dozen system calls and the hashers hardly wait. The prefetcher keeps at most
//! a `lag` of bytes ahead of the slowest stream, so that what it brings in is still cached when
//! the hashers get there.
//!
//! Measured on the development machine (Zen 4, 2 cores, a virtual disk with 8 MiB readahead),
//! 1 GiB evicted with `posix_fadvise(DONTNEED)`, 8 MiB parts: 0.43-0.46 s with the prefetcher,
//! 0.66 s without, against 0.45 s for `cat`. Warm, the two are the same (0.13 s).
//!
//! What sequential reading costs: a part can only be finished after the prefetcher passed its
//! end, so the last parts' MD5 chains run after the disk is done. With 8 MiB parts that tail is a
//! few milliseconds; with a 1 GiB file of 64 MiB parts it measured 10% of the run, more than the
//! scattered reads cost, so files of few parts go without a prefetcher.
//!
//! The prefetcher never decides anything about the result: it stops at the first error or short
//! read and opens the gate, and the hashers' own reads meet the same condition and report it.

use std::fs::File;
use std::sync::{Condvar, Mutex, PoisonError};

/// Whether the positional reader runs a prefetcher.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefetch {
    /// Read ahead what is not cached in files of 16 MiB or more and of 32 parts or more, where
    /// the platform can tell (Linux); elsewhere, never.
    Auto,
    /// Read every piece ahead, cached or not (tests: the gate works on any machine).
    Always,
    /// Never: the hashers read where they are.
    Never,
}

/// The shared state between the prefetcher and the hashers.
pub(super) struct Gate {
    state: Mutex<State>,
    changed: Condvar,
    /// Bytes the prefetcher read from a cold file (tests: proof that it ran).
    #[cfg(test)]
    read_ahead: std::sync::atomic::AtomicU64,
}

struct State {
    /// Every byte below this offset has been read ahead (or found cached).
    frontier: u64,
    /// The position of the slowest stream.
    floor: u64,
    /// The hashers are finished (or failed): the prefetcher stops.
    stopped: bool,
}

impl Gate {
    /// A gate with nothing read yet, or a gate that is open from the start.
    pub(super) fn new(open: bool) -> Gate {
        let frontier = if open { u64::MAX } else { 0 };
        Gate {
            state: Mutex::new(State { frontier, floor: 0, stopped: false }),
            changed: Condvar::new(),
            #[cfg(test)]
            read_ahead: Default::default(),
        }
    }

    /// Bytes the prefetcher read from the file, cached pieces left out.
    #[cfg(test)]
    pub(super) fn read_ahead(&self) -> u64 {
        self.read_ahead.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few integers; a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How far the bytes have been read ahead.
    #[cfg(test)]
    fn frontier(&self) -> u64 {
        self.lock().frontier
    }

    /// Waits until the frontier passes `pos` (returns at once if it has); returns the frontier.
    pub(super) fn wait_past(&self, pos: u64) -> u64 {
        let mut s = self.lock();
        while s.frontier <= pos {
            s = self.changed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        s.frontier
    }

    /// The slowest stream has reached `floor`.
    pub(super) fn set_floor(&self, floor: u64) {
        let mut s = self.lock();
        if floor > s.floor {
            s.floor = floor;
            self.changed.notify_all();
        }
    }

    /// The hashers are done: lets the prefetcher go.
    pub(super) fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }

    /// Lets the hashers read anything from now on.
    pub(super) fn open(&self) {
        self.publish(u64::MAX);
    }

    fn publish(&self, frontier: u64) {
        self.lock().frontier = frontier;
        self.changed.notify_all();
    }

    /// Waits until `pos` is within `lag` of the floor; false when the hashers stopped.
    fn wait_for_room(&self, pos: u64, lag: u64) -> bool {
        let mut s = self.lock();
        while !s.stopped && pos >= s.floor.saturating_add(lag) {
            s = self.changed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        !s.stopped
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }
}

/// Whether a range of a file sits in the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cached {
    Yes,
    No,
    /// The platform or the file system cannot tell.
    Unknown,
}

/// The longest range one probe vouches for: a cached run is crossed in a few steps, but a probe
/// looks at only two pages of its range.
const MAX_STEP: u64 = 64 << 20;

/// Reads `file` (of `size` bytes) front to back in pieces of `piece` bytes, keeping within `lag`
/// bytes of the slowest stream, and opens the gate as it goes. Returns when the file is read, the
/// hashers stop, or a read fails; the gate is then open.
pub(super) fn run(file: &File, size: u64, mode: Prefetch, piece: usize, lag: u64, gate: &Gate) {
    let mut buf = vec![0u8; piece];
    let mut pos = 0u64;
    // A run of cached pieces is probed in steps that double, so that a warm file costs a few
    // dozen probes and the hashers find the gate open almost at once.
    let mut step = piece as u64;
    while pos < size && !gate.stopped() {
        let cached = match mode {
            Prefetch::Always => Cached::No,
            _ => probe(file, pos, size.min(pos + step)),
        };
        match cached {
            Cached::Yes => {
                pos = size.min(pos + step);
                step = (step * 2).min(MAX_STEP);
            }
            // Nothing tells warm from cold here: the hashers read where they are, as they do on a
            // warm file.
            Cached::Unknown => break,
            Cached::No => {
                step = piece as u64;
                if !gate.wait_for_room(pos, lag) {
                    break;
                }
                let end = size.min(pos + step);
                let want = (end - pos) as usize;
                if !matches!(super::read_at(file, &mut buf[..want], pos), Ok(n) if n == want) {
                    break;
                }
                #[cfg(test)]
                gate.read_ahead.fetch_add(want as u64, std::sync::atomic::Ordering::Relaxed);
                pos = end;
            }
        }
        gate.publish(pos);
    }
    gate.open();
}

/// Whether the first and the last page of `start..end` are cached, without reading the disk.
#[cfg(target_os = "linux")]
fn probe(file: &File, start: u64, end: u64) -> Cached {
    use rustix::io::{preadv2, Errno, IoSliceMut, ReadWriteFlags};
    let page = |offset: u64| {
        let mut byte = [0u8; 1];
        match preadv2(file, &mut [IoSliceMut::new(&mut byte)], offset, ReadWriteFlags::NOWAIT) {
            Ok(1) => Cached::Yes,
            Err(Errno::AGAIN) => Cached::No,
            // Past the end (the file shrank), or no support for RWF_NOWAIT.
            _ => Cached::Unknown,
        }
    };
    match page(start) {
        Cached::Yes => page(end - 1),
        other => other,
    }
}

#[cfg(not(target_os = "linux"))]
fn probe(_file: &File, _start: u64, _end: u64) -> Cached {
    Cached::Unknown
}

#[cfg(all(test, target_os = "linux"))]
pub(super) mod tests {
    use super::*;
    use rustix::fs::{fadvise, Advice};
    use std::io::Write;
    use std::sync::MutexGuard;

    /// The tests that evict files and probe the page cache run one at a time: run side by side,
    /// one test's readahead and eviction make another's probes lie.
    pub(crate) fn page_cache_lock() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops `f` from the page cache. One `DONTNEED` may leave pages that sit in another CPU's
    /// batch or under writeback, so it is said a few times. (Probing here would not do: a read with
    /// `RWF_NOWAIT` that misses starts readahead, which brings the pages back.)
    pub(crate) fn evict(f: &File) {
        for _ in 0..3 {
            fadvise(f, 0, None, Advice::DontNeed).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// A file of `len` bytes beside the test binary (on the disk: a tmpfs file cannot be
    /// evicted), written out and evicted from the page cache.
    fn cold_file(len: usize) -> (tempfile::TempDir, File) {
        // (The caller holds `page_cache_lock`.)
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir_in(exe.parent().unwrap()).unwrap();
        let path = dir.path().join("cold");
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![0x5a; len]).unwrap();
        f.sync_all().unwrap();
        let f = File::open(&path).unwrap();
        evict(&f);
        (dir, f)
    }

    #[test]
    #[ignore = "reads the page cache: run alone, as scripts/test does (cargo test -p etagsum --lib -- --ignored --test-threads=1)"]
    fn the_probe_tells_cold_pieces_from_cached_ones() {
        let _lock = page_cache_lock();
        let (_dir, f) = cold_file(4 << 20);
        // No readahead behind the test's back.
        fadvise(&f, 0, None, Advice::Random).unwrap();
        assert_eq!(probe(&f, 0, 1 << 20), Cached::No);
        super::super::read_at(&f, &mut vec![0; 1 << 20], 0).unwrap();
        assert_eq!(probe(&f, 0, 1 << 20), Cached::Yes);
        // The first page cached is not enough: the last one is cold.
        assert_eq!(probe(&f, 0, 4 << 20), Cached::No);
    }

    #[test]
    #[ignore = "reads the page cache: run alone, as scripts/test does (cargo test -p etagsum --lib -- --ignored --test-threads=1)"]
    fn the_prefetcher_brings_a_cold_file_into_the_cache_and_opens_the_gate() {
        let size = 6 << 20;
        let _lock = page_cache_lock();
        let (_dir, f) = cold_file(size);
        let gate = Gate::new(false);
        // The hashers are "done" with everything: the lag never holds the prefetcher back.
        gate.set_floor(u64::MAX / 2);
        run(&f, size as u64, Prefetch::Auto, 256 << 10, 1 << 20, &gate);
        assert_eq!(gate.frontier(), u64::MAX);
        for piece in 0..size as u64 / (256 << 10) {
            let start = piece * (256 << 10);
            assert_eq!(probe(&f, start, start + (256 << 10)), Cached::Yes, "piece at {start}");
        }
    }

    #[test]
    #[ignore = "reads the page cache: run alone, as scripts/test does (cargo test -p etagsum --lib -- --ignored --test-threads=1)"]
    fn the_prefetcher_waits_for_room_and_stops_with_the_hashers() {
        let _lock = page_cache_lock();
        let (_dir, f) = cold_file(4 << 20);
        let gate = Gate::new(false);
        std::thread::scope(|s| {
            let h = s.spawn(|| run(&f, 4 << 20, Prefetch::Always, 64 << 10, 256 << 10, &gate));
            // The floor stays at 0: the prefetcher stops at the lag, 256 KiB ahead.
            assert_eq!(gate.wait_past(200 << 10), 256 << 10);
            gate.set_floor(1 << 20);
            assert!(gate.wait_past(1 << 20) >= (1 << 20) + (64 << 10));
            gate.stop();
            h.join().unwrap();
        });
        assert_eq!(gate.frontier(), u64::MAX);
    }
}
