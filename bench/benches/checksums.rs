//! Candidates for S3's additional checksums: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, each
//! crate's one-shot function over 1 MiB and 8 MiB buffers (the sizes of an engine's pieces and of a
//! default part), on one thread. The library depends on the winners only; see `src/checksum.rs`.
//!
//! `cargo bench -p etagsum-bench --bench checksums` (about a minute with the short measurement
//! times below). Numbers are bytes per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

const MIB: usize = 1 << 20;

fn data(len: usize) -> Vec<u8> {
    let mut x = 0x1234_5678_9abc_def1u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

type Candidate = (&'static str, fn(&[u8]) -> Vec<u8>);

const CRC32_TABLE16: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);
const CRC32C_TABLE16: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
const CRC64_TABLE16: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_NVME);

fn crc32() -> Vec<Candidate> {
    vec![
        ("crc32fast", |d| crc32fast::hash(d).to_be_bytes().to_vec()),
        ("crc-fast", |d| {
            (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, d) as u32).to_be_bytes().to_vec()
        }),
        ("crc (table16)", |d| CRC32_TABLE16.checksum(d).to_be_bytes().to_vec()),
    ]
}

fn crc32c() -> Vec<Candidate> {
    vec![
        ("crc32c", |d| crc32c::crc32c(d).to_be_bytes().to_vec()),
        ("crc-fast", |d| {
            (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, d) as u32).to_be_bytes().to_vec()
        }),
        ("crc (table16)", |d| CRC32C_TABLE16.checksum(d).to_be_bytes().to_vec()),
    ]
}

fn crc64nvme() -> Vec<Candidate> {
    vec![
        ("crc64fast-nvme", |d| {
            let mut h = crc64fast_nvme::Digest::new();
            h.write(d);
            h.sum64().to_be_bytes().to_vec()
        }),
        ("crc-fast", |d| crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, d).to_be_bytes().to_vec()),
        ("crc (table16)", |d| CRC64_TABLE16.checksum(d).to_be_bytes().to_vec()),
    ]
}

fn sha1() -> Vec<Candidate> {
    vec![
        ("sha1 0.10", |d| {
            use sha1::Digest;
            sha1::Sha1::digest(d).to_vec()
        }),
        ("sha1 0.11", |d| {
            use sha1_011::Digest;
            sha1_011::Sha1::digest(d).to_vec()
        }),
        ("ring", |d| ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, d).as_ref().to_vec()),
        ("aws-lc-rs", |d| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, d).as_ref().to_vec()
        }),
    ]
}

fn sha256() -> Vec<Candidate> {
    vec![
        ("sha2 0.10", |d| {
            use sha2::Digest;
            sha2::Sha256::digest(d).to_vec()
        }),
        ("sha2 0.11", |d| {
            use sha2_011::Digest;
            sha2_011::Sha256::digest(d).to_vec()
        }),
        ("ring", |d| ring::digest::digest(&ring::digest::SHA256, d).as_ref().to_vec()),
        ("aws-lc-rs", |d| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, d).as_ref().to_vec()),
    ]
}

fn algorithms(c: &mut Criterion) {
    let buf = data(8 * MIB);
    for (name, candidates) in [
        ("crc32", crc32()),
        ("crc32c", crc32c()),
        ("crc64nvme", crc64nvme()),
        ("sha1", sha1()),
        ("sha256", sha256()),
    ] {
        // Every candidate of an algorithm must agree before any is timed.
        let first = candidates[0].1(&buf);
        for (who, f) in &candidates {
            assert_eq!(f(&buf), first, "{name}: {who} disagrees");
        }
        let mut g = c.benchmark_group(name);
        for len in [MIB, 8 * MIB] {
            g.throughput(Throughput::Bytes(len as u64));
            for (who, f) in &candidates {
                g.bench_with_input(BenchmarkId::new(*who, len / MIB), &buf[..len], |b, d| {
                    b.iter(|| f(black_box(d)))
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = algorithms
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
