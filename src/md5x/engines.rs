//! The lane engines of each [`Kernel`]: safe wrappers around the kernels, each with its lane
//! count and its measured speed, which the scheduler uses to pick the engine for the jobs
//! that are left.

use super::{portable, scalar, Kernel};

/// Advances `states.len()` streams by `nblocks` blocks; stream `i` reads the first
/// `nblocks * 64` bytes of `data[i]`. Panics if a slice length does not fit.
pub(super) type RunFn = fn(states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize);

/// One way to advance a fixed number of streams at once.
#[derive(Clone, Copy)]
pub(super) struct Engine {
    /// A short name, for benchmarks and tests.
    pub name: &'static str,
    /// How many streams it advances at once.
    pub lanes: usize,
    /// Throughput with every lane busy, in MB/s on one core of the machine this was tuned on
    /// (AMD Zen 4). Only the ratios matter.
    pub speed: u32,
    /// The kernel.
    pub run: RunFn,
}

/// Checks the shapes that every engine relies on.
#[inline]
fn check(lanes: usize, states: &[[u32; 4]], data: &[&[u8]], nblocks: usize) {
    assert_eq!(states.len(), lanes, "wrong number of states for the engine");
    assert_eq!(data.len(), lanes, "wrong number of streams for the engine");
    let len = nblocks.checked_mul(64).expect("block count overflows");
    assert!(data.iter().all(|d| d.len() >= len), "a stream is shorter than the blocks asked for");
}

fn run_scalar(states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize) {
    check(1, states, data, nblocks);
    scalar::compress(&mut states[0], &data[0][..nblocks * 64]);
}

fn run_portable<const N: usize>(states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize) {
    check(N, states, data, nblocks);
    portable::compress_lanes::<N>(states, data, nblocks);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::{avx2, avx512};
    use super::check;

    /// Whether the AVX-512 kernels may run here.
    #[inline]
    pub(in crate::md5x) fn has_avx512() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && has_avx2()
    }

    /// Whether the AVX2 kernels may run here.
    #[inline]
    pub(in crate::md5x) fn has_avx2() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    /// Groups `16 * G` (or `8 * G`) slices into the arrays of pointers a kernel takes.
    fn pointers<const W: usize, const G: usize>(data: &[&[u8]]) -> [[*const u8; W]; G] {
        core::array::from_fn(|g| core::array::from_fn(|l| data[g * W + l].as_ptr()))
    }

    fn group<const W: usize, const G: usize>(states: &[[u32; 4]]) -> [[[u32; 4]; W]; G] {
        core::array::from_fn(|g| core::array::from_fn(|l| states[g * W + l]))
    }

    fn ungroup<const W: usize, const G: usize>(grouped: &[[[u32; 4]; W]; G], states: &mut [[u32; 4]]) {
        for (dst, src) in states.chunks_exact_mut(W).zip(grouped) {
            dst.copy_from_slice(src);
        }
    }

    pub(super) fn run_avx512<const G: usize>(states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize) {
        check(16 * G, states, data, nblocks);
        assert!(has_avx512(), "the AVX-512 kernel needs AVX-512F/BW/VL");
        let mut grouped = group::<16, G>(states);
        let ptrs = pointers::<16, G>(data);
        // SAFETY: the CPU has AVX-512F (checked above), and `check` proved that every
        // stream has at least `nblocks * 64` readable bytes at its pointer.
        unsafe { avx512::compress::<G>(&mut grouped, &ptrs, nblocks) };
        ungroup(&grouped, states);
    }

    pub(super) fn run_avx2<const G: usize>(states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize) {
        check(8 * G, states, data, nblocks);
        assert!(has_avx2(), "the AVX2 kernel needs AVX2");
        let mut grouped = group::<8, G>(states);
        let ptrs = pointers::<8, G>(data);
        // SAFETY: the CPU has AVX2 (checked above), and `check` proved that every stream has
        // at least `nblocks * 64` readable bytes at its pointer.
        unsafe { avx2::compress::<G>(&mut grouped, &ptrs, nblocks) };
        ungroup(&grouped, states);
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{has_avx2, has_avx512};

/// Without x86-64 there is no AVX-512.
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn has_avx512() -> bool {
    false
}

/// Without x86-64 there is no AVX2.
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn has_avx2() -> bool {
    false
}

// Speeds: every lane busy, 16 KiB per lane (in L2), one Zen 4 core at 3.6 GHz, best of many
// runs (see `benches/kernels.rs`).
const SCALAR: Engine = Engine { name: "scalar", lanes: 1, speed: 810, run: run_scalar };

const PORTABLE: &[Engine] = &[
    Engine { name: "portable-x4", lanes: 4, speed: 1580, run: run_portable::<4> },
    Engine { name: "portable-x3", lanes: 3, speed: 1660, run: run_portable::<3> },
    Engine { name: "portable-x2", lanes: 2, speed: 1050, run: run_portable::<2> },
    SCALAR,
];

#[cfg(target_arch = "x86_64")]
const AVX2_X24: Engine = Engine { name: "avx2-x24", lanes: 24, speed: 9300, run: x86::run_avx2::<3> };
#[cfg(target_arch = "x86_64")]
const AVX2_X16: Engine = Engine { name: "avx2-x16", lanes: 16, speed: 7700, run: x86::run_avx2::<2> };
#[cfg(target_arch = "x86_64")]
const AVX2_X8: Engine = Engine { name: "avx2-x8", lanes: 8, speed: 4500, run: x86::run_avx2::<1> };

#[cfg(target_arch = "x86_64")]
const AVX2: &[Engine] = &[AVX2_X24, AVX2_X16, AVX2_X8, PORTABLE[0], PORTABLE[1], PORTABLE[2], SCALAR];

#[cfg(target_arch = "x86_64")]
const AVX512: &[Engine] = &[
    Engine { name: "avx512-x32", lanes: 32, speed: 11000, run: x86::run_avx512::<2> },
    AVX2_X24,
    Engine { name: "avx512-x16", lanes: 16, speed: 8800, run: x86::run_avx512::<1> },
    AVX2_X8,
    PORTABLE[0],
    PORTABLE[1],
    PORTABLE[2],
    SCALAR,
];

/// The engines of `kernel`, widest first; the last one is always the single-stream scalar.
/// `kernel` must be supported by this CPU.
pub(super) fn engines(kernel: Kernel) -> &'static [Engine] {
    match kernel {
        Kernel::Portable => PORTABLE,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => AVX2,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => AVX512,
        #[cfg(not(target_arch = "x86_64"))]
        Kernel::Avx2 | Kernel::Avx512 => PORTABLE,
    }
}

/// Every engine there is, for benchmarks and tests.
pub(super) fn all() -> Vec<Engine> {
    let mut v: Vec<Engine> = Vec::new();
    for k in [Kernel::Avx512, Kernel::Avx2, Kernel::Portable] {
        if k.is_supported() {
            for e in engines(k) {
                if !v.iter().any(|x| x.name == e.name) {
                    v.push(*e);
                }
            }
        }
    }
    v
}
