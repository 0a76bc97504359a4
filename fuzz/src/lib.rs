//! Fuzz targets for etagsum: each is a function of the fuzzer's bytes that panics when a property
//! fails. The binaries in `fuzz_targets/` hand them to libFuzzer (built with `--cfg fuzzing`) or, in a
//! plain build, replay the files named on the command line through them.

use std::fmt::Write as _;
use std::path::Path;

use etagsum::checksum::Algorithm;
use etagsum::{
    Checksum, ChecksumHasher, Etag, Layout, NoProgress, ReadOptions, Reason, RemoteEtag, Sse, Verdict,
    VerifyError, VerifyOptions,
};
use md5::{Digest, Md5};

mod listing;
pub use listing::{checkfile, s3api};

/// A fuzz target: panics when a property fails for this input.
pub type Target = fn(&[u8]);

/// The targets, by name.
pub const TARGETS: [(&str, Target); 7] = [
    ("etag", etag),
    ("size", size),
    ("verify", verify),
    ("checkfile", checkfile),
    ("s3api", s3api),
    ("csv", csv),
    ("checksum", checksum),
];

/// ETag parsing: `RemoteEtag::parse` and `str::parse::<Etag>` never panic; a parsed `Etag`
/// prints as text that parses back to the same value; a multipart ETag has at least one part;
/// an MD5 `RemoteEtag` holds exactly what `Etag`'s parser reads.
pub fn etag(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let remote = RemoteEtag::parse(&text);
    let strict = text.parse::<Etag>();
    if let Ok(e) = &strict {
        let printed = e.to_string();
        let again = printed.parse::<Etag>();
        assert_eq!(
            again.as_ref().ok(),
            Some(e),
            "{printed:?} does not parse back to the ETag it was printed from"
        );
        if let Some(n) = e.parts() {
            assert!(n >= 1, "ETag {printed} has {n} parts");
            assert!(e.is_multipart());
        } else {
            assert!(!e.is_multipart());
        }
        assert_eq!(
            remote.as_ref().ok(),
            Some(&RemoteEtag::Md5(*e)),
            "RemoteEtag::parse disagrees with Etag's parser"
        );
    }
    match &remote {
        Ok(RemoteEtag::Md5(e)) => {
            assert_eq!(
                strict.as_ref().ok(),
                Some(e),
                "RemoteEtag::parse found an MD5 ETag that Etag's parser refused"
            );
            assert_eq!(e.to_string().parse::<RemoteEtag>().ok().as_ref(), remote.as_ref().ok());
        }
        Ok(RemoteEtag::Opaque { value, .. }) => {
            assert!(strict.is_err());
            // An opaque value keeps its text without quotes, and that text quoted reads back as the
            // same value. (Unquoted it may not: base64 text can start with `W/`, which reads as the
            // weak prefix.)
            let quoted = format!("\"{value}\"");
            assert_eq!(
                RemoteEtag::parse(&quoted).ok().as_ref(),
                remote.as_ref().ok(),
                "{quoted} does not re-parse"
            );
            assert_eq!(remote.as_ref().map(ToString::to_string).ok().as_ref(), Some(value));
        }
        Err(_) => {}
    }
    let _ = remote.map(|r| r.to_string());
}

