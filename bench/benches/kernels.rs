//! MD5 kernels: single stream and multi-buffer, against `md-5`, `md5-many` and `md5-simd`,
//! and the effect of staggering streams that alias in the cache.
//!
//! `cargo bench --bench kernels` (about two minutes). Every number is bytes hashed per second
//! on one thread. Set `ETAGSUM_BENCH_FILE=/path/to/1GiB` to also time `md5sum` and
//! `openssl md5` against the single-stream hasher on that file in the same run.

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use etagsum::md5x::{self, Job, Kernel};
use md5::Digest;

const MIB: usize = 1 << 20;

/// A buffer whose first byte is 4 KiB aligned, so that offsets in it are addresses mod 4 KiB.
struct Aligned {
    bytes: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let mut bytes = vec![0u8; len + 4096];
        let mut x = 0x1234_5678_9abc_def1u64;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let start = bytes.as_ptr().align_offset(4096);
        Aligned { bytes, start }
    }

    fn get(&self) -> &[u8] {
        &self.bytes[self.start..self.bytes.len() - 4096 + self.start]
    }
}

/// Runs `count` jobs of `len` bytes at offsets `i * stride` of `buf` from IV.
fn run_jobs(kernel: Kernel, buf: &[u8], count: usize, len: usize, stride: usize, staggered: bool) {
    let mut states = vec![md5x::IV; count];
    let mut jobs: Vec<Job<'_>> = states
        .iter_mut()
        .enumerate()
        .map(|(i, state)| Job { state, data: &buf[i * stride..i * stride + len] })
        .collect();
    if staggered {
        md5x::compress_jobs(kernel, &mut jobs);
    } else {
        md5x::compress_jobs_unstaggered(kernel, &mut jobs);
    }
    black_box(&states);
}

fn single_stream(c: &mut Criterion) {
    let data = Aligned::new(4 * MIB);
    let data = data.get();
    let mut g = c.benchmark_group("single-stream-4MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("etagsum compress_scalar", |b| {
        b.iter(|| {
            let mut s = md5x::IV;
            md5x::compress_scalar(&mut s, black_box(data));
            s
        })
    });
    g.bench_function("etagsum Md5", |b| {
        b.iter(|| {
            let mut h = md5x::Md5::new();
            h.update(black_box(data));
            h.finalize()
        })
    });
    g.bench_function("md-5", |b| b.iter(|| md5::Md5::digest(black_box(data))));
    g.bench_function("md5-simd", |b| b.iter(|| md5_simd::digest(black_box(data))));
    g.bench_function("md5-many", |b| b.iter(|| md5_many::md5(black_box(data))));
    g.finish();
}

/// Each lane engine with every lane busy, data in L2: the raw speed of the kernels.
fn engines(c: &mut Criterion) {
    let per_lane = 16 << 10;
    let mut g = c.benchmark_group("engines-16KiB-per-lane");
    for (name, lanes) in md5x::engine_names() {
        // Lanes 4 KiB + 64 bytes apart: no cache aliasing.
        let stride = per_lane + 4096 + 64;
        let buf = Aligned::new(stride * lanes);
        let buf = buf.get();
        let data: Vec<&[u8]> = (0..lanes).map(|i| &buf[i * stride..i * stride + per_lane]).collect();
        g.throughput(Throughput::Bytes((per_lane * lanes) as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut states = vec![md5x::IV; lanes];
            b.iter(|| md5x::run_engine(name, &mut states, &data, per_lane / 64))
        });
    }
    g.finish();
}

/// 32 independent 1 MiB messages: every kernel through `compress_jobs`, and the peers' batch
/// APIs (which also pad and finish each message).
fn multi_buffer(c: &mut Criterion) {
    let (count, len) = (32, MIB);
    // Jobs 1 MiB + 4160 bytes apart: no two start on the same cache set.
    let stride = len + 4096 + 64;
    let buf = Aligned::new(stride * count);
    let buf = buf.get();
    let mut g = c.benchmark_group("multi-buffer-32x1MiB");
    g.throughput(Throughput::Bytes((count * len) as u64));
    for kernel in Kernel::supported() {
        g.bench_function(BenchmarkId::new("etagsum", kernel), |b| {
            b.iter(|| run_jobs(kernel, buf, count, len, stride, true))
        });
    }
    let inputs: Vec<&[u8]> = (0..count).map(|i| &buf[i * stride..i * stride + len]).collect();
    g.bench_function("md5-many hash_many", |b| {
        let mut out = vec![[0u8; 16]; count];
        b.iter(|| md5_many::Md5Many::new().hash_many(black_box(&inputs), &mut out))
    });
    g.bench_function("md5-simd hash_many", |b| {
        let mut out = vec![[0u8; 16]; count];
        b.iter(|| md5_simd::Md5Engine::new().hash_many(black_box(&inputs), &mut out))
    });
    g.finish();
}

