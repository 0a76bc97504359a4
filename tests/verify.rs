//! The verdict rules (docs/verify-rules.md), through the library: the property that must hold
//! forever, and each false alarm that was once reported, as a regression test.

mod common;

use std::io::Write;

use common::{reference_etag, uneven_layout, Rng};
use etagsum::engine::NoProgress;
use etagsum::{
    verify_path, verify_reader, Layout, Need, ReadOptions, Reason, RemoteEtag, Report, Sse, Verdict,
    VerifyError, VerifyOptions,
};
use proptest::prelude::*;

fn opts(remote_size: Option<u64>, layout: Option<Layout>, sse: Sse) -> VerifyOptions {
    let mut o = VerifyOptions::default();
    o.remote_size = remote_size;
    o.layout = layout;
    o.sse = sse;
    o
}

/// Verifies `data` as a regular file (positional reads, staged candidates).
fn verify_as_file(data: &[u8], etag: &str, o: &VerifyOptions) -> Result<Report, VerifyError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    let remote = RemoteEtag::parse(etag).unwrap();
    verify_path(f.path(), &remote, o, &ReadOptions::default(), &NoProgress)
}

/// Verifies `data` as a stream whose size is not known before reading.
fn verify_as_stream(data: &[u8], etag: &str, o: &VerifyOptions) -> Result<Report, VerifyError> {
    let remote = RemoteEtag::parse(etag).unwrap();
    verify_reader(data, None, &remote, o, &ReadOptions::default(), &NoProgress)
}

/// A random layout for `size` bytes: a single PUT, uniform parts of any size (under 5 MiB, odd,
/// exact divisors, larger than the object), or uneven parts that add up.
fn layout_for(size: u64, rng: &mut Rng) -> Layout {
    match rng.below(4) {
        0 => Layout::Single,
        1 => {
            // An exact divisor now and then, where an empty trailing part would hide.
            let divisors: Vec<u64> = (1..=size.min(64)).filter(|d| size.is_multiple_of(*d)).collect();
            match divisors.is_empty() {
                false if rng.below(2) == 0 => {
                    Layout::uniform(divisors[rng.below(divisors.len() as u64) as usize])
                }
                _ => Layout::uniform(1 + rng.below(size + 3)),
            }
            .unwrap()
        }
        2 => Layout::uniform(size.max(1) + rng.below(10)).unwrap(),
        _ => uneven_layout(size, rng),
    }
}

