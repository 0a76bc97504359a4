//! Known answers published by other projects (testdata/peers.tsv, a copy of the project's shared
//! vectors): every `etag` row must pass, through the engine and through `MultipartHasher`, and every
//! checksum row (`crc32-full`, `sha256-composite`, …) through `etagsum::checksum` and `MultipartHasher`.

mod common;

use std::io::Write;

use etagsum::engine::{hash_reader, NoProgress};
use etagsum::{Etag, Layout, Md5Digest, MultipartHasher};

struct Row {
    id: String,
    content: Option<Vec<u8>>,
    layout: String,
    kind: String,
    value: String,
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t")
}

/// Builds a content description of the vectors file: text:, zeros:, repeat:, concat(...).
fn content(spec: &str) -> Vec<u8> {
    if let Some(inner) = spec.strip_prefix("concat(").and_then(|s| s.strip_suffix(')')) {
        return inner.split('|').flat_map(content).collect();
    }
    if let Some(text) = spec.strip_prefix("text:") {
        return unescape(text).into_bytes();
    }
    if let Some(n) = spec.strip_prefix("zeros:") {
        return vec![0; n.parse().unwrap()];
    }
    if let Some(rest) = spec.strip_prefix("repeat:") {
        let (s, k) = rest.rsplit_once(':').unwrap();
        return unescape(s).repeat(k.parse().unwrap()).into_bytes();
    }
    panic!("unknown content {spec}");
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/peers.tsv")).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header, ["id", "content", "layout", "kind", "value", "source"]);
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                id: f[0].into(),
                content: (f[1] != "-").then(|| content(f[1])),
                layout: f[2].into(),
                kind: f[3].into(),
                value: f[4].into(),
            }
        })
        .collect()
}

fn layout(spec: &str) -> Layout {
    if spec == "single" {
        Layout::Single
    } else if let Some(p) = spec.strip_prefix("part:") {
        Layout::uniform(p.parse().unwrap()).unwrap()
    } else if let Some(ps) = spec.strip_prefix("parts:") {
        Layout::explicit(ps.split(',').map(|p| p.parse().unwrap()).collect()).unwrap()
    } else {
        panic!("unknown layout {spec}")
    }
}

#[test]
fn every_etag_row_passes() {
    let mut checked = 0;
    for row in rows().into_iter().filter(|r| r.kind == "etag") {
        let want: Etag = row.value.parse().unwrap();
        if let Some(hexes) = row.layout.strip_prefix("combine:") {
            let parts: Vec<Md5Digest> = hexes.split(',').map(|h| h.parse().unwrap()).collect();
            assert_eq!(Etag::multipart(&parts), want, "{}", row.id);
            checked += 1;
            continue;
        }
        let data = row.content.expect("a content");
        let layout = layout(&row.layout);
        let hashed = hash_reader(
            &data[..],
            Some(data.len() as u64),
            std::slice::from_ref(&layout),
            &Default::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(hashed.etags[0].as_ref().unwrap(), &want, "{} (engine)", row.id);
        assert_eq!(common::reference_etag(&data, &layout), want, "{} (reference)", row.id);
        if let Layout::Uniform { part_size, .. } = layout {
            let mut h = MultipartHasher::new(part_size).unwrap();
            for chunk in data.chunks(1_000_003) {
                h.write_all(chunk).unwrap();
            }
            assert_eq!(h.finish(), want, "{} (MultipartHasher)", row.id);
        }
        checked += 1;
    }
    assert!(checked >= 31, "only {checked} etag rows were checked");
}

/// A checksum row: the value computed from the row's content, cut into the row's layout. A
/// full-object CRC is computed over the whole content and also combined from the parts' CRCs;
/// both must be the row's value, which must also be what the value prints as.
#[test]
fn every_checksum_row_passes() {
    use etagsum::checksum::{Algorithm, Checksum, ChecksumFolder, ChecksumType, Hasher};
    let (mut checked, mut through_hasher) = (0, 0);
    for row in rows().into_iter().filter(|r| r.kind != "etag") {
        let (alg, ty) = row.kind.split_once('-').unwrap_or_else(|| panic!("{}: kind {}", row.id, row.kind));
        let alg: Algorithm = alg.parse().unwrap();
        let ty = match ty {
            "full" => ChecksumType::FullObject,
            "composite" => ChecksumType::Composite,
            other => panic!("{}: unknown checksum type {other}", row.id),
        };
        let want = Checksum::parse(alg, &row.value).unwrap();
        assert_eq!(want.to_string(), row.value, "{}: the value does not print as S3 shows it", row.id);
        let data = row.content.expect("a content");
        let layout = layout(&row.layout);
        let ranges = layout.part_ranges(data.len() as u64).unwrap();
        let mut folder = ChecksumFolder::new(alg, ty).unwrap();
        for r in &ranges {
            let part = &data[r.start as usize..r.end as usize];
            let mut h = Hasher::new(alg);
            for piece in part.chunks(1_000_003) {
                h.update(piece);
            }
            folder.push(&h.finish(), part.len() as u64).unwrap();
        }
        let folded = folder.finish().unwrap();
        assert_eq!(folded, want, "{} (from the parts)", row.id);
        if let Layout::Uniform { part_size, .. } = layout {
            // Through the streaming hasher, with the ETag in the same pass and uneven writes.
            let mut h = MultipartHasher::with_checksums(part_size, &[alg], ty).unwrap();
            for chunk in data.chunks(999_983) {
                h.write_all(chunk).unwrap();
            }
            let done = h.finish_with_checksums();
            assert_eq!(done.checksums, [want], "{} (MultipartHasher)", row.id);
            assert_eq!(done.etag, common::reference_etag(&data, &layout), "{} (MultipartHasher)", row.id);
            through_hasher += 1;
        }
        assert_eq!(folded.to_string(), row.value, "{}", row.id);
        if ty == ChecksumType::FullObject {
            assert_eq!(Checksum::of(alg, &data), want, "{} (whole)", row.id);
        } else {
            // GetObjectAttributes shows the composite value without its -N.
            let bare = row.value.rsplit_once('-').unwrap().0;
            assert_eq!(Checksum::parse(alg, bare).unwrap(), want.with_parts(None), "{}", row.id);
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} checksum rows were checked");
    assert_eq!(through_hasher, checked, "every checksum row has a uniform layout");
}
