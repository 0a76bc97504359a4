//! The checker's memory does not grow with the listing: a million keys, generated as they are
//! read, are checked within one batch's memory (plus 16 bytes a key with `extra`), measured by a
//! counting allocator. One test in this binary, so that nothing else allocates beside it.

use std::ops::ControlFlow;

use etagsum::listing::{
    check, BadEntry, CheckOptions, Entry, Kind, ListingError, Root, Sink, Skipped, Source,
};
use etagsum::{NoProgress, ReadOptions};

mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// `n` entries made as they are read: keys in 1,000 folders, each of 5 bytes ("hello").
struct Generated(u64);

impl Source for Generated {
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        for i in 0..self.0 {
            let mut e = Entry::new(format!("folder{:03}/a-rather-long-file-name-{i:07}.bin", i % 1000));
            e.size = Some(5);
            e.etag = Some("\"5d41402abc4b2a76b9719d911017c592\"".into());
            let item: Result<Entry, BadEntry> = Ok(e);
            if sink(item).is_break() {
                break;
            }
        }
        Ok(Skipped::default())
    }
}

const KEYS: u64 = 1_000_000;

fn run(root: &std::path::Path, extra: bool) -> (usize, [u64; 3]) {
    let mut opts = CheckOptions::default();
    opts.root = Some(Root::open(root).unwrap());
    opts.extra = extra;
    let base = counting::start();
    let mut seen = [0u64; 3];
    let summary = check(Generated(KEYS), &opts, &ReadOptions::default(), &NoProgress, &mut |c| {
        match c.outcome.kind() {
            Kind::Match => seen[0] += 1,
            Kind::Missing => seen[1] += 1,
            Kind::Extra => seen[2] += 1,
            k => panic!("{k}: {:?}", c.outcome),
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(summary.counts.total(), seen.iter().sum::<u64>());
    (counting::peak_since(base), seen)
}

#[test]
fn a_million_keys_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    // A few of the listed files exist, and one that is not listed.
    for i in [0u64, 1, 999_999] {
        let key = format!("folder{:03}/a-rather-long-file-name-{i:07}.bin", i % 1000);
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"hello").unwrap();
    }
    std::fs::write(dir.path().join("folder000/unlisted"), b"x").unwrap();

    let (peak, seen) = run(dir.path(), false);
    assert_eq!(seen, [3, KEYS - 3, 0]);
    // A few batches of entries and their open files: the listing's length does not show.
    assert!(peak < 4 << 20, "{} MiB at peak for {KEYS} keys", peak >> 20);

    let (peak_extra, seen) = run(dir.path(), true);
    assert_eq!(seen, [3, KEYS - 3, 1]);
    // 16 bytes a key in a hash set (with its growth), not the keys themselves (~50 bytes each).
    assert!(peak_extra < 64 << 20, "{} MiB at peak for {KEYS} keys with --extra", peak_extra >> 20);
    assert!(peak_extra > peak, "the set of listed keys takes room");
}
