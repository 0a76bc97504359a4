//! The verdict rules for additional checksums (docs/verify-rules.md, "Checksums"), through the
//! library: the properties that must hold for any file, layout, algorithm and type S3 accepts, and
//! the cases that decide between evidence that agrees and evidence that does not.

mod common;

use std::io::Write;

use common::{reference_etag, uneven_layout, Rng};
use etagsum::checksum::{s3_accepts, Algorithm, Checksum, ChecksumType, Hasher};
use etagsum::engine::NoProgress;
use etagsum::{
    verify_files, verify_path, verify_reader, Evidence, Layout, Need, ReadOptions, Reason, RemoteEtag,
    Report, Sse, Verdict, VerifyError, VerifyJob, VerifyOptions,
};
use proptest::prelude::*;

/// The value S3 stores for `data` uploaded as `layout` with `algorithm` and `t`, as HeadObject
/// shows it (a composite value with its `-N`).
fn s3_value(data: &[u8], layout: &Layout, algorithm: Algorithm, t: ChecksumType) -> Checksum {
    match t {
        ChecksumType::FullObject => Checksum::of(algorithm, data),
        ChecksumType::Composite => {
            let ranges = layout.part_ranges(data.len() as u64).unwrap();
            let mut h = Hasher::new(algorithm);
            for r in &ranges {
                h.update(Checksum::of(algorithm, &data[r.start as usize..r.end as usize]).bytes());
            }
            h.finish().with_parts(Some(ranges.len() as u32))
        }
    }
}

fn opts(checksums: Vec<Checksum>) -> VerifyOptions {
    let mut o = VerifyOptions::default();
    o.checksums = checksums;
    o
}

fn file_of(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    f
}

/// Verifies `data` as a regular file and as a stream, and requires both to agree.
fn verify(data: &[u8], etag: Option<&str>, o: &VerifyOptions) -> Report {
    let remote = etag.map(|e| RemoteEtag::parse(e).unwrap());
    let f = file_of(data);
    let as_file = verify_path(f.path(), remote.as_ref(), o, &ReadOptions::default(), &NoProgress).unwrap();
    // A stream needs the size to guess a part size: give it, as the command line's --size does.
    let mut o2 = o.clone();
    o2.remote_size = Some(data.len() as u64);
    let as_stream =
        verify_reader(data, None, remote.as_ref(), &o2, &ReadOptions::default(), &NoProgress).unwrap();
    assert_eq!(as_file.verdict, as_stream.verdict, "file {as_file:?}\nstream {as_stream:?}");
    as_file
}

/// A random layout for `size` bytes, uniform or uneven.
fn layout_for(size: u64, rng: &mut Rng) -> Layout {
    match rng.below(4) {
        0 => Layout::Single,
        1 | 2 => Layout::uniform(1 + rng.below(size + 3)).unwrap(),
        _ => uneven_layout(size, rng),
    }
}

