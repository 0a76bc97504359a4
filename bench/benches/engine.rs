//! Engine throughput on data in memory: the single-part MD5, a multipart ETag with 8 MiB, 5 MiB and
//! 1 KiB parts, and the whole candidate set that `verify` hashes for an aws-cli ETag. The end-to-end
//! comparison with md5sum and openssl runs in `scripts/bench-compare.sh`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use etagsum::engine::{hash_reader, NoProgress};
use etagsum::{guess, Layout};

const SIZE: usize = 256 << 20;

fn data() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn engine(c: &mut Criterion) {
    let data = data();
    let mut g = c.benchmark_group("engine");
    g.sample_size(10).throughput(Throughput::Bytes(SIZE as u64));
    let cases: Vec<(&str, Vec<Layout>)> = vec![
        ("single", vec![Layout::Single]),
        ("parts-8MiB", vec![Layout::uniform(8 << 20).unwrap()]),
        ("parts-5MiB", vec![Layout::uniform(5 << 20).unwrap()]),
        // Many tiny parts: the plan opens and folds them in bounded rounds.
        ("parts-1KiB", vec![Layout::uniform(1 << 10).unwrap()]),
    ];
    for (name, layouts) in cases {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                hash_reader(&data[..], Some(SIZE as u64), &layouts, &Default::default(), &NoProgress).unwrap()
            })
        });
    }
    // What `verify` hashes for the ETag the aws cli gives this size: every candidate of the guess.
    let etag = hash_reader(
        &data[..],
        Some(SIZE as u64),
        &[Layout::uniform(8 << 20).unwrap()],
        &Default::default(),
        &NoProgress,
    )
    .unwrap()
    .etags
    .remove(0)
    .unwrap();
    let layouts: Vec<Layout> =
        guess::candidates(SIZE as u64, &etag).candidates.into_iter().map(|c| c.layout).collect();
    g.bench_function(BenchmarkId::new("verify-candidates", layouts.len()), |b| {
        b.iter(|| {
            hash_reader(&data[..], Some(SIZE as u64), &layouts, &Default::default(), &NoProgress).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