/// Checksum values and names: the first byte picks an algorithm, the rest is text (lossy UTF-8).
/// `Checksum::parse`, the algorithm's and the type's parsers never panic; an accepted value has
/// the algorithm's length and no `-0`, prints as text that parses back to the same value, and,
/// when its part count has no leading zero, prints exactly as the text read (spaces and quotes
/// aside: S3's base64 is canonical); the value without its part count prints without `-N`; the
/// rest read as raw bytes is a value exactly when it has the algorithm's length.
pub fn checksum(data: &[u8]) {
    use etagsum::checksum::{Algorithm, Checksum, ChecksumType};
    let Some((&pick, rest)) = data.split_first() else { return };
    let alg = Algorithm::ALL[usize::from(pick) % Algorithm::ALL.len()];
    let text = String::from_utf8_lossy(rest);
    if let Ok(c) = Checksum::parse(alg, &text) {
        assert_eq!(c.algorithm(), alg);
        assert_eq!(c.bytes().len(), alg.digest_len(), "{c:?} has the wrong length");
        assert_ne!(c.parts(), Some(0), "{c:?} has no parts");
        let printed = c.to_string();
        assert_eq!(Checksum::parse(alg, &printed).as_ref(), Ok(&c), "{printed:?} does not parse back");
        let bare = text.trim();
        let bare = bare.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(bare).trim();
        if !bare.contains("-0") {
            assert_eq!(printed, bare, "the value does not print as it was read");
        }
        let without = c.with_parts(None).to_string();
        assert!(!without.contains('-'), "{without:?} has a part count");
        assert_eq!(Some(without.as_str()), printed.split('-').next());
        if alg.is_crc() {
            assert!(c.crc().is_some(), "{c:?} has no CRC");
        }
    }
    let raw = Checksum::from_bytes(alg, rest);
    assert_eq!(raw.is_ok(), rest.len() == alg.digest_len(), "{} bytes as a {alg}", rest.len());
    if let Ok(c) = raw {
        assert_eq!(c.bytes(), rest);
        assert_eq!(Checksum::parse(alg, &c.to_string()).ok(), Some(c));
    }
    if let Ok(a) = text.parse::<Algorithm>() {
        assert!(a.name().eq_ignore_ascii_case(text.trim()), "{text:?} read as {a}");
    }
    if let Ok(t) = text.parse::<ChecksumType>() {
        assert_eq!(t.to_string().parse::<ChecksumType>().ok(), Some(t));
    }
}

/// Size parsing: `parse_size` and `parse_part_sizes` never panic; an accepted size re-parses from
/// its decimal form to the same value; a list's entries are what `parse_size` reads from each
/// comma-separated piece.
pub fn size(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(n) = etagsum::parse_size(&text) {
        assert_eq!(etagsum::parse_size(&n.to_string()).ok(), Some(n), "{n} does not re-parse");
        assert_eq!(etagsum::parse_size(&format!("{n}B")).ok(), Some(n), "{n}B does not re-parse");
    }
    match etagsum::parse_part_sizes(&text) {
        Ok(sizes) => {
            assert!(!sizes.is_empty(), "an accepted list is empty");
            let pieces: Vec<&str> = text.split(',').collect();
            assert_eq!(
                pieces.len(),
                sizes.len(),
                "the list has {} entries, read {}",
                pieces.len(),
                sizes.len()
            );
            for (piece, &n) in pieces.iter().zip(&sizes) {
                assert_eq!(etagsum::parse_size(piece).ok(), Some(n), "entry {piece:?} read as {n}");
            }
            let joined = sizes.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            assert_eq!(etagsum::parse_part_sizes(&joined).ok(), Some(sizes), "{joined} does not re-parse");
        }
        Err(_) => {
            // A list that is refused has an entry that is refused, or is blank.
            let blank = text.trim().is_empty();
            assert!(blank || text.split(',').any(|p| etagsum::parse_size(p).is_err()), "{text:?} refused");
        }
    }
}

/// Reads values from the fuzzer's bytes, zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    /// A number near `len` or at the edges of u64: the values where sizes go wrong.
    fn size_near(&mut self, len: u64) -> u64 {
        match self.u8() % 8 {
            0 => len,
            1 => len.saturating_sub(1 + u64::from(self.u8() % 16)),
            2 => len.saturating_add(1 + u64::from(self.u8() % 16)),
            3 => u64::MAX - u64::from(self.u8()),
            4 => u64::from(self.u8()),
            5 => 5 << 20,
            _ => self.u64(),
        }
    }

    fn rest(&mut self) -> &[u8] {
        std::mem::take(&mut self.0)
    }
}

/// Content of `len` bytes from a seed (the content matters to MD5 only, not to the paths taken).
fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = u64::from(seed) | 1 << 40;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The ETag of `data` uploaded in parts of these sizes (`None`: a single PUT), computed naively,
/// as text; `None` if the parts do not add up to the data.
fn reference_etag(data: &[u8], parts: Option<&[u64]>) -> Option<String> {
    let Some(parts) = parts else { return Some(hex(&md5(data))) };
    let mut concat = Vec::new();
    let mut at = 0usize;
    for &p in parts {
        let end = at.checked_add(usize::try_from(p).ok()?)?;
        concat.extend_from_slice(&md5(data.get(at..end)?));
        at = end;
    }
    (at == data.len() && !parts.is_empty()).then(|| format!("{}-{}", hex(&md5(&concat)), parts.len()))
}