fn sse_for(rng: &mut Rng) -> Sse {
    [Sse::Unknown, Sse::None, Sse::S3][rng.below(3) as usize]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// For any file and any layout, verify(file, hash(file, layout)) is OK or INCONCLUSIVE, never
    /// MISMATCH; with the layout given it is OK. Once one byte changes it is never OK, and with the
    /// layout given and the encryption known it is a MISMATCH.
    #[test]
    fn own_etag_is_never_a_mismatch(seed in any::<u64>(), size_pick in 0u64..5) {
        let mut rng = Rng(seed | 1);
        let size = match size_pick {
            0 => rng.below(2),          // the empty and the one-byte file
            1 => rng.below(200),
            2 => rng.below(5000),
            3 => 64 * rng.below(50),    // whole blocks
            _ => rng.below(300_000),
        };
        let data = rng.bytes(size as usize);
        let layout = layout_for(size, &mut rng);
        let etag = reference_etag(&data, &layout).to_string();
        let sse = sse_for(&mut rng);
        let remote_size = (rng.below(2) == 0).then_some(size);

        for given in [None, Some(layout.clone())] {
            let o = opts(remote_size, given.clone(), sse);
            let r = verify_as_file(&data, &etag, &o).unwrap();
            prop_assert_ne!(r.verdict, Verdict::Mismatch, "{:?} {:?}", layout, r);
            if given.is_some() {
                prop_assert_eq!(r.verdict, Verdict::Match, "{:?} {:?}", layout, r);
            }
            match verify_as_stream(&data, &etag, &o) {
                Ok(r) => {
                    prop_assert_ne!(r.verdict, Verdict::Mismatch, "{:?} {:?}", layout, r);
                    if given.is_some() {
                        prop_assert_eq!(r.verdict, Verdict::Match, "{:?} {:?}", layout, r);
                    }
                }
                // Guessing a part size needs the size before reading.
                Err(VerifyError::SizeUnknown) => prop_assert!(given.is_none() && remote_size.is_none()),
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        if size > 0 {
            let mut changed = data.clone();
            let at = rng.below(size) as usize;
            changed[at] ^= 1 << rng.below(8);
            for given in [None, Some(layout.clone())] {
                let r = verify_as_file(&changed, &etag, &opts(remote_size, given.clone(), sse)).unwrap();
                prop_assert_ne!(r.verdict, Verdict::Match, "{:?} {:?}", layout, r);
                if given.is_some() && sse != Sse::Unknown {
                    prop_assert_eq!(r.verdict, Verdict::Mismatch, "{:?} {:?}", layout, r);
                }
            }
        }
    }

    /// Random facts, true or not, never make a false alarm out of a file's own ETag, and never
    /// panic: a mismatch needs a size that differs.
    #[test]
    fn random_facts_are_never_evidence(seed in any::<u64>()) {
        let mut rng = Rng(seed | 1);
        let size = rng.below(3000);
        let data = rng.bytes(size as usize);
        let layout = layout_for(size, &mut rng);
        let etag = reference_etag(&data, &layout).to_string();
        let claimed = layout_for(rng.below(3000), &mut rng);
        let remote_size = match rng.below(3) {
            0 => None,
            1 => Some(size),
            _ => Some(rng.below(4000)),
        };
        let o = opts(remote_size, Some(claimed.clone()), sse_for(&mut rng));
        for result in [verify_as_file(&data, &etag, &o), verify_as_stream(&data, &etag, &o)] {
            match result {
                Ok(r) if r.verdict == Verdict::Mismatch => {
                    // The rule the issue sets: a caller's layout whose part count agrees with the
                    // ETag, whose digest differs and that no other candidate rescues, is evidence.
                    let by_size = matches!(r.reason, Reason::SizeDiffers { .. }) && remote_size != Some(size);
                    let by_claim = r.reason == Reason::DigestDiffers
                        && r.layout.as_ref() == Some(&claimed)
                        && r.computed_etag.map(|e| e.parts()) == Some(reference_etag(&data, &layout).parts());
                    prop_assert!(by_size || by_claim, "{:?} claimed {:?}: {:?}", layout, claimed, r);
                }
                Ok(_) => {}
                Err(VerifyError::FactsDisagree { .. } | VerifyError::SizeUnknown) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}

fn zeros(n: usize) -> Vec<u8> {
    vec![0; n]
}

#[test]
fn layouts_s3_would_refuse_are_not_evidence() {
    // 12 bytes in parts of 2, 5 and 5.
    let data = b"hello world!".to_vec();
    let etag = reference_etag(&data, &Layout::explicit(vec![2, 5, 5]).unwrap()).to_string();
    let r = verify_as_file(&data, &etag, &VerifyOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    assert!(r.needs.contains(&Need::PartSizes), "{r:?}");
    let r = verify_as_file(
        &data,
        &etag,
        &opts(None, Some(Layout::explicit(vec![2, 5, 5]).unwrap()), Sse::Unknown),
    )
    .unwrap();
    assert_eq!(r.verdict, Verdict::Match);

    // 5,000,000-byte parts (another store's minimum) on 15,000,001 bytes: now guessed.
    let data = zeros(15_000_001);
    let etag = reference_etag(&data, &Layout::uniform(5_000_000).unwrap()).to_string();
    let r = verify_as_file(&data, &etag, &VerifyOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Match, "{r:?}");

    // 21-byte parts on 64 bytes, 2 MiB parts on 8 MiB, 3300000-byte parts on 20 MB.
    for (size, part) in [(64, 21), (8 << 20, 2 << 20), (20_000_000, 3_300_000)] {
        let data = zeros(size);
        let etag = reference_etag(&data, &Layout::uniform(part).unwrap()).to_string();
        let r = verify_as_file(&data, &etag, &VerifyOptions::default()).unwrap();
        assert_ne!(r.verdict, Verdict::Mismatch, "{size} {part}: {r:?}");
    }
}

#[test]
fn a_multipart_etag_no_candidate_reproduces_is_inconclusive_with_needs() {
    let data = zeros(1000);
    let etag = "0123456789abcdef0123456789abcdef-3";
    let r = verify_as_file(&data, etag, &VerifyOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(matches!(r.reason, Reason::NotReproduced { parts: 3, .. }), "{r:?}");
    assert_eq!(r.needs, vec![Need::PartSize, Need::PartSizes, Need::Encryption, Need::RemoteSize]);
    // Knowing the size and the encryption leaves the layout as the only need.
    let r = verify_as_file(&data, etag, &opts(Some(1000), None, Sse::None)).unwrap();
    assert_eq!(r.needs, vec![Need::PartSize, Need::PartSizes]);
    // More parts than bytes: no upload S3 accepts, still no evidence about the bytes.
    let r =
        verify_as_file(&data, "0123456789abcdef0123456789abcdef-2000", &VerifyOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
}

#[test]
fn what_the_caller_says_is_not_evidence() {
    let data = zeros(20_000_000);
    let aws_cli = reference_etag(&data, &Layout::uniform(8 << 20).unwrap()).to_string();
    // 16 MiB parts give 2 parts, the ETag has 3.
    let r = verify_as_file(&data, &aws_cli, &opts(None, Some(Layout::uniform(16 << 20).unwrap()), Sse::None))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.reason, Reason::LayoutDisagrees { layout_parts: Some(2), etag_parts: Some(3) });
    assert_eq!(r.needs, vec![Need::PartSize]);
    // 5 MiB parts give 4.
    let r = verify_as_file(
        &data,
        &aws_cli,
        &opts(Some(20_000_000), Some(Layout::uniform(5 << 20).unwrap()), Sse::Unknown),
    )
    .unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    // A single PUT against a -N ETag.
    let r = verify_as_file(&data, &aws_cli, &opts(None, Some(Layout::Single), Sse::Unknown)).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.reason, Reason::LayoutDisagrees { layout_parts: None, etag_parts: Some(3) });
    // Part sizes that do not add up to the remote size given: the facts contradict each other.
    let claimed = Layout::explicit(vec![8 << 20, 8 << 20, 1]).unwrap();
    let e = verify_as_file(&data, &aws_cli, &opts(Some(20_000_000), Some(claimed.clone()), Sse::Unknown))
        .unwrap_err();
    assert!(matches!(e, VerifyError::FactsDisagree { sum: Some(16777217), remote_size: 20_000_000 }), "{e}");
    // ... or to the local size, when no remote size is given.
    let r = verify_as_file(&data, &aws_cli, &opts(None, Some(claimed), Sse::Unknown)).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.reason, Reason::PartSizesDisagree { sum: Some(16777217), local: 20_000_000 });
    // A wrong part size with the right count: the bytes still reproduce the ETag with another one.
    let r =
        verify_as_file(&data, &aws_cli, &opts(None, Some(Layout::uniform(9 << 20).unwrap()), Sse::Unknown))
            .unwrap();
    assert_eq!(r.verdict, Verdict::Match, "{r:?}");
    assert_eq!(r.layout, Some(Layout::uniform(8 << 20).unwrap()));
    // A sum past 2^64 is said as such, not as a saturated number.
    let huge = Layout::explicit(vec![u64::MAX, 2]).unwrap();
    let e = verify_as_file(&data, &aws_cli, &opts(Some(5), Some(huge), Sse::Unknown)).unwrap_err();
    assert!(e.to_string().contains("more than 18446744073709551615 bytes"), "{e}");
}

#[test]
fn a_streams_layout_is_checked_against_the_etag_after_reading() {
    // No size before reading: the caller's part size gives 2 parts of these 10 bytes, the ETag 3.
    let data = zeros(10);
    let etag = reference_etag(&data, &Layout::uniform(4).unwrap()).to_string();
    let r =
        verify_as_stream(&data, &etag, &opts(None, Some(Layout::uniform(5).unwrap()), Sse::None)).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    assert_eq!(r.reason, Reason::LayoutDisagrees { layout_parts: Some(2), etag_parts: Some(3) });
    // A stream of another size than the remote one is a mismatch.
    let r = verify_as_stream(&data, &etag, &opts(Some(11), None, Sse::Unknown)).unwrap();
    assert_eq!(r.reason, Reason::SizeDiffers { remote: 11, local: 10 });
}

#[test]
fn encryption_changes_the_answer() {
    let data = b"hello".to_vec();
    let wrong = "5d41402abc4b2a76b9719d911017c593";
    let r = verify_as_file(&data, wrong, &VerifyOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Mismatch);
    assert_eq!(
        r.needs,
        vec![Need::Encryption, Need::Checksum],
        "the caveat stays while the encryption is unknown"
    );
    for sse in [Sse::None, Sse::S3] {
        let r = verify_as_file(&data, wrong, &opts(None, None, sse)).unwrap();
        assert_eq!(r.verdict, Verdict::Mismatch);
        assert!(r.needs.is_empty(), "{sse:?}: {r:?}");
    }
    for sse in [Sse::Kms, Sse::C] {
        let r = verify_as_file(&data, wrong, &opts(None, None, sse)).unwrap();
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.reason, Reason::Encrypted { sse });
        assert_eq!(r.needs, vec![Need::Checksum]);
    }
}

#[test]
fn a_sha256_etag_is_inconclusive_and_a_truncated_md5_is_refused() {
    let r = verify_as_file(b"x", &"ab".repeat(32), &VerifyOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.needs, vec![Need::Checksum]);
    assert!(RemoteEtag::parse(&"a".repeat(31)).is_err());
}

#[test]
fn a_stream_without_size_cannot_guess_a_part_size() {
    let e = verify_as_stream(b"abc", "0123456789abcdef0123456789abcdef-2", &VerifyOptions::default())
        .unwrap_err();
    assert!(matches!(e, VerifyError::SizeUnknown));
    assert!(!e.to_string().contains("standard input"), "{e}");
}

#[test]
fn many_files_in_one_call_agree_with_one_at_a_time() {
    use etagsum::{verify_file, verify_files, VerifyJob};
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(77);
    let mut cases = Vec::new();
    for (i, size) in [0u64, 1, 100, 5000, 1 << 20, (1 << 20) + 1, 3 << 20].into_iter().enumerate() {
        let data = rng.bytes(size as usize);
        let layout = layout_for(size, &mut rng);
        let mut etag = reference_etag(&data, &layout).to_string();
        if i % 3 == 2 {
            // Every third one is not the object: a plain MD5 that differs.
            etag = "0123456789abcdef0123456789abcdef".to_string();
        }
        let path = dir.path().join(format!("f{i}"));
        std::fs::write(&path, &data).unwrap();
        cases.push((path, RemoteEtag::parse(&etag).unwrap(), opts(None, Some(layout), Sse::None)));
    }
    let files: Vec<(std::fs::File, Option<u64>)> =
        cases.iter().map(|(p, _, _)| etagsum::engine::open(p).unwrap()).collect();
    let jobs: Vec<VerifyJob<'_>> = files
        .iter()
        .zip(&cases)
        .map(|((file, size), (_, remote, o))| VerifyJob { file, size: *size, remote: Some(remote), opts: o })
        .collect();
    let together = verify_files(&jobs, &ReadOptions::default(), &NoProgress);
    for (((file, size), (path, remote, o)), got) in files.iter().zip(&cases).zip(together) {
        let got = got.unwrap();
        let alone = verify_file(file, *size, remote, o, &ReadOptions::default(), &NoProgress).unwrap();
        assert_eq!(
            (got.verdict, &got.reason, got.computed_etag),
            (alone.verdict, &alone.reason, alone.computed_etag),
            "{path:?}"
        );
        assert_ne!(got.verdict, Verdict::Inconclusive, "{path:?}: {got:?}");
    }
}

#[test]
fn an_open_file_is_verified_from_its_start_whatever_its_position() {
    use std::io::{Seek, SeekFrom};
    let data = Rng(5).bytes(3 << 20);
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&data).unwrap();
    f.seek(SeekFrom::Start(12345)).unwrap();
    let etag =
        RemoteEtag::parse(&reference_etag(&data, &Layout::uniform(1 << 20).unwrap()).to_string()).unwrap();
    let o = opts(None, Some(Layout::uniform(1 << 20).unwrap()), Sse::None);
    let size = Some(data.len() as u64);
    for _ in 0..2 {
        let r = etagsum::verify_file(&f, size, &etag, &o, &ReadOptions::default(), &NoProgress).unwrap();
        assert_eq!(r.verdict, Verdict::Match);
    }
}
