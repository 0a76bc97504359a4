//! The sans-IO driver loop, end to end without a network: a store simulated from a known upload
//! answers HeadObject, HeadObject with a part number and GetObjectAttributes exactly as S3 would,
//! and a file is verified with the fewest of those requests, as the `s3` driver will.

mod common;

use std::io::Write;

use common::{reference_etag, Rng};
use etagsum::checksum::{Algorithm, Checksum};
use etagsum::engine::NoProgress;
use etagsum::remote::{
    layout_from_part_heads, layout_from_part_sizes, next_requests, Head, PartsFinding, Request,
};
use etagsum::{verify_path, Layout, ReadOptions, Report, Verdict};

/// The additional checksum an object carries.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sum {
    None,
    /// What S3 stores for an upload that named none.
    FullCrc64,
    /// The aws cli's default for a multipart upload, as GetObject shows it.
    CompositeCrc32,
}

/// An object as S3 holds it: its bytes, its layout, its encryption and checksum.
struct Store {
    data: Vec<u8>,
    layout: Layout,
    kms: bool,
    sum: Sum,
}

impl Store {
    fn ranges(&self) -> Vec<std::ops::Range<u64>> {
        self.layout.part_ranges(self.data.len() as u64).unwrap()
    }

    fn head(&self) -> Head {
        let mut h = Head::default();
        h.etag = Some(match self.kms {
            // An SSE-KMS object's ETag is no MD5 of the content, but keeps its -N.
            true => match self.layout.is_multipart() {
                true => format!("\"0123456789abcdef0123456789abcdef-{}\"", self.ranges().len()),
                false => "\"0123456789abcdef0123456789abcdef\"".to_string(),
            },
            false => format!("\"{}\"", reference_etag(&self.data, &self.layout)),
        });
        h.content_length = Some(self.data.len() as u64);
        h.server_side_encryption = Some(if self.kms { "aws:kms" } else { "AES256" }.to_string());
        match self.sum {
            Sum::None => {}
            Sum::FullCrc64 => {
                let v = Checksum::of(Algorithm::Crc64Nvme, &self.data);
                h.checksums = vec![(Algorithm::Crc64Nvme, v.to_string())];
                h.checksum_type = Some("FULL_OBJECT".into());
            }
            Sum::CompositeCrc32 => {
                let mut c = etagsum::ChecksumHasher::new(Algorithm::Crc32);
                for r in self.ranges() {
                    c.update(
                        Checksum::of(Algorithm::Crc32, &self.data[r.start as usize..r.end as usize]).bytes(),
                    );
                }
                let v = c.finish().with_parts(Some(self.ranges().len() as u32));
                h.checksums = vec![(Algorithm::Crc32, v.to_string())];
                h.checksum_type = Some("COMPOSITE".into());
            }
        }
        h
    }

    /// HeadObject with a part number: that part's size and the part count.
    fn head_part(&self, n: u32) -> (u64, u64) {
        let r = &self.ranges()[n as usize - 1];
        (r.end - r.start, self.ranges().len() as u64)
    }

    /// GetObjectAttributes ObjectParts: S3 lists the parts only of an object with a checksum.
    fn object_parts(&self) -> Option<Vec<u64>> {
        (self.sum != Sum::None).then(|| self.ranges().iter().map(|r| r.end - r.start).collect())
    }
}