/// The part sizes of a uniform layout over `len` bytes: one empty part for no bytes.
fn uniform_parts(len: u64, part_size: u64) -> Vec<u64> {
    if len == 0 {
        return vec![0];
    }
    let mut parts = Vec::new();
    let mut left = len;
    while left > 0 {
        let p = left.min(part_size);
        parts.push(p);
        left -= p;
    }
    parts
}

/// A layout from the bytes, with the part sizes it gives `len` bytes (`None` for a single PUT).
/// `fits`: an explicit list adds up to `len` (otherwise it is any list).
fn layout(b: &mut Bytes<'_>, len: u64, fits: bool) -> (Layout, Option<Vec<u64>>) {
    match b.u8() % 3 {
        0 => (Layout::Single, None),
        1 => {
            let p = match b.u8() % 4 {
                0 => u64::MAX - u64::from(b.u8()),
                1 => len.saturating_add(u64::from(b.u8() % 4)).max(1),
                _ => 1 + u64::from(b.u16()) % len.max(1).saturating_add(1),
            };
            (Layout::uniform(p).expect("a part size of at least 1"), Some(uniform_parts(len, p)))
        }
        _ => {
            let k = 1 + usize::from(b.u8() % 8);
            let parts: Vec<u64> = if fits {
                // k − 1 cuts at sorted positions in 0..=len.
                let mut cuts: Vec<u64> = (1..k).map(|_| u64::from(b.u16()) % (len + 1)).collect();
                cuts.sort_unstable();
                cuts.push(len);
                let mut prev = 0;
                cuts.into_iter()
                    .map(|c| {
                        let p = c - prev;
                        prev = c;
                        p
                    })
                    .collect()
            } else {
                (0..k).map(|_| b.size_near(len / k as u64)).collect()
            };
            (Layout::explicit(parts.clone()).expect("a list of at least one part"), Some(parts))
        }
    }
}

