//! MD5 compression kernels: one stream as fast as a scalar core allows, and many independent
//! streams side by side in SIMD lanes.
//!
//! A multipart ETag is the MD5 of the MD5s of its parts, and the engine hashes every part of
//! every candidate layout at once: many independent streams. One MD5 stream is a chain of
//! dependent steps (about 0.8 GB/s on a Zen 4 core, whatever the code), but 32 streams in the
//! lanes of AVX-512 registers run many times faster on the same core.
//!
//! - [`compress_scalar`] advances one stream; [`Md5`] wraps it as a streaming hasher.
//! - [`compress_jobs`] advances any number of [`Job`]s of any lengths on a multi-buffer
//!   [`Kernel`]: a job takes a free lane as soon as one opens, the engine width follows the
//!   number of jobs left, and streams that would read the same cache sets in lockstep are
//!   staggered.
//! - [`finalize`] pads and produces the digest.
//!
//! # Why the kernels are written here
//!
//! Two crates offer multi-buffer MD5, `md5-many` and `md5-simd`, and both are built around
//! batches of *whole messages* (`&[&[u8]]` in, digests out). The engine needs something
//! else: it reads a file once in windows and advances many part streams window by window, so
//! it must resume each stream from a saved state on whole blocks, with no padding, mix
//! streams of different lengths in one call, and stagger streams that alias in the cache.
//! `md5-simd`'s incremental interface (`update_many`) loops over the streams one at a time;
//! `md5-many`'s (`update_many`) does run them in SIMD lanes, but keeps its own buffered state
//! type and cannot stagger. `benches/kernels.rs` compares them on one Zen 4 core (numbers in
//! GiB/s, best of the runs made while tuning): 32 messages of 1 MiB, these kernels 8.2,
//! `md5-many` 6.0, `md5-simd` 2.9; 32 streams fed in 64 KiB windows, these kernels 7.5,
//! `md5-many` 6.7. On a single stream all three are within noise of each other (about
//! 0.75 GiB/s, the floor of a scalar MD5; RustCrypto's `md-5` 0.56).
//!
//! # Safety
//!
//! The SIMD kernels (`avx2`, `avx512`) are `unsafe` functions compiled with
//! `#[target_feature]`; they are reached only through safe wrappers that check the CPU at
//! run time and check every slice length first.

// Private to the crate unless the `internals` feature exposes it to this workspace's benchmarks,
// which use the items the engine does not.
#![cfg_attr(not(feature = "internals"), allow(unreachable_pub, dead_code))]

// The order of the 64 steps, shared by the kernels (must come before them).
#[macro_use]
mod schedule;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod engines;
mod portable;
mod scalar;
mod sched;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

/// MD5's initial state (A, B, C, D).
pub const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The additive constants: `K[i]` is the integer part of `abs(sin(i + 1)) * 2^32`.
#[rustfmt::skip]
const K: [u32; 64] = [
    0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
    0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
    0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
    0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
    0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
    0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
    0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
    0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
];

/// Which multi-buffer kernel runs the lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// Plain Rust over arrays of lanes; runs on every target (the compiler vectorises it
    /// with the baseline instruction set, e.g. SSE2 on x86-64).
    Portable,
    /// 3 groups of 8 lanes in AVX2 registers (x86-64).
    Avx2,
    /// 2 groups of 16 lanes in AVX-512 registers (x86-64 with AVX-512F/BW/VL).
    Avx512,
}

impl Kernel {
    /// Every kernel, best first, whether this CPU can run it or not.
    pub const ALL: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2, Kernel::Portable];

    /// The best kernel this CPU supports. The library never reads the environment: a caller that
    /// lets its users force a kernel does so through `engine::KernelChoice`.
    pub fn detect() -> Kernel {
        Kernel::ALL.into_iter().find(|k| k.is_supported()).unwrap_or(Kernel::Portable)
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::Avx2 => engines::has_avx2(),
            Kernel::Avx512 => engines::has_avx512(),
        }
    }

    /// Every kernel this CPU can run, best first; [`Kernel::Portable`] is always there.
    pub fn supported() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.is_supported()).collect()
    }

    /// How many jobs the kernel advances at once when it has that many: a good minimum
    /// number of jobs per [`compress_jobs`] call.
    pub fn lanes(self) -> usize {
        engines::engines(self)[0].lanes
    }

    /// The kernel's name: `portable`, `avx2` or `avx512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

impl FromStr for Kernel {
    type Err = KernelError;

