//! The listing readers' targets: checkfiles and `aws s3api list-objects-v2` JSON.

use std::ops::ControlFlow;

use etagsum::listing::checkfile::{plain_line, tagged_line, Checkfile};
use etagsum::listing::s3api::{KeyEncoding, ListObjectsV2, Summary};
use etagsum::listing::{BadEntry, Entry, ListingError, Source};
use etagsum::{Etag, Layout, Md5Digest};

use crate::Bytes;

type Items = Vec<Result<Entry, BadEntry>>;

/// Lines in `data` as a line reader counts them: one per `\n`, and a last one without it.
fn lines(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!data.is_empty() && !data.ends_with(b"\n"))
}

/// The answers for a checkfile in memory, or `None` when the reader refused the whole file (a
/// UTF-16 file, a line without end, mostly garbage): never an I/O error.
fn try_read_checkfile(data: &[u8]) -> Option<(Items, u64)> {
    let mut items = Vec::new();
    match Checkfile::new(data, "fuzz").read(&mut |item| {
        items.push(item);
        ControlFlow::Continue(())
    }) {
        Ok(skipped) => Some((items, skipped.blank_lines)),
        Err(e @ ListingError::Io { .. }) => panic!("a checkfile in memory has no I/O error, got {e}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            None
        }
    }
}

/// The answers for a checkfile that the reader must read to its end.
fn read_checkfile(data: &[u8]) -> (Items, u64) {
    try_read_checkfile(data).expect("a checkfile of one good line is read to its end")
}

/// The checkfile reader: any bytes give one answer per line (an entry, a bad entry or a skipped
/// line), in order, never a panic; an entry has a name that is not empty and holds no NUL, and
/// an ETag. Then a name, a size, a layout and an ETag made from the bytes, written by
/// `plain_line` and `tagged_line`, read back to exactly what was written.
pub fn checkfile(data: &[u8]) {
    if let Some((items, blank)) = try_read_checkfile(data) {
        answers_line_by_line(data, &items, blank);
    }

    let mut b = Bytes(data);
    let (size, layout) = match b.u8() % 3 {
        0 => (b.u64(), Layout::Single),
        1 => (b.u64(), Layout::uniform(b.u64().max(1)).expect("a part size of at least 1")),
        _ => {
            let parts: Vec<u64> = (0..1 + b.u8() % 16).map(|_| u64::from(b.u32())).collect();
            (parts.iter().sum(), Layout::explicit(parts).expect("at least one part"))
        }
    };
    let digest = Md5Digest(std::array::from_fn(|_| b.u8()));
    let etag = match b.u16() {
        0 => Etag::single(digest),
        n => format!("{}-{n}", Etag::single(digest)).parse().expect("an ETag with a part count"),
    };
    let mut name: Vec<u8> = b.rest().iter().copied().filter(|&c| c != 0).collect();
    if name.is_empty() {
        name.push(b'x');
    }
    let (items, blank) = read_checkfile(&tagged_line(&name, size, &layout, &etag));
    assert_eq!((items.len(), blank), (1, 0), "{items:?}");
    let e = items[0].as_ref().unwrap_or_else(|b| panic!("a tagged line read as bad: {b}"));
    assert_eq!(e.key, name);
    assert_eq!((e.size, e.layout.as_ref()), (Some(size), Some(&layout)));
    assert_eq!(e.etag, Some(etag.to_string()));

    let (items, blank) = read_checkfile(&plain_line(&name, &etag));
    assert_eq!((items.len(), blank), (1, 0), "{items:?}");
    let e = items[0].as_ref().unwrap_or_else(|b| panic!("a plain line read as bad: {b}"));
    assert_eq!((&e.key, e.size, e.layout.as_ref()), (&name, None, None));
    assert_eq!(e.etag, Some(etag.to_string()));
}

fn read_listing(data: &[u8], encoding: KeyEncoding) -> (Items, Result<Summary, ListingError>) {
    let mut items = Vec::new();
    let result = ListObjectsV2::new(data, "fuzz").key_encoding(encoding).read_listing(&mut |item| {
        items.push(item);
        ControlFlow::Continue(())
    });
    (items, result)
}

