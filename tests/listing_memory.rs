//! Listings are streamed: reading 200,000 entries, generated as they are read and never held
//! whole, keeps the heap within a small bound, measured by a counting allocator.

use std::fmt::Write as _;
use std::io::{self, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::Mutex;

use etagsum::listing::checkfile::{plain_line, Checkfile};
use etagsum::listing::s3api::ListObjectsV2;
use etagsum::listing::Source;
use etagsum::{Etag, Md5Digest};

mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The tests measure one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const ENTRIES: u64 = 200_000;

/// Text made piece by piece as it is read: a head, one piece per entry, a tail.
struct Generated<F: FnMut(u64, &mut Vec<u8>)> {
    piece: F,
    next: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
    total: u64,
}

impl<F: FnMut(u64, &mut Vec<u8>)> Generated<F> {
    /// Pieces 0..=end+1: `piece(0)` is the head, `piece(end + 1)` the tail.
    fn new(end: u64, piece: F) -> Generated<F> {
        Generated { piece, next: 0, end, buf: Vec::with_capacity(4096), pos: 0, total: 0 }
    }
}

impl<F: FnMut(u64, &mut Vec<u8>)> Read for Generated<F> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.next > self.end + 1 {
                return Ok(0);
            }
            self.buf.clear();
            self.pos = 0;
            (self.piece)(self.next, &mut self.buf);
            self.next += 1;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.total += n as u64;
        Ok(n)
    }
}

fn key(i: u64) -> String {
    format!("dataset/part-{:05}/shard {i:08} (ü).bin", i % 97)
}

/// Reads `source`, checks each entry with `check`, and returns the count and the heap's peak
/// above what it held before.
fn measure(source: impl Source, mut check: impl FnMut(u64, &etagsum::listing::Entry)) -> (u64, usize) {
    let base = counting::start();
    let mut n = 0;
    source
        .read(&mut |item| {
            let entry = item.expect("every generated entry is good");
            check(n, &entry);
            n += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    (n, counting::peak_since(base))
}

#[test]
fn a_list_objects_v2_listing_streams_in_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut total = 0;
    let generated = Generated::new(ENTRIES, |i, buf| {
        let mut s = String::new();
        if i == 0 {
            s.push_str("{\n    \"Contents\": [\n");
        } else if i <= ENTRIES {
            let i = i - 1;
            let comma = if i + 1 < ENTRIES { "," } else { "" };
            write!(
                s,
                r#"        {{
            "Key": "{}",
            "LastModified": "2025-01-02T03:04:05+00:00",
            "ETag": "\"{:032x}-3\"",
            "ChecksumAlgorithm": [
                "CRC64NVME"
            ],
            "ChecksumType": "FULL_OBJECT",
            "Size": {},
            "StorageClass": "STANDARD"
        }}{comma}
"#,
                key(i),
                u128::from(i) * 0x9E37_79B9_7F4A_7C15,
                i * 1000
            )
            .unwrap();
        } else {
            s.push_str("    ],\n    \"RequestCharged\": null,\n    \"Prefix\": \"\"\n}\n");
        }
        total += s.len() as u64;
        buf.extend_from_slice(s.as_bytes());
    });
    let (n, peak) = measure(ListObjectsV2::new(generated, "listing.json"), |i, e| {
        assert_eq!(e.key, key(i).as_bytes());
        assert_eq!(e.size, Some(i * 1000));
        assert_eq!(e.etag, Some(format!("\"{:032x}-3\"", u128::from(i) * 0x9E37_79B9_7F4A_7C15)));
        assert_eq!(e.at.as_ref().unwrap().line, Some(4 + 11 * i));
    });
    assert_eq!(n, ENTRIES);
    assert!(total > 50_000_000, "only {total} bytes of JSON");
    // The reader's buffer (64 KiB), one object, and what the test itself holds.
    assert!(peak < 1 << 20, "{peak} bytes of heap to read {total} bytes of JSON");
}

#[test]
fn a_checkfile_streams_in_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let etag = |i: u64| Etag::single(Md5Digest((u128::from(i) * 0x9E37_79B9_7F4A_7C15).to_be_bytes()));
    let generated = Generated::new(ENTRIES, |i, buf| {
        if (1..=ENTRIES).contains(&i) {
            buf.extend_from_slice(&plain_line(key(i - 1).as_bytes(), &etag(i - 1)));
        }
    });
    let (n, peak) = measure(Checkfile::new(BufReader::new(generated), "sums"), |i, e| {
        assert_eq!(e.key, key(i).as_bytes());
        assert_eq!(e.etag, Some(etag(i).to_string()));
    });
    assert_eq!(n, ENTRIES);
    assert!(peak < 1 << 20, "{peak} bytes of heap to read {ENTRIES} lines");
}