    /// Parses `portable`, `avx2` or `avx512` (any case).
    fn from_str(s: &str) -> Result<Kernel, KernelError> {
        let t = s.trim();
        Kernel::ALL
            .into_iter()
            .find(|k| t.eq_ignore_ascii_case(k.as_str()))
            .ok_or_else(|| KernelError::unknown(s))
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kernel name that is none of `portable`, `avx2`, `avx512`.
#[derive(Debug, thiserror::Error)]
#[error("unknown kernel '{name}', which should be one of portable, avx2 or avx512")]
pub struct KernelError {
    name: String,
}

impl KernelError {
    fn unknown(name: &str) -> KernelError {
        KernelError { name: name.to_owned() }
    }
}

/// One unit of work: advance `state` over `data`, a whole number of 64-byte blocks (no
/// padding).
#[derive(Debug)]
pub struct Job<'a> {
    /// The stream's state, advanced in place.
    pub state: &'a mut [u32; 4],
    /// Whole 64-byte blocks to compress into `state`.
    pub data: &'a [u8],
}

/// Advances every job completely on `kernel`'s lanes.
///
/// Any number of jobs, of any lengths (multiples of 64, 0 included) and any alignment. A job
/// takes a lane as soon as one is free, and the number of lanes in use follows the number of
/// jobs left (down to the single-stream compressor for the last one), so mixed lengths
/// cost little. Give it at least [`Kernel::lanes`] jobs for full speed. Streams that start
/// on the same cache set (e.g. parts a power of two apart in one mapped file) are staggered.
///
/// # Panics
/// If some `data.len()` is not a multiple of 64, or `kernel` is not supported by this CPU.
pub fn compress_jobs(kernel: Kernel, jobs: &mut [Job<'_>]) {
    sched::run(kernel, jobs, true);
}

/// [`compress_jobs`] without staggering, for the benchmark that shows what staggering buys.
#[doc(hidden)]
pub fn compress_jobs_unstaggered(kernel: Kernel, jobs: &mut [Job<'_>]) {
    sched::run(kernel, jobs, false);
}

/// Runs one lane engine by name on exactly its number of lanes, for benchmarks and tests.
/// Returns `false` when no supported engine has that name.
#[doc(hidden)]
pub fn run_engine(name: &str, states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize) -> bool {
    match engines::all().into_iter().find(|e| e.name == name) {
        Some(e) => {
            (e.run)(states, data, nblocks);
            true
        }
        None => false,
    }
}

/// The names and lane counts of the lane engines this CPU supports, for benchmarks and tests.
#[doc(hidden)]
pub fn engine_names() -> Vec<(&'static str, usize)> {
    engines::all().into_iter().map(|e| (e.name, e.lanes)).collect()
}

/// The fastest single-stream compression: advances `state` over whole 64-byte blocks.
///
/// # Panics
/// If `data.len()` is not a multiple of 64.
pub fn compress_scalar(state: &mut [u32; 4], data: &[u8]) {
    assert!(data.len().is_multiple_of(64), "data length {} is not a multiple of 64", data.len());
    scalar::compress(state, data);
}

/// MD5 padding and output: the digest of a message whose whole blocks were already
/// compressed into `state`, followed by `tail` (fewer than 64 bytes), `total_len` bytes in
/// all.
///
/// # Panics
/// If `tail` has 64 bytes or more.
pub fn finalize(state: [u32; 4], tail: &[u8], total_len: u64) -> [u8; 16] {
    assert!(tail.len() < 64, "the tail must be shorter than a block, got {} bytes", tail.len());
    let mut state = state;
    let mut pad = [0u8; 128];
    pad[..tail.len()].copy_from_slice(tail);
    pad[tail.len()] = 0x80;
    let n = if tail.len() < 56 { 64 } else { 128 };
    pad[n - 8..n].copy_from_slice(&total_len.wrapping_mul(8).to_le_bytes());
    scalar::compress(&mut state, &pad[..n]);
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// A streaming single-stream MD5 on [`compress_scalar`], for callers that hash one stream.
#[derive(Clone, Debug)]
pub struct Md5 {
    state: [u32; 4],
    buf: [u8; 64],
    buf_len: usize,
    total: u64,
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5 { state: IV, buf: [0; 64], buf_len: 0, total: 0 }
    }
}

impl Md5 {
    /// A hasher for the empty message.
    pub fn new() -> Md5 {
        Md5::default()
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 64 {
                return;
            }
            scalar::compress(&mut self.state, &self.buf);
            self.buf_len = 0;
        }
        let whole = data.len() / 64 * 64;
        if whole > 0 {
            scalar::compress(&mut self.state, &data[..whole]);
        }
        let rest = &data[whole..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// The digest of everything given to [`Md5::update`].
    pub fn finalize(self) -> [u8; 16] {
        finalize(self.state, &self.buf[..self.buf_len], self.total)
    }
}