/// The verifier: from the bytes, some content, the layout it was uploaded with, the remote ETag
/// and the caller's facts. `verify_reader` never panics; the content's own ETag is never a
/// mismatch unless the remote size given differs from the content's; with its true layout given
/// (and no remote size that differs, no encryption that hides the MD5) it is a match; an error is
/// only a part-size question without a size, or facts that disagree.
pub fn verify(data: &[u8]) {
    let mut b = Bytes(data);
    let flags = b.u8();
    let len = usize::from(b.u16() % 4097);
    let bytes = content(len, b.u32());
    let len64 = len as u64;
    let (true_layout, true_parts) = layout(&mut b, len64, true);
    let own = reference_etag(&bytes, true_parts.as_deref()).expect("a layout made to fit fits");

    let mut opts = VerifyOptions::default();
    opts.remote_size = match b.u8() % 4 {
        0 | 1 => None,
        2 => Some(len64),
        _ => Some(b.size_near(len64)),
    };
    let given_true = b.u8() % 3;
    // The caller's layout and the ETag it gives the content, if it fits the content.
    let (given, given_etag) = match given_true {
        0 => (None, None),
        1 => (Some(true_layout.clone()), Some(own.clone())),
        _ => {
            let fits = b.u8() & 1 == 0;
            let (l, parts) = layout(&mut b, len64, fits);
            (Some(l), reference_etag(&bytes, parts.as_deref()))
        }
    };
    opts.layout = given;
    opts.sse = [Sse::Unknown, Sse::None, Sse::S3, Sse::Kms, Sse::C][usize::from(b.u8() % 5)];
    let size = if flags & 1 == 0 { Some(len64) } else { None };
    // Now and then the content's own additional checksum beside its ETag: full-object, or
    // composite over the true parts, with or without its -N (S3 has no composite CRC64NVME: a
    // CRC64NVME without -N is full-object, and is taken as such).
    if flags & 2 != 0 {
        let a = Algorithm::ALL[usize::from(b.u8() % 5)];
        let pick = b.u8();
        let value = match (&true_parts, pick % 2) {
            (Some(parts), 1) if !parts.is_empty() && a != Algorithm::Crc64Nvme => {
                let mut h = ChecksumHasher::new(a);
                let mut at = 0usize;
                for &p in parts {
                    let end = at + usize::try_from(p).expect("a part of the content");
                    h.update(Checksum::of(a, &bytes[at..end]).bytes());
                    at = end;
                }
                let c = h.finish();
                if pick & 2 == 0 {
                    c.with_parts(u32::try_from(parts.len()).ok())
                } else {
                    c
                }
            }
            _ => Checksum::of(a, &bytes),
        };
        opts.checksums.push(value);
    }

    let remote =
        RemoteEtag::parse(&own).unwrap_or_else(|e| panic!("the reference ETag {own} does not parse: {e}"));
    let result = run_verify(&bytes, size, &remote, &opts);
    let context = || {
        format!(
            "content of {len} bytes uploaded as {true_layout:?} has ETag {own}; size {size:?}, facts {opts:?}; got {result:?}"
        )
    };
    match &result {
        Ok(report) => {
            let size_differs = opts.remote_size.is_some_and(|r| r != len64);
            if report.verdict == Verdict::Mismatch {
                // Only two facts can refute the content's own ETag: a remote size that is not its
                // length, or a layout given by the caller that makes another ETag of the same form.
                match &report.reason {
                    Reason::SizeDiffers { remote, local } => {
                        assert!(size_differs, "a size mismatch: {}", context());
                        assert_eq!((Some(*remote), *local), (opts.remote_size, len64), "{}", context());
                    }
                    Reason::DigestDiffers => {
                        let theirs = given_etag.as_deref().filter(|g| *g != own);
                        assert!(
                            theirs.is_some(),
                            "a digest mismatch without a wrong layout given: {}",
                            context()
                        );
                        assert_eq!(
                            report.computed_etag.map(|e| e.to_string()).as_deref(),
                            theirs,
                            "{}",
                            context()
                        );
                        assert_eq!(report.layout.as_ref(), opts.layout.as_ref(), "{}", context());
                    }
                    // The content's own checksum differs only for a wrong layout the caller gave,
                    // as its ETag does.
                    Reason::ChecksumDiffers { .. } => {
                        let theirs = given_etag.as_deref().filter(|g| *g != own);
                        assert!(
                            theirs.is_some(),
                            "a checksum mismatch without a wrong layout given: {}",
                            context()
                        );
                    }
                    _ => panic!("a mismatch for the content's own ETag: {}", context()),
                }
            }
            let encrypted = matches!(opts.sse, Sse::Kms | Sse::C);
            if given_true == 1 && !size_differs && !encrypted {
                assert_eq!(report.verdict, Verdict::Match, "its true layout given: {}", context());
            }
            if report.verdict == Verdict::Match {
                assert_eq!(report.size, len64, "{}", context());
                // A checksum may decide while the ETag could not be compared.
                let computed = report.computed_etag.map(|e| e.to_string());
                if !matches!(report.reason, Reason::ChecksumEqual { .. }) || computed.is_some() {
                    assert_eq!(computed, Some(own.clone()), "{}", context());
                }
            }
        }
        Err(VerifyError::SizeUnknown) => {
            assert!(size.is_none() && opts.remote_size.is_none(), "SizeUnknown: {}", context());
        }
        Err(VerifyError::FactsDisagree { .. }) => {
            assert!(
                opts.remote_size.is_some() && matches!(opts.layout, Some(Layout::Explicit { .. })),
                "FactsDisagree: {}",
                context()
            );
        }
        Err(_) => panic!("an unexpected error: {}", context()),
    }

    // A near miss of the content's own ETag (another part count, another digest), then any remote
    // ETag the fuzzer writes, against the same content and facts: no panic.
    let n = remote.md5().and_then(|e| e.parts()).unwrap_or(1);
    let digest = &own[..32];
    let near = match b.u8() % 6 {
        0 => Some(format!("{digest}-{}", n.saturating_sub(1).max(1))),
        1 => Some(format!("{digest}-{}", n.saturating_add(1))),
        2 => Some(format!("{digest}-{}", u32::MAX)),
        3 => Some(digest.to_string()),
        4 => Some(format!("{}{}", if own.starts_with('0') { '1' } else { '0' }, &own[1..])),
        _ => None,
    };
    if let Some(near) = near {
        let other = RemoteEtag::parse(&near).unwrap_or_else(|e| panic!("{near} does not parse: {e}"));
        let _ = run_verify(&bytes, size, &other, &opts);
    }
    let text = String::from_utf8_lossy(b.rest()).into_owned();
    if let Ok(other) = RemoteEtag::parse(&text) {
        let _ = run_verify(&bytes, size, &other, &opts);
    }
}