/// An algorithm and a type that S3 accepts on `layout`.
fn accepted(layout: &Layout, rng: &mut Rng) -> (Algorithm, ChecksumType) {
    loop {
        let a = Algorithm::ALL[rng.below(5) as usize];
        let t = [ChecksumType::FullObject, ChecksumType::Composite][rng.below(2) as usize];
        if s3_accepts(a, t, layout).is_ok() {
            return (a, t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// For any file, layout, algorithm and type S3 accepts: the object's own checksum, with or
    /// without its `-N`, with or without the ETag beside it, encrypted or not, is never a mismatch,
    /// and it is OK when the layout is given. Once one byte changes it is never OK, and a
    /// full-object value, or any value with its layout given, is a mismatch.
    #[test]
    fn own_checksum_is_never_a_mismatch(seed in any::<u64>(), big in any::<bool>()) {
        let mut rng = Rng(seed | 1);
        let size = if big { rng.below(100_000) } else { rng.below(300) };
        let data = rng.bytes(size as usize);
        let layout = layout_for(size, &mut rng);
        let (a, t) = accepted(&layout, &mut rng);
        let value = s3_value(&data, &layout, a, t);
        let value = if rng.below(3) == 0 { value.with_parts(None) } else { value };
        let etag = reference_etag(&data, &layout).to_string();
        let with_etag = rng.below(2) == 0;
        let sse = [Sse::Unknown, Sse::None, Sse::Kms][rng.below(3) as usize];
        for given in [None, Some(layout.clone())] {
            let mut o = opts(vec![value]);
            o.sse = sse;
            o.layout = given.clone();
            let r = verify(&data, with_etag.then_some(etag.as_str()), &o);
            prop_assert_ne!(r.verdict, Verdict::Mismatch, "{:?} {:?}", layout, r);
            if given.is_some() {
                prop_assert_eq!(r.verdict, Verdict::Match, "{:?} {} {} {:?}", layout, a, t, r);
            }
        }
        if size > 0 {
            let mut changed = data.clone();
            let at = rng.below(size) as usize;
            changed[at] ^= 1 << rng.below(8);
            for given in [None, Some(layout.clone())] {
                let mut o = opts(vec![value]);
                o.sse = sse;
                o.layout = given.clone();
                let r = verify(&changed, with_etag.then_some(etag.as_str()), &o);
                prop_assert_ne!(r.verdict, Verdict::Match, "{:?} {:?}", layout, r);
                // A value is known to be full-object when it is a CRC64NVME (S3 has no other); the
                // caller's single PUT is not evidence that a value without -N is not composite.
                let certain = a == Algorithm::Crc64Nvme;
                if given.is_some() && !with_etag && (certain || value.parts().is_some()) {
                    prop_assert_eq!(r.verdict, Verdict::Mismatch, "{:?} {} {} {:?}", layout, a, t, r);
                }
            }
        }
    }

    /// An ETag and a checksum of different contents never make OK, whichever of them is the
    /// file's, when the layout is known (an ETag no layout reproduces is no evidence either way).
    #[test]
    fn evidence_of_two_contents_is_never_ok(seed in any::<u64>()) {
        let mut rng = Rng(seed | 1);
        let size = 1 + rng.below(5000);
        let data = rng.bytes(size as usize);
        let mut other = data.clone();
        other[rng.below(size) as usize] ^= 1;
        let layout = layout_for(size, &mut rng);
        let (a, t) = accepted(&layout, &mut rng);
        for (etag_of, sum_of) in [(&data, &other), (&other, &data)] {
            let etag = reference_etag(etag_of, &layout).to_string();
            let mut o = opts(vec![s3_value(sum_of, &layout, a, t)]);
            o.layout = Some(layout.clone());
            o.checksum_type = (rng.below(2) == 0).then_some(t);
            let r = verify(&data, Some(&etag), &o);
            prop_assert_ne!(r.verdict, Verdict::Match, "{:?} {} {} {:?}", layout, a, t, r);
        }
    }
}

fn data(n: usize) -> Vec<u8> {
    Rng(42).bytes(n)
}

#[test]
fn an_encrypted_object_is_verified_by_its_checksum() {
    let d = data(3000);
    let mut o = opts(vec![Checksum::of(Algorithm::Crc64Nvme, &d)]);
    o.sse = Sse::Kms;
    // The ETag of an SSE-KMS object is no MD5 of the content.
    let r = verify(&d, Some("0123456789abcdef0123456789abcdef"), &o);
    assert_eq!(
        (r.verdict, &r.reason),
        (Verdict::Match, &Reason::ChecksumEqual { algorithm: Algorithm::Crc64Nvme })
    );
    assert_eq!(r.checksums[0].verdict, Verdict::Match);
    assert!(r.warnings.is_empty(), "an encrypted object's ETag is known to say nothing: {r:?}");
    // The same ETag, the encryption not given: it is not reproduced, and the report says so.
    let mut o2 = o.clone();
    o2.sse = Sse::Unknown;
    let r = verify(&d, Some("0123456789abcdef0123456789abcdef-3"), &o2);
    assert_eq!(r.verdict, Verdict::Match);
    assert!(matches!(r.warnings[..], [etagsum::Warning::EtagNotCompared { .. }]), "{r:?}");
    let mut changed = d.clone();
    changed[7] ^= 1;
    let r = verify(&changed, Some("0123456789abcdef0123456789abcdef"), &o);
    assert_eq!(
        (r.verdict, &r.reason),
        (Verdict::Mismatch, &Reason::ChecksumDiffers { algorithm: Algorithm::Crc64Nvme })
    );
    assert!(r.needs.is_empty(), "a full-object CRC that differs needs nothing more: {r:?}");
}

#[test]
fn when_the_etag_and_a_checksum_disagree_the_reason_says_which() {
    let d = data(3000);
    let etag = reference_etag(&d, &Layout::Single).to_string();
    let wrong = Checksum::of(Algorithm::Sha256, b"another object");
    let r = verify(&d, Some(&etag), &opts(vec![wrong]));
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(
        r.reason,
        Reason::Disagree { matched: Evidence::Etag, differs: Evidence::Checksum(Algorithm::Sha256) }
    );
    assert_eq!(r.checksums[0].verdict, Verdict::Mismatch);
    // The other way round: the checksum matches, the ETag does not (an SSE-KMS ETag given as an
    // MD5, with the encryption unknown): not OK, and the encryption is what would explain it.
    let r =
        verify(&d, Some("0123456789abcdef0123456789abcdef"), &opts(vec![Checksum::of(Algorithm::Crc32, &d)]));
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(
        r.reason,
        Reason::Disagree { matched: Evidence::Checksum(Algorithm::Crc32), differs: Evidence::Etag }
    );
    assert_eq!(r.needs, [Need::Encryption]);
}

#[test]
fn a_composite_value_with_or_without_its_part_count() {
    // 20 MiB + 1 in parts of 8 MiB, as the aws cli uploads it, with its default composite CRC32.
    let d = data((20 << 20) + 1);
    let layout = Layout::uniform(8 << 20).unwrap();
    let etag = reference_etag(&d, &layout).to_string();
    let value = s3_value(&d, &layout, Algorithm::Crc32, ChecksumType::Composite);
    assert_eq!(value.parts(), Some(3));
    for (etag, value) in [
        (Some(etag.as_str()), value),
        (Some(etag.as_str()), value.with_parts(None)),
        (None, value),
        // Without -N and without an ETag, the uploaders' layouts at this size are tried.
        (None, value.with_parts(None)),
    ] {
        let r = verify(&d, etag, &opts(vec![value]));
        assert_eq!(r.verdict, Verdict::Match, "{etag:?} {value}: {r:?}");
        assert_eq!(r.layout, Some(layout.clone()), "{etag:?} {value}");
        assert_eq!(r.checksums[0].checksum_type, Some(ChecksumType::Composite));
    }
    // A byte changed: the layout is guessed, not known, so a composite value that differs is
    // inconclusive; with the part size given, a mismatch.
    let mut changed = d.clone();
    changed[1 << 20] ^= 1;
    let r = verify(&changed, None, &opts(vec![value]));
    assert_eq!(
        (r.verdict, &r.reason),
        (Verdict::Inconclusive, &Reason::ChecksumNotReproduced { algorithm: Algorithm::Crc32 })
    );
    assert!(r.needs.contains(&Need::PartSize), "{r:?}");
    let mut o = opts(vec![value]);
    o.layout = Some(layout.clone());
    let r = verify(&changed, None, &o);
    assert_eq!(
        (r.verdict, &r.reason),
        (Verdict::Mismatch, &Reason::ChecksumDiffers { algorithm: Algorithm::Crc32 })
    );
}

#[test]
fn the_type_decides_what_a_value_without_part_count_is() {
    let d = data(10_000);
    let layout = Layout::uniform(3000).unwrap();
    let etag = reference_etag(&d, &layout).to_string();
    let full = Checksum::of(Algorithm::Crc32c, &d);
    let composite = s3_value(&d, &layout, Algorithm::Crc32c, ChecksumType::Composite).with_parts(None);
    let mut changed = d.clone();
    changed[9] ^= 1;
    // Beside a plain-MD5 ETag (a single PUT), a value is full-object: one that differs is evidence.
    let plain = reference_etag(&changed, &Layout::Single).to_string();
    let r = verify(&changed, Some(&plain), &opts(vec![full]));
    assert_eq!(
        (r.verdict, &r.reason),
        (
            Verdict::Inconclusive,
            &Reason::Disagree { matched: Evidence::Etag, differs: Evidence::Checksum(Algorithm::Crc32c) }
        )
    );
    // Beside a multipart ETag with no layout known, a value that differs may be full-object or
    // composite: both differ, but the layout is not known, so the type would settle it.
    let r = verify(&changed, Some(&etag), &opts(vec![full]));
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    // Told which type it is, it is evidence.
    let mut o = opts(vec![full]);
    o.checksum_type = Some(ChecksumType::FullObject);
    let r = verify(&changed, Some(&etag), &o);
    assert_eq!(r.verdict, Verdict::Mismatch, "{r:?}");
    // And the composite one, without -N beside the ETag's -4, shares the ETag's layouts.
    let mut o = opts(vec![composite]);
    o.layout = Some(layout.clone());
    assert_eq!(verify(&d, Some(&etag), &o).verdict, Verdict::Match);
    assert_eq!(verify(&changed, Some(&etag), &o).verdict, Verdict::Mismatch);
}

#[test]
fn a_part_count_that_contradicts_the_layout_that_matched_is_not_ok() {
    let d = data(10_000);
    let layout = Layout::uniform(3000).unwrap();
    let etag = reference_etag(&d, &layout).to_string();
    // The right bytes, but a -3 where the upload had 4 parts.
    let value = s3_value(&d, &layout, Algorithm::Sha1, ChecksumType::Composite).with_parts(Some(3));
    let mut o = opts(vec![value]);
    o.layout = Some(layout);
    let r = verify(&d, Some(&etag), &o);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    assert!(matches!(r.reason, Reason::Disagree { matched: Evidence::Etag, .. }), "{r:?}");
}

#[test]
fn every_checksum_is_computed_in_the_same_read() {
    let d = data(50_000);
    let layout = Layout::uniform(7000).unwrap();
    let etag = reference_etag(&d, &layout).to_string();
    let mut values = Vec::new();
    for a in Algorithm::ALL {
        for t in [ChecksumType::FullObject, ChecksumType::Composite] {
            if s3_accepts(a, t, &layout).is_ok() {
                values.push(s3_value(&d, &layout, a, t));
            }
        }
    }
    let f = file_of(&d);
    let remote = RemoteEtag::parse(&etag).unwrap();
    let mut o = opts(values.clone());
    o.layout = Some(layout);
    // A reader can be read only once: every checksum and the ETag come from that one read.
    let r = verify_reader(
        std::fs::File::open(f.path()).unwrap(),
        None,
        &remote,
        &o,
        &ReadOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.verdict, Verdict::Match);
    assert_eq!(r.checksums.len(), values.len());
    assert!(r.checksums.iter().all(|c| c.verdict == Verdict::Match), "{r:?}");
}

#[test]
fn nothing_to_verify_is_an_error() {
    let f = file_of(b"x");
    let e = verify_path(f.path(), None, &VerifyOptions::default(), &ReadOptions::default(), &NoProgress)
        .unwrap_err();
    assert!(matches!(e, VerifyError::NothingToVerify), "{e}");
}

#[test]
fn many_files_in_one_call_agree_with_one_at_a_time() {
    let mut rng = Rng(7);
    let files: Vec<(tempfile::NamedTempFile, Vec<u8>, Option<RemoteEtag>, VerifyOptions)> = (0..40)
        .map(|i| {
            let size = rng.below(3000);
            let d = rng.bytes(size as usize);
            let layout = layout_for(size, &mut rng);
            let (a, t) = accepted(&layout, &mut rng);
            let mut v = s3_value(&d, &layout, a, t);
            if i % 3 == 0 {
                v = Checksum::of(a, b"not this file");
            }
            let etag =
                (i % 2 == 0).then(|| RemoteEtag::parse(&reference_etag(&d, &layout).to_string()).unwrap());
            let mut o = opts(vec![v]);
            o.layout = (i % 4 == 0).then_some(layout);
            (file_of(&d), d, etag, o)
        })
        .collect();
    let opened: Vec<(std::fs::File, Option<u64>)> =
        files.iter().map(|(f, _, _, _)| etagsum::engine::open(f.path()).unwrap()).collect();
    let jobs: Vec<VerifyJob<'_>> = files
        .iter()
        .zip(&opened)
        .map(|((_, _, e, o), (file, size))| VerifyJob { file, size: *size, remote: e.as_ref(), opts: o })
        .collect();
    let together = verify_files(&jobs, &ReadOptions::default(), &NoProgress);
    for (((f, _, e, o), t), i) in files.iter().zip(together).zip(0..) {
        let alone = verify_path(f.path(), e.as_ref(), o, &ReadOptions::default(), &NoProgress).unwrap();
        let t = t.unwrap();
        assert_eq!(
            (t.verdict, &t.reason, &t.checksums),
            (alone.verdict, &alone.reason, &alone.checksums),
            "file {i}"
        );
        if i % 3 == 0 {
            assert_ne!(t.verdict, Verdict::Match, "file {i}");
        }
    }
}

#[test]
fn an_encrypted_objects_etag_still_tells_its_part_count() {
    // 3 parts of 3000 bytes; the ETag of an SSE-KMS object is no MD5 but still ends in its -N.
    let d = data(9000);
    let layout = Layout::uniform(3000).unwrap();
    let value = s3_value(&d, &layout, Algorithm::Crc32, ChecksumType::Composite);
    for (etag, ok) in [
        ("0123456789abcdef0123456789abcdef-3", true),
        ("0123456789abcdef0123456789abcdef-4", false),
        // A single PUT's ETag beside a 3-part composite value: the facts disagree.
        ("0123456789abcdef0123456789abcdef", false),
    ] {
        for sse in [Sse::Kms, Sse::C] {
            let mut o = opts(vec![value]);
            o.sse = sse;
            o.layout = Some(layout.clone());
            let r = verify(&d, Some(etag), &o);
            assert_eq!(r.verdict == Verdict::Match, ok, "{etag} {sse:?}: {r:?}");
            if !ok {
                assert_eq!(r.verdict, Verdict::Inconclusive, "{etag}: {r:?}");
            }
        }
    }
}

#[test]
fn a_layout_given_that_contradicts_the_part_count_is_not_used() {
    let d = data(9000);
    let layout = Layout::uniform(3000).unwrap();
    let value = s3_value(&d, &layout, Algorithm::Sha256, ChecksumType::Composite);
    // A single PUT, or 2 parts, against a -3 value: inconclusive, whatever the bytes.
    for given in [Layout::Single, Layout::uniform(5000).unwrap()] {
        let mut o = opts(vec![value]);
        o.layout = Some(given.clone());
        let r = verify(&d, None, &o);
        assert_eq!(r.verdict, Verdict::Inconclusive, "{given:?}: {r:?}");
        assert!(r.needs.contains(&Need::PartSize), "{r:?}");
    }
    // The right part count, the wrong sizes: the value is reproduced by the guess, with a warning.
    let mut o = opts(vec![value]);
    o.layout = Some(Layout::explicit(vec![2000, 3000, 4000]).unwrap());
    let r = verify(&d, None, &o);
    assert_eq!(r.verdict, Verdict::Match, "{r:?}");
    assert!(r.warnings.iter().any(|w| matches!(w, etagsum::Warning::LayoutWrong { .. })), "{r:?}");
    // A single PUT said by the caller: only the full-object value is tried, and one that differs
    // is not evidence on its own (the type would settle it).
    let mut o = opts(vec![Checksum::of(Algorithm::Crc32, b"other")]);
    o.layout = Some(Layout::Single);
    let r = verify(&d, None, &o);
    assert_eq!((r.verdict, r.needs.as_slice()), (Verdict::Inconclusive, &[Need::ChecksumType][..]), "{r:?}");
    o.checksum_type = Some(ChecksumType::FullObject);
    assert_eq!(verify(&d, None, &o).verdict, Verdict::Mismatch);
}

#[test]
fn a_composite_crc64nvme_is_refused_as_s3_has_none() {
    let d = data(100);
    let f = file_of(&d);
    let value = Checksum::of(Algorithm::Crc64Nvme, &d);
    for (v, t) in [(value.with_parts(Some(1)), None), (value, Some(ChecksumType::Composite))] {
        let mut o = opts(vec![v]);
        o.checksum_type = t;
        let e = verify_path(f.path(), None, &o, &ReadOptions::default(), &NoProgress).unwrap_err();
        assert!(matches!(e, VerifyError::ChecksumUnsupported(_)), "{e}");
    }
}

#[test]
fn a_streams_layout_is_checked_against_the_part_count_after_reading() {
    let d = data(9000);
    let layout = Layout::uniform(3000).unwrap();
    let value = s3_value(&d, &layout, Algorithm::Crc32c, ChecksumType::Composite);
    let mut changed = d.clone();
    changed[4000] ^= 1;
    let mut o = opts(vec![value]);
    o.layout = Some(layout);
    let stream = |data: &[u8], o: &VerifyOptions| {
        verify_reader(data, None, None, o, &ReadOptions::default(), &NoProgress).unwrap()
    };
    assert_eq!(stream(&d, &o).verdict, Verdict::Match);
    // The size read gives the caller's part size 3 parts, the value's -3: the layout is known.
    assert_eq!(stream(&changed, &o).verdict, Verdict::Mismatch);
    // A part size that gives another count on the bytes read is not known.
    o.layout = Some(Layout::uniform(2000).unwrap());
    assert_eq!(stream(&changed, &o).verdict, Verdict::Inconclusive);
}
