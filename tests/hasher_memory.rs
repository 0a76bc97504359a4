//! The streaming hasher's memory does not grow with the part count: with every additional checksum
//! S3 accepts, closing a hundred thousand parts holds no more heap than closing ten, and closing a
//! part allocates nothing once the first has closed. Measured by a counting allocator; one test in
//! this binary, so that nothing else allocates beside it.

use etagsum::checksum::{Algorithm, ChecksumType};
use etagsum::MultipartHasher;

mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Hashes `parts` parts of 16 bytes, taking each part's checksums as it closes; returns the peak
/// heap held above the start (the hasher included) and the number of checksums taken.
fn run(parts: u64, algorithms: &[Algorithm], t: ChecksumType) -> (usize, usize) {
    let piece = [0x5au8; 16];
    let base = counting::start();
    let mut h = MultipartHasher::with_checksums(16, algorithms, t).unwrap();
    let mut taken = 0;
    for _ in 0..parts {
        h.update_parts_with_checksums(&piece, |p| taken += p.checksums.len()).unwrap();
    }
    let done = h.finish_with_checksums();
    assert_eq!(done.etag.parts(), Some(parts as u32));
    assert_eq!(done.checksums.len(), algorithms.len());
    drop(done);
    (counting::peak_since(base), taken)
}

/// Heap the harness may take beside the test, at most.
const SLACK: usize = 16 << 10;

#[test]
fn memory_does_not_grow_with_the_part_count() {
    let composite = [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Sha1, Algorithm::Sha256];
    let full = [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme];
    for (algorithms, t) in [(&composite[..], ChecksumType::Composite), (&full[..], ChecksumType::FullObject)]
    {
        // A first run warms up what the crates set up once (CPU feature detection, tables).
        run(10, algorithms, t);
        let (few, taken) = run(10, algorithms, t);
        assert_eq!(taken, 10 * algorithms.len());
        let (many, taken) = run(100_000, algorithms, t);
        assert_eq!(taken, 100_000 * algorithms.len());
        assert!(few > 0, "the counting allocator saw nothing");
        // The test harness's own thread may allocate a little meanwhile; a digest kept per part
        // would be 100,000 × at least 4 bytes.
        assert!(many <= few + SLACK, "{t}: {many} bytes at the peak for 100000 parts, {few} for 10");
    }
}