/// The `list-objects-v2` reader: any bytes read with keys as printed and URL-encoded never
/// panic, and give the same objects and the same outcome both ways (decoding changes keys, and
/// makes the keys that do not decode bad entries, nothing else); keys are UTF-8, as S3's are;
/// every line named is in the input; only format errors come (the input is in memory); a sink
/// that stops after the first object gets that object alone.
pub fn s3api(data: &[u8]) {
    let total = lines(data).max(1);
    let (plain, plain_result) = read_listing(data, KeyEncoding::AsPrinted);
    let (url, url_result) = read_listing(data, KeyEncoding::Url);
    for result in [&plain_result, &url_result] {
        match result {
            Ok(_) => {}
            Err(ListingError::Format { at, what }) => {
                let line = at.line.expect("a format error names its line");
                assert!((1..=total).contains(&line), "line {line} of {total}: {what}");
            }
            Err(e) => panic!("not a format error: {e:?}"),
        }
    }
    assert_eq!(
        plain_result.as_ref().map_err(ToString::to_string),
        url_result.as_ref().map_err(ToString::to_string),
        "the key encoding changed the outcome"
    );
    assert_eq!(plain.len(), url.len(), "the key encoding changed the number of objects");
    for (p, u) in plain.iter().zip(&url) {
        let p = p.as_ref().expect("keys as printed are never bad");
        assert!(std::str::from_utf8(&p.key).is_ok(), "a key that is not UTF-8: {p:?}");
        let line = p.at.as_ref().and_then(|a| a.line).expect("an entry names its line");
        assert!((1..=total).contains(&line), "line {line} of {total}");
        match u {
            Ok(u) => {
                assert!(std::str::from_utf8(&u.key).is_ok(), "a decoded key that is not UTF-8: {u:?}");
                assert_eq!((u.size, &u.etag, &u.at), (p.size, &p.etag, &p.at));
                if !p.key.contains(&b'%') && !p.key.contains(&b'+') {
                    assert_eq!(u.key, p.key, "a key without + or % changed when decoded");
                }
            }
            Err(b) => {
                assert!(p.key.contains(&b'%'), "{:?} does not decode: {b}", String::from_utf8_lossy(&p.key));
                assert_eq!(Some(&b.at), p.at.as_ref());
            }
        }
    }
    if let Some(first) = plain.first() {
        let mut got = Vec::new();
        let result = ListObjectsV2::new(data, "fuzz").read(&mut |item| {
            got.push(item);
            ControlFlow::Break(())
        });
        assert!(result.is_ok(), "a stopped reading is not an error: {result:?}");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().ok(), first.as_ref().ok());
    }
}

/// Any bytes the reader reads to its end give one answer per line (an entry, a bad entry or a
/// skipped line), in order; an entry has a name that is not empty and holds no NUL, and an ETag or
/// (a checksum line) one checksum.
fn answers_line_by_line(data: &[u8], items: &Items, blank: u64) {
    let total = lines(data);
    assert_eq!(items.len() as u64 + blank, total, "answers for {total} lines: {items:?}, {blank} skipped");
    let mut last = 0;
    for item in items {
        let line = match item {
            Ok(e) => {
                assert!(!e.key.is_empty() && !e.key.contains(&0), "a bad name read: {e:?}");
                // An ETag line has its ETag; a checksum line its one value.
                let etag = e.etag.as_ref().is_some_and(|t| !t.is_empty());
                let checksum = e.checksums.len() == 1 && !e.checksums[0].1.is_empty();
                assert!(etag != checksum, "neither an ETag nor one checksum, or both: {e:?}");
                e.at.as_ref().and_then(|a| a.line)
            }
            Err(b) => {
                assert!(!b.what.is_empty());
                b.at.line
            }
        };
        let line = line.expect("every answer has its line");
        assert!(line > last && line <= total, "line {line} after line {last}, of {total}");
        last = line;
    }
}