/// The driver loop: HeadObject, verify, then only what the report needs, until it is settled or
/// nothing more can be read. Returns the report and the requests made.
fn drive(path: &std::path::Path, store: &Store) -> (Report, usize) {
    let (etag, mut facts) = store.head().facts().unwrap();
    let mut requests = 1;
    loop {
        let report = verify_path(path, etag.as_ref(), &facts, &ReadOptions::default(), &NoProgress).unwrap();
        let next = next_requests(&report);
        if report.verdict != Verdict::Inconclusive || next.is_empty() || facts.layout.is_some() {
            return (report, requests);
        }
        let size = facts.remote_size.unwrap();
        let heads: Vec<(u32, (u64, u64))> = next
            .iter()
            .filter_map(|r| match r {
                Request::HeadPart(n) => Some((*n, store.head_part(*n))),
                _ => None,
            })
            .collect();
        requests += heads.len();
        if let (Some((1, (first, c1))), Some(&(n, (last, cn)))) = (heads.first().copied(), heads.last()) {
            match layout_from_part_heads(size, n, first, last, [Some(c1), Some(cn)]) {
                PartsFinding::Uniform(l) => {
                    facts.layout = Some(l);
                    continue;
                }
                PartsFinding::Contradiction(why) => panic!("{why}"),
                _ => {}
            }
        }
        if next.contains(&Request::ObjectParts) || heads.len() > 1 {
            requests += 1;
            match store.object_parts() {
                Some(sizes) => facts.layout = Some(layout_from_part_sizes(size, sizes).unwrap()),
                // No part listed: HeadObject per part.
                None => {
                    let n = store.ranges().len() as u32;
                    let sizes = (1..=n).map(|k| store.head_part(k).0).collect();
                    requests += n as usize;
                    facts.layout = Some(layout_from_part_sizes(size, sizes).unwrap());
                }
            }
        }
    }
}

fn file_of(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f
}

#[test]
fn the_fewest_requests_settle_each_kind_of_object() {
    let mut rng = Rng(11);
    let data = rng.bytes(3_000_000);
    let f = file_of(&data);
    let odd = Layout::uniform(1_111_111).unwrap();
    let uneven = Layout::explicit(vec![1_000_000, 1_500_000, 500_000]).unwrap();
    for (layout, kms, sum, want, requests) in [
        // The aws cli's single PUT and a layout of the catalog: HeadObject alone.
        (Layout::Single, false, Sum::None, Verdict::Match, 1),
        (Layout::uniform(1 << 20).unwrap(), false, Sum::CompositeCrc32, Verdict::Match, 1),
        // A part size no guess tries: part 1 and part 3 settle it.
        (odd.clone(), false, Sum::None, Verdict::Match, 3),
        // Uneven parts with S3's full-object CRC64NVME: HeadObject alone.
        (uneven.clone(), false, Sum::FullCrc64, Verdict::Match, 1),
        // ...with a composite CRC32: the two heads show them uneven, GetObjectAttributes lists them.
        (uneven.clone(), false, Sum::CompositeCrc32, Verdict::Match, 4),
        // ...with no checksum, GetObjectAttributes lists no part and each part is asked for.
        (uneven, false, Sum::None, Verdict::Match, 7),
        // SSE-KMS: the checksum decides with HeadObject alone; without one, nothing can.
        (odd.clone(), true, Sum::FullCrc64, Verdict::Match, 1),
        (odd, true, Sum::None, Verdict::Inconclusive, 1),
    ] {
        let store = Store { data: data.clone(), layout: layout.clone(), kms, sum };
        let (report, made) = drive(f.path(), &store);
        assert_eq!((report.verdict, made), (want, requests), "{layout:?} kms {kms} {sum:?}: {report:?}");
        // One byte changed: never OK, however many requests.
        let mut changed = data.clone();
        changed[2_999_999] ^= 1;
        let g = file_of(&changed);
        let (report, _) = drive(g.path(), &store);
        assert_ne!(report.verdict, Verdict::Match, "{layout:?} kms {kms} {sum:?}: {report:?}");
    }
}

#[test]
fn requests_follow_the_needs() {
    let data = Rng(3).bytes(30_000);
    let f = file_of(&data);
    // A -3 ETag of an unusual layout: the part size and every part's size are needed.
    let etag =
        etagsum::RemoteEtag::parse(&reference_etag(&data, &Layout::uniform(10_123).unwrap()).to_string())
            .unwrap();
    let r = verify_path(f.path(), &etag, &Default::default(), &ReadOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(next_requests(&r), [Request::HeadPart(1), Request::HeadPart(3), Request::ObjectParts]);
    // A plain MD5 that differs: nothing more to read but what HeadObject gives.
    let etag = etagsum::RemoteEtag::parse("0123456789abcdef0123456789abcdef").unwrap();
    let r = verify_path(f.path(), &etag, &Default::default(), &ReadOptions::default(), &NoProgress).unwrap();
    assert!(next_requests(&r).is_empty(), "{r:?}");
}