fn run_verify(
    bytes: &[u8],
    size: Option<u64>,
    remote: &RemoteEtag,
    opts: &VerifyOptions,
) -> Result<etagsum::Report, VerifyError> {
    etagsum::verify_reader(bytes, size, remote, opts, &ReadOptions::default(), &NoProgress)
}

/// The `main` of a target built without libFuzzer: runs every file named on the command line (and
/// every file in every directory named) through `target`, and exits non-zero if any panicked.
pub fn replay_main(name: &str, target: Target) {
    let mut files = Vec::new();
    for arg in std::env::args_os().skip(1) {
        collect(Path::new(&arg), &mut files);
    }
    if files.is_empty() {
        eprintln!("usage: {name} FILE_OR_DIR...  (replays inputs; fuzz/run.sh fuzzes)");
        std::process::exit(2);
    }
    let mut failed = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if std::panic::catch_unwind(|| target(&data)).is_err() {
            eprintln!("{name}: {} failed; input in hex: {}", f.display(), hex(&data));
            failed += 1;
        }
    }
    println!("{name}: {} inputs, {failed} failed", files.len());
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The files at `path`: itself, or every file under it, in name order.
pub fn collect(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> =
            std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else {
        out.push(path.to_path_buf());
    }
}

/// The columns of the `csv` target's data file: every column etagsum reads, in AWS's order.
const CSV_SCHEMA: &str =
    "Bucket, Key, IsLatest, IsDeleteMarker, Size, ETag, IsMultipartUploaded, EncryptionStatus";

/// The entries, the skipped rows and the error of one read of a CSV data file.
type CsvRead = (Vec<etagsum::listing::Entry>, Result<etagsum::listing::Skipped, String>);

/// Reads `bytes` as a CSV data file of bucket `b`, stopping after `stop` entries.
fn read_csv(bytes: &[u8], gzip: bool, stop: usize) -> CsvRead {
    use etagsum::listing::inventory::{CsvData, CsvSchema};
    use etagsum::listing::Source as _;
    let schema = CsvSchema::parse(CSV_SCHEMA).expect("the target's schema parses");
    let mut entries = Vec::new();
    let result = CsvData::new(bytes, "fuzz.csv.gz", schema).gzip(gzip).source_bucket("b").read(&mut |e| {
        entries.push(e.expect("the CSV reader stops on errors; it gives no bad entries"));
        if entries.len() >= stop {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    (entries, result.map_err(|e| e.to_string()))
}

/// S3 Inventory CSV data files: the bytes are one data file, gzip when they start as gzip does
/// and plain CSV otherwise, with a fixed schema. Reading never panics; each entry says it was
/// read at the data file, at a row after the previous entry's; an error names the file; a sink
/// that stops after k entries gets exactly the first k and no error; plain bytes compressed into
/// a two-member gzip stream read to the same entries and the same end.
pub fn csv(data: &[u8]) {
    let gzip = data.starts_with(&[0x1f, 0x8b]);
    let (entries, result) = read_csv(data, gzip, usize::MAX);
    let mut last = 0;
    for e in &entries {
        let at = e.at.as_ref().expect("an entry says where it was read");
        assert_eq!(at.file, Path::new("fuzz.csv.gz"));
        let row = at.line.expect("an entry has a row");
        assert!(row > last, "row {row} after row {last}");
        last = row;
    }
    if let Err(e) = &result {
        assert!(e.starts_with("fuzz.csv.gz"), "an error that does not name the file: {e}");
    }
    // Stopping early: exactly k entries, the same ones, and no error.
    if !entries.is_empty() {
        let k = 1 + entries.len() / 2;
        let (first, stopped) = read_csv(data, gzip, k);
        assert_eq!(first.len(), k, "a sink that stops after {k} entries got {}", first.len());
        assert_eq!(first[..], entries[..k]);
        assert!(stopped.is_ok(), "an error after the sink stopped: {stopped:?}");
    }
    // The same CSV through gzip (in two members) reads the same.
    if !gzip {
        let mut compressed = Vec::new();
        let half = data.len() / 2;
        for piece in [&data[..half], &data[half..]] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut enc, piece).expect("writing to memory");
            compressed.extend(enc.finish().expect("writing to memory"));
        }
        let (g_entries, g_result) = read_csv(&compressed, true, usize::MAX);
        assert_eq!(g_entries, entries, "the gzip stream reads other entries");
        assert_eq!(g_result, result, "the gzip stream reads to another end");
    }
}