/// How the engine uses the kernels: 32 streams advanced window by window (64 KiB at a
/// time), against md5-many's incremental multi-stream API.
fn windows(c: &mut Criterion) {
    let (count, len, window) = (32, MIB, 64 << 10);
    let stride = len + 4096 + 64;
    let buf = Aligned::new(stride * count);
    let buf = buf.get();
    let kernel = Kernel::detect();
    let mut g = c.benchmark_group("windows-32x1MiB-by-64KiB");
    g.throughput(Throughput::Bytes((count * len) as u64));
    g.bench_function(BenchmarkId::new("etagsum", kernel), |b| {
        b.iter(|| {
            let mut states = vec![md5x::IV; count];
            for w in (0..len).step_by(window) {
                let mut jobs: Vec<Job<'_>> = states
                    .iter_mut()
                    .enumerate()
                    .map(|(i, state)| Job { state, data: &buf[i * stride + w..i * stride + w + window] })
                    .collect();
                md5x::compress_jobs(kernel, &mut jobs);
            }
            states
        })
    });
    g.bench_function("md5-many update_many", |b| {
        b.iter(|| {
            let engine = md5_many::Md5Many::new();
            let mut states = vec![md5_many::Md5State::new(); count];
            for w in (0..len).step_by(window) {
                let inputs: Vec<&[u8]> =
                    (0..count).map(|i| &buf[i * stride + w..i * stride + w + window]).collect();
                engine.update_many(&mut states, &inputs);
            }
            states
        })
    });
    g.finish();
}

/// Parts a power of two apart (the parts of one mapped file): staggered or not.
fn stagger(c: &mut Criterion) {
    let kernel = Kernel::detect();
    for (count, len) in [(32, MIB), (32, 8 * MIB)] {
        let buf = Aligned::new(count * len);
        let buf = buf.get();
        let mut g = c.benchmark_group(format!("aliased-{count}x{}MiB-{kernel}", len / MIB));
        g.throughput(Throughput::Bytes((count * len) as u64));
        g.bench_function("staggered", |b| b.iter(|| run_jobs(kernel, buf, count, len, len, true)));
        g.bench_function("unstaggered", |b| b.iter(|| run_jobs(kernel, buf, count, len, len, false)));
        g.finish();
    }
}

/// With `ETAGSUM_BENCH_FILE` set: `md5sum`, `openssl md5` and the single-stream hasher on that
/// file (read in 128 KiB pieces, which stay in L2; `md5sum` reads 32 KiB at a time), best of
/// three each.
fn file_vs_tools() {
    let Some(path) = std::env::var_os("ETAGSUM_BENCH_FILE") else {
        return;
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64;
    let best = |f: &mut dyn FnMut() -> bool| {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            if !f() {
                return None;
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        Some(size / best / 1e9)
    };
    let tool = |cmd: &str, args: &[&str]| {
        let mut run = || {
            std::process::Command::new(cmd)
                .args(args)
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        best(&mut run)
    };
    let mut ours = || {
        let Ok(mut f) = std::fs::File::open(&path) else { return false };
        let mut buf = vec![0u8; 128 << 10];
        let mut h = md5x::Md5::new();
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(_) => return false,
            }
        }
        black_box(h.finalize());
        true
    };
    let ours = best(&mut ours);
    println!("\nfile {} ({:.0} MiB), one thread, GB/s:", path.to_string_lossy(), size / MIB as f64);
    for (name, speed) in
        [("md5sum", tool("md5sum", &[])), ("openssl md5", tool("openssl", &["md5"])), ("etagsum Md5", ours)]
    {
        match (speed, ours) {
            (Some(s), Some(o)) => println!("  {name:12} {s:6.3}   etagsum / this = {:.2}", o / s),
            _ => println!("  {name:12} unavailable"),
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = single_stream, engines, multi_buffer, windows, stagger
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    file_vs_tools();
}
