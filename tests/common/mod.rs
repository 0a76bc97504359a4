//! Helpers shared by the integration tests: a naive reference implementation of S3 ETags, and a
//! small deterministic random generator.
#![allow(dead_code)]

use etagsum::{Etag, Layout, Md5Digest};
use md5::{Digest, Md5};

/// MD5 by the `md-5` crate, which shares no code with etagsum's kernels.
pub fn md5(data: &[u8]) -> Md5Digest {
    Md5Digest(Md5::digest(data).into())
}

/// The ETag of `data` uploaded with `layout`, computed the slow, obvious way: cut the bytes into
/// parts with a loop, MD5 each part, MD5 the concatenated raw digests. Shares no code with the
/// engine, the layout module or etagsum's MD5.
pub fn reference_etag(data: &[u8], layout: &Layout) -> Etag {
    let parts: Vec<&[u8]> = match layout {
        Layout::Single => return Etag::single(md5(data)),
        Layout::Uniform { part_size, .. } => {
            let p = *part_size as usize;
            let mut parts = Vec::new();
            let mut rest = data;
            loop {
                let take = p.min(rest.len());
                parts.push(&rest[..take]);
                rest = &rest[take..];
                if rest.is_empty() {
                    break;
                }
            }
            parts
        }
        Layout::Explicit { part_sizes, .. } => {
            let mut parts = Vec::new();
            let mut at = 0usize;
            for &len in part_sizes {
                parts.push(&data[at..at + len as usize]);
                at += len as usize;
            }
            assert_eq!(at, data.len());
            parts
        }
    };
    let mut concat = Vec::new();
    for p in &parts {
        concat.extend_from_slice(&md5(p).0);
    }
    format!("{}-{}", md5(&concat), parts.len()).parse().unwrap()
}

/// xorshift64*: deterministic test data without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Uneven parts that add up to `size` bytes, each of at least one byte (one empty part for no
/// bytes), as an uploader that splits where it likes would make them.
pub fn uneven_layout(size: u64, rng: &mut Rng) -> Layout {
    let mut parts = Vec::new();
    let mut left = size;
    while left > 0 {
        let p = 1 + rng.below(left);
        parts.push(p);
        left -= p;
    }
    if parts.is_empty() {
        parts.push(0);
    }
    Layout::explicit(parts).unwrap()
}
