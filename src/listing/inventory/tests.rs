//! Reports built as AWS documents them: `manifest.json` with the data files' MD5s, gzip CSV
//! without a header row, every field quoted, keys URL-encoded with `+` for a space; Parquet files
//! written with the `parquet` crate's writer as AWS and pyarrow lay them out.

use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::parser::parse_message_type;
use flate2::write::GzEncoder;
use flate2::Compression as GzLevel;

use super::*;
use crate::listing::BadEntry;

const SCHEMA: &str = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm";
const BUCKET: &str = "example-source-bucket";
const PREFIX: &str = "inventory/example-source-bucket/daily";

/// One object version as a report lists it.
#[derive(Clone, Debug)]
struct Obj {
    key: &'static str,
    latest: bool,
    delete_marker: bool,
    size: Option<u64>,
    etag: Option<&'static str>,
    multipart: bool,
    encryption: &'static str,
}

fn obj(key: &'static str, size: u64, etag: &'static str) -> Obj {
    Obj {
        key,
        latest: true,
        delete_marker: false,
        size: Some(size),
        etag: Some(etag),
        multipart: false,
        encryption: "NOT-SSE",
    }
}

/// Every kind of row: plain, encrypted, multipart, a delete marker, an old version, keys that
/// need encoding.
fn objects() -> Vec<Obj> {
    vec![
        obj("plain.txt", 11, "5eb63bbbe01eeed093cb22bb8f5acdc3"),
        Obj {
            encryption: "SSE-S3",
            ..obj("dir/sub dir/with space.bin", 3, "900150983cd24fb0d6963f7d28e17f72")
        },
        Obj { encryption: "SSE-KMS", ..obj("kms/a+b=c.bin", 5, "0cc175b9c0f1b6a831c399e269772661") },
        Obj { encryption: "DSSE-KMS", ..obj("kms/100%.bin", 5, "0cc175b9c0f1b6a831c399e269772661") },
        Obj { encryption: "SSE-C", ..obj("c/naïve 日本.txt", 7, "92eb5ffee6ae2fec3ad71c777531578f") },
        Obj { multipart: true, ..obj("big/multi part.bin", 16 << 20, "e7b4b8f0b8b8f6f2d2a4c9b8d7e6f5a4-2") },
        Obj { latest: false, ..obj("plain.txt", 9, "d41d8cd98f00b204e9800998ecf8427e") },
        Obj { delete_marker: true, size: None, etag: None, ..obj("gone.txt", 0, "") },
        Obj { latest: false, delete_marker: true, size: None, etag: None, ..obj("gone2.txt", 0, "") },
        Obj {
            encryption: "SSE-FUTURE",
            ..obj("odd/~!*'();:@&$,?#[].txt", 0, "d41d8cd98f00b204e9800998ecf8427e")
        },
        Obj { etag: None, encryption: "", ..obj("no-etag", 1, "") },
        obj("trailing/", 0, "d41d8cd98f00b204e9800998ecf8427e"),
    ]
}

/// What a reader must hand over for `objects`, in order.
fn expected(objects: &[Obj], file: &Path) -> (Vec<Entry>, Skipped) {
    let mut entries = Vec::new();
    let mut skipped = Skipped::default();
    for (i, o) in objects.iter().enumerate() {
        if o.delete_marker {
            skipped.delete_markers += 1;
            continue;
        }
        if !o.latest {
            skipped.old_versions += 1;
            continue;
        }
        let mut e = Entry::new(o.key.as_bytes());
        e.size = o.size;
        e.etag = o.etag.map(str::to_string);
        e.multipart = Some(o.multipart);
        e.sse = match o.encryption {
            "NOT-SSE" => Sse::None,
            "SSE-S3" => Sse::S3,
            "SSE-KMS" | "DSSE-KMS" => Sse::Kms,
            "SSE-C" => Sse::C,
            _ => Sse::Unknown,
        };
        e.at = Some(At { file: file.to_path_buf(), line: Some(i as u64 + 1) });
        entries.push(e);
    }
    (entries, skipped)
}

/// URL-encodes a key as S3 Inventory does (`application/x-www-form-urlencoded`: letters, digits
/// and `.-*_` as they are, a space as `+`, every other byte as `%XX`).
fn url_encode(key: &str) -> String {
    let mut out = String::new();
    for &b in key.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The CSV text of `objects` (every field quoted, no header), with the full AWS schema.
fn csv_text(objects: &[Obj]) -> String {
    let mut out = String::new();
    for o in objects {
        let b = |v: bool| if v { "true" } else { "false" };
        let fields = [
            BUCKET.to_string(),
            url_encode(o.key),
            "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".to_string(),
            b(o.latest).to_string(),
            b(o.delete_marker).to_string(),
            o.size.map(|s| s.to_string()).unwrap_or_default(),
            "2024-01-02T03:04:05.000Z".to_string(),
            o.etag.unwrap_or_default().to_string(),
            "STANDARD".to_string(),
            b(o.multipart).to_string(),
            String::new(),
            o.encryption.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "DISABLED".to_string(),
            "CRC64NVME".to_string(),
        ];
        let quoted: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), GzLevel::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `data` as several gzip members, one after the other, as AWS may write a large file.
fn gzip_members(data: &[u8], pieces: usize) -> Vec<u8> {
    let step = data.len().div_ceil(pieces).max(1);
    data.chunks(step).flat_map(gzip).collect()
}

/// A data file of a manifest: its key and bytes.
struct Data {
    key: String,
    bytes: Vec<u8>,
}

fn data(name: &str, bytes: Vec<u8>) -> Data {
    Data { key: format!("{PREFIX}/data/{name}"), bytes }
}

fn manifest_json(format: &str, schema: &str, files: &[Data]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|d| {
            serde_json::json!({
                "key": d.key,
                "size": d.bytes.len(),
                "MD5checksum": Md5Digest::of(&d.bytes).to_string(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "sourceBucket": BUCKET,
        "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
        "version": "2016-11-30",
        "creationTimestamp": "1514944800000",
        "fileFormat": format,
        "fileSchema": schema,
        "files": files,
    }))
    .unwrap()
}

/// How the report is laid out on disk.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// `aws s3 sync s3://DEST/PREFIX/ local/`: `local/TS/manifest.json`, `local/data/NAME`.
    Sync,
    /// The whole destination bucket synced: `root/PREFIX/TS/manifest.json`, `root/PREFIX/data/NAME`.
    Bucket,
    /// Everything in one folder.
    Flat,
    /// The manifest and the `data` folder in one folder.
    Beside,
}

/// Writes the manifest and data files; returns the manifest's path and each data file's path.
fn write_report(dir: &Path, layout: Place, manifest: &str, files: &[Data]) -> (PathBuf, Vec<PathBuf>) {
    let (mfolder, dfolder) = match layout {
        Place::Sync => (dir.join("2016-11-06T21-32Z"), dir.join("data")),
        Place::Bucket => (dir.join(PREFIX).join("2016-11-06T21-32Z"), dir.join(PREFIX).join("data")),
        Place::Flat => (dir.to_path_buf(), dir.to_path_buf()),
        Place::Beside => (dir.to_path_buf(), dir.join("data")),
    };
    std::fs::create_dir_all(&mfolder).unwrap();
    std::fs::create_dir_all(&dfolder).unwrap();
    let mpath = mfolder.join("manifest.json");
    std::fs::write(&mpath, manifest).unwrap();
    let mut paths = Vec::new();
    for d in files {
        let p = dfolder.join(d.key.rsplit('/').next().unwrap());
        std::fs::write(&p, &d.bytes).unwrap();
        paths.push(p);
    }
    (mpath, paths)
}

/// Reads everything; panics on a bad entry, which these readers never produce.
fn read_all(source: impl Source) -> Result<(Vec<Entry>, Skipped), ListingError> {
    let mut entries = Vec::new();
    let skipped = source.read(&mut |e: Result<Entry, BadEntry>| {
        entries.push(e.expect("inventory readers stop on errors; they give no bad entries"));
        ControlFlow::Continue(())
    })?;
    Ok((entries, skipped))
}

#[test]
fn csv_report_in_every_layout() {
    let objs = objects();
    let (a, b) = objs.split_at(7);
    for layout in [Place::Sync, Place::Bucket, Place::Flat, Place::Beside] {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            data("939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz", gzip(csv_text(a).as_bytes())),
            // A large file written as several gzip members.
            data("0f5b6a44-1111-4ba8-87bd-9db705a579ce.csv.gz", gzip_members(csv_text(b).as_bytes(), 3)),
        ];
        let (mpath, paths) = write_report(dir.path(), layout, &manifest_json("CSV", SCHEMA, &files), &files);
        let inv = Inventory::open(&mpath).unwrap();
        assert_eq!(inv.format(), FileFormat::Csv);
        assert_eq!(inv.source_bucket(), BUCKET);
        assert_eq!(inv.version(), Some("2016-11-30"));
        assert_eq!(inv.creation_timestamp(), Some("1514944800000"));
        assert_eq!(inv.destination_bucket(), Some("arn:aws:s3:::example-inventory-destination-bucket"));
        let found: Vec<&Path> = inv.data_files().iter().map(|d| d.path.as_path()).collect();
        assert_eq!(found, paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(), "{layout:?}");
        assert_eq!(inv.data_files()[0].key, files[0].key);
        assert_eq!(inv.data_files()[1].size, files[1].bytes.len() as u64);

        let (got, skipped) = read_all(inv).unwrap();
        let (mut want, mut want_skipped) = expected(a, &paths[0]);
        let (want_b, skipped_b) = expected(b, &paths[1]);
        want.extend(want_b);
        want_skipped += skipped_b;
        assert_eq!(got, want, "{layout:?}");
        assert_eq!(skipped, want_skipped);
        assert_eq!((skipped.delete_markers, skipped.old_versions), (2, 1));
    }
}

#[test]
fn decodes_keys_plus_first_then_percent() {
    assert_eq!(super::csv::url_decode(b"a+b%2Bc%20d").unwrap(), b"a b+c d");
    assert_eq!(super::csv::url_decode(b"%25%2b%e6%97%a5").unwrap(), "%+日".as_bytes());
    assert_eq!(super::csv::url_decode(b"plain/key.txt").unwrap(), b"plain/key.txt");
    assert_eq!(super::csv::url_decode(b"").unwrap(), b"");
    for bad in [&b"100%"[..], b"%2", b"%zz", b"a%g0", b"%%41"] {
        let e = super::csv::url_decode(bad).unwrap_err();
        assert!(e.contains("URL-encoded"), "{e}");
    }
    for key in ["a b+c%d", "naïve 日本/x y", "~!*'();:@&$,?#[]", "+%+"] {
        assert_eq!(super::csv::url_decode(url_encode(key).as_bytes()).unwrap(), key.as_bytes());
    }
}

#[test]
fn a_schema_with_only_bucket_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("\"{BUCKET}\",\"a+b\"\n\"{BUCKET}\",\"c%2Fd\"\n");
    let files = vec![data("x.csv.gz", gzip(text.as_bytes()))];
    let (mpath, paths) =
        write_report(dir.path(), Place::Sync, &manifest_json("csv", "Bucket, Key", &files), &files);
    let (got, skipped) = read_all(Inventory::open(&mpath).unwrap()).unwrap();
    let mut a = Entry::new("a b");
    a.at = Some(At { file: paths[0].clone(), line: Some(1) });
    let mut c = Entry::new("c/d");
    c.at = Some(At { file: paths[0].clone(), line: Some(2) });
    assert_eq!(got, vec![a, c]);
    assert_eq!(skipped, Skipped::default());
}

#[test]
fn stops_when_the_sink_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let objs: Vec<Obj> = (0..50).map(|_| obj("k", 1, "0cc175b9c0f1b6a831c399e269772661")).collect();
    let files = vec![
        data("1.csv.gz", gzip(csv_text(&objs).as_bytes())),
        data("2.csv.gz", gzip(csv_text(&objs).as_bytes())),
    ];
    let (mpath, _) = write_report(dir.path(), Place::Sync, &manifest_json("CSV", SCHEMA, &files), &files);
    let mut seen = 0;
    let skipped = Inventory::open(&mpath)
        .unwrap()
        .read(&mut |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, 3);
    assert_eq!(skipped, Skipped::default());
}

#[test]
fn an_empty_report() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("empty.csv.gz", gzip(b""))];
    let (mpath, _) = write_report(dir.path(), Place::Sync, &manifest_json("CSV", SCHEMA, &files), &files);
    assert_eq!(read_all(Inventory::open(&mpath).unwrap()).unwrap(), (vec![], Skipped::default()));
    let (mpath, _) = write_report(dir.path(), Place::Flat, &manifest_json("CSV", SCHEMA, &[]), &[]);
    assert_eq!(read_all(Inventory::open(&mpath).unwrap()).unwrap(), (vec![], Skipped::default()));
}

// ---------- broken reports ----------

/// A CSV report of `text` (gzip), read from the sync layout: the error, and the data file's path.
fn csv_error_of(bytes: Vec<u8>) -> (ListingError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("d.csv.gz", bytes)];
    let (mpath, paths) = write_report(dir.path(), Place::Sync, &manifest_json("CSV", SCHEMA, &files), &files);
    let e = read_all(Inventory::open(&mpath).unwrap()).unwrap_err();
    (e, paths[0].clone())
}

/// The error is a format error at `file`, row `line`, saying `what`.
#[track_caller]
fn assert_format(e: &ListingError, file: &Path, line: Option<u64>, what: &str) {
    match e {
        ListingError::Format { at, what: w } => {
            assert_eq!(at.file, file, "{e}");
            assert_eq!(at.line, line, "{e}");
            assert!(w.contains(what), "{e}: expected it to say {what:?}");
        }
        _ => panic!("expected a format error, got {e:?}"),
    }
    assert!(e.to_string().contains(&file.display().to_string()), "{e}");
}

#[test]
fn wrong_column_count() {
    let mut text = csv_text(&objects()[..3]);
    text.push_str(&format!("\"{BUCKET}\",\"short\",\"row\"\n"));
    let (e, path) = csv_error_of(gzip(text.as_bytes()));
    assert_format(&e, &path, Some(4), "expected 18 columns");
    assert!(e.to_string().contains("found 3"), "{e}");
}

#[test]
fn bad_size_and_booleans_and_keys() {
    let good = csv_text(&objects()[..1]);
    let cases: [(&str, &str, &str); 5] = [
        ("\"11\"", "\"eleven\"", "column Size: expected a whole number of bytes, found \"eleven\""),
        ("\"11\"", "\"-1\"", "column Size"),
        ("\"true\",\"false\",\"11\"", "\"yes\",\"false\",\"11\"", "column IsLatest: expected true or false"),
        ("\"plain.txt\"", "\"bad%zzkey\"", "column Key: expected a URL-encoded key"),
        (BUCKET, "other-bucket", "sourceBucket"),
    ];
    for (from, to, what) in cases {
        assert!(good.contains(from), "{from}");
        let text = format!("{good}{}", good.replacen(from, to, 1));
        let (e, path) = csv_error_of(gzip(text.as_bytes()));
        assert_format(&e, &path, Some(2), what);
    }
}

#[test]
fn broken_gzip_streams() {
    let text = csv_text(&objects());
    let whole = gzip(text.as_bytes());

    // Truncated: the MD5 in the manifest is that of the truncated file (AWS never writes one,
    // so only a report whose manifest was rewritten too gets this far).
    let (e, path) = csv_error_of(whole[..whole.len() / 2].to_vec());
    assert_format(&e, &path, e_line(&e), "broken gzip stream");
    // The trailer cut off: every row read, then the stream ends short.
    let (e, path) = csv_error_of(whole[..whole.len() - 4].to_vec());
    assert_format(&e, &path, e_line(&e), "broken gzip stream");

    // Corrupt: bytes of the deflate data changed.
    let mut corrupt = whole.clone();
    for b in &mut corrupt[20..40] {
        *b ^= 0x5a;
    }
    let (e, path) = csv_error_of(corrupt);
    assert_format(&e, &path, e_line(&e), "broken gzip stream");

    // Not gzip at all.
    let (e, path) = csv_error_of(text.into_bytes());
    assert_format(&e, &path, Some(1), "broken gzip stream");
}

fn e_line(e: &ListingError) -> Option<u64> {
    match e {
        ListingError::Format { at, .. } => {
            assert!(at.line.is_some(), "{e}");
            at.line
        }
        _ => panic!("expected a format error, got {e:?}"),
    }
}

#[test]
fn a_row_too_long() {
    // Past the limit and the CSV reader's buffer (64 KiB).
    let key = "k".repeat(ROW_MAX as usize + (128 << 10));
    let text = format!("\"{BUCKET}\",\"{key}\"\n");
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("x.csv.gz", gzip(text.as_bytes()))];
    let (mpath, paths) =
        write_report(dir.path(), Place::Sync, &manifest_json("CSV", "Bucket, Key", &files), &files);
    let Err(e) = read_all(Inventory::open(&mpath).unwrap()) else {
        panic!("a row of {} bytes was read", text.len())
    };
    assert_format(&e, &paths[0], Some(1), "a row longer than");
}

#[test]
fn a_damaged_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("d.csv.gz", gzip(csv_text(&objects()).as_bytes()))];
    let (mpath, paths) = write_report(dir.path(), Place::Sync, &manifest_json("CSV", SCHEMA, &files), &files);
    // Another valid report's bytes in its place: same size, other MD5.
    let mut other = files[0].bytes.clone();
    let n = other.len();
    other[n - 8] ^= 1; // the CRC of the gzip trailer
    std::fs::write(&paths[0], &other).unwrap();
    let e = read_all(Inventory::open(&mpath).unwrap()).unwrap_err();
    match &e {
        ListingError::DataFileDamaged { path, manifest, expected, actual } => {
            assert_eq!(path, &paths[0]);
            assert_eq!(manifest, &mpath);
            assert_eq!(expected, &Md5Digest::of(&files[0].bytes).to_string());
            assert_eq!(actual, &Md5Digest::of(&other).to_string());
        }
        _ => panic!("expected DataFileDamaged, got {e:?}"),
    }
    assert!(e.to_string().contains(&paths[0].display().to_string()));

    // Shorter: damaged, with its MD5, before a row is read.
    std::fs::write(&paths[0], &files[0].bytes[..10]).unwrap();
    let mut rows = 0;
    let e = Inventory::open(&mpath)
        .unwrap()
        .read(&mut |_| {
            rows += 1;
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(matches!(e, ListingError::DataFileDamaged { .. }), "{e:?}");
    assert_eq!(rows, 0);
}

#[test]
fn a_manifest_whose_size_contradicts_its_md5() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("d.csv.gz", gzip(csv_text(&objects()).as_bytes()))];
    let text = manifest_json("CSV", SCHEMA, &files)
        .replace(&format!("\"size\": {}", files[0].bytes.len()), "\"size\": 5");
    let (mpath, _) = write_report(dir.path(), Place::Sync, &text, &files);
    let e = read_all(Inventory::open(&mpath).unwrap()).unwrap_err();
    assert_format(&e, &mpath, None, "size");
}

#[test]
fn a_missing_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("d.csv.gz", gzip(b""))];
    let (mpath, paths) = write_report(dir.path(), Place::Sync, &manifest_json("CSV", SCHEMA, &files), &files);
    std::fs::remove_file(&paths[0]).unwrap();
    // A directory where the file should be is not the file.
    std::fs::create_dir(&paths[0]).unwrap();
    let e = Inventory::open(&mpath).unwrap_err();
    let mfolder = mpath.parent().unwrap();
    match &e {
        ListingError::DataFileMissing { manifest, key, looked } => {
            assert_eq!(manifest, &mpath);
            assert_eq!(key, &files[0].key);
            assert_eq!(
                looked,
                &vec![
                    dir.path().join("data/d.csv.gz"),
                    mfolder.join("data/d.csv.gz"),
                    mfolder.join("d.csv.gz")
                ]
            );
        }
        _ => panic!("expected DataFileMissing, got {e:?}"),
    }
    assert!(e.to_string().contains("d.csv.gz"), "{e}");
}

#[test]
fn hostile_data_file_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A file that a key with `..` would reach.
    std::fs::write(dir.path().join("secret"), b"not a data file").unwrap();
    for key in [
        "../../etc/passwd",
        "../secret",
        "inventory/../../secret",
        "a/../secret",
        "..",
        "data\\..\\secret",
        "nul\0byte",
        "/",
        "",
    ] {
        let files = [Data { key: key.to_string(), bytes: b"not a data file".to_vec() }];
        let text = manifest_json("CSV", SCHEMA, &files);
        let mfolder = dir.path().join("m/2016-11-06T21-32Z");
        std::fs::create_dir_all(&mfolder).unwrap();
        let mpath = mfolder.join("manifest.json");
        std::fs::write(&mpath, text).unwrap();
        let e = Inventory::open(&mpath).unwrap_err();
        assert_format(&e, &mpath, None, "files[0].key");
    }
}

#[test]
fn keys_that_locate_data_files() {
    assert_eq!(key_names("a/b/data/x.csv.gz").unwrap(), ["data", "x.csv.gz"]);
    assert_eq!(key_names("x.csv.gz").unwrap(), ["x.csv.gz"]);
    assert_eq!(key_names("/a//b/./x").unwrap(), ["b", "x"]);
    assert!(key_names("a/").is_ok());
    let c = candidates(Path::new("r/2016-11-06T21-32Z"), &["data", "x"]);
    assert_eq!(
        c,
        [
            PathBuf::from("r/data/x"),
            PathBuf::from("r/2016-11-06T21-32Z/data/x"),
            PathBuf::from("r/2016-11-06T21-32Z/x")
        ]
    );
    // A manifest named without a folder: its folder is `.`, whose parent is `./..`.
    let c = candidates(&manifest_folder(Path::new("manifest.json")), &["data", "x"]);
    assert_eq!(c, [PathBuf::from("./../data/x"), PathBuf::from("./data/x"), PathBuf::from("./x")]);
    assert_eq!(parent_of(Path::new("a")), PathBuf::from("."));
    assert_eq!(parent_of(Path::new("/")), PathBuf::from("/.."));
    assert_eq!(candidates(Path::new("m"), &["x"]), [PathBuf::from("./x"), PathBuf::from("m/x")]);
}

#[test]
fn broken_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let write = |text: &str| {
        let p = dir.path().join("manifest.json");
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = manifest_json("CSV", SCHEMA, &[]);
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut v = v.clone();
        f(v.as_object_mut().unwrap());
        serde_json::to_string(&v).unwrap()
    };

    // ORC: unsupported, naming the format.
    let p = write(&with(&|m| {
        m.insert("fileFormat".into(), "ORC".into());
    }));
    match Inventory::open(&p).unwrap_err() {
        ListingError::Unsupported { path, format } => {
            assert_eq!(path, p);
            assert_eq!(format, "ORC");
        }
        e => panic!("expected Unsupported, got {e:?}"),
    }

    // Malformed JSON: the line of the fault.
    let p = write(&good[..good.len() / 2]);
    let e = Inventory::open(&p).unwrap_err();
    assert_format(&e, &p, e_line(&e), "expected the JSON of an S3 Inventory manifest");
    let p = write("[1, 2]");
    assert_format(&Inventory::open(&p).unwrap_err(), &p, None, "expected a JSON object");

    let cases: Vec<(String, &str)> = vec![
        (with(&|m| drop(m.remove("files"))), "field `files`: missing"),
        (with(&|m| drop(m.insert("files".into(), "x".into()))), "field `files`: expected a list"),
        (with(&|m| drop(m.remove("sourceBucket"))), "field `sourceBucket`: missing"),
        (
            with(&|m| drop(m.insert("sourceBucket".into(), 3.into()))),
            "field `sourceBucket`: expected a string",
        ),
        (with(&|m| drop(m.remove("fileFormat"))), "field `fileFormat`: missing"),
        (
            with(&|m| drop(m.insert("fileFormat".into(), "JSON".into()))),
            "field `fileFormat`: expected CSV, Parquet or ORC",
        ),
        (with(&|m| drop(m.remove("fileSchema"))), "field `fileSchema`: missing"),
        (
            with(&|m| drop(m.insert("fileSchema".into(), "Bucket, Size".into()))),
            "field `fileSchema`: no Key column",
        ),
        (
            with(&|m| drop(m.insert("fileSchema".into(), "Bucket, Key, , Size".into()))),
            "field `fileSchema`: column 3 has no name",
        ),
        (with(&|m| drop(m.insert("fileSchema".into(), "Bucket, Key, key".into()))), "named twice"),
        (with(&|m| drop(m.insert("creationTimestamp".into(), true.into()))), "field `creationTimestamp`"),
        (
            with(&|m| drop(m.insert("files".into(), serde_json::json!([{"key": "k", "size": 1}])))),
            "field `files[0].MD5checksum`: missing",
        ),
        (
            with(&|m| {
                drop(m.insert("files".into(), serde_json::json!([{"key": "k", "size": 1, "MD5checksum": "5925f4e78e1695c2d020b9f6eexample"}])))
            }),
            "field `files[0].MD5checksum`: expected 32 hexadecimal digits",
        ),
        (
            with(&|m| {
                drop(m.insert("files".into(), serde_json::json!([{"key": "k", "size": -1, "MD5checksum": "d41d8cd98f00b204e9800998ecf8427e"}])))
            }),
            "field `files[0].size`: expected a whole number",
        ),
        (
            with(&|m| {
                drop(m.insert(
                    "files".into(),
                    serde_json::json!([{"size": 1, "MD5checksum": "d41d8cd98f00b204e9800998ecf8427e"}]),
                ))
            }),
            "field `files[0].key`: missing",
        ),
        (
            with(&|m| drop(m.insert("files".into(), serde_json::json!([7])))),
            "field `files[0]`: expected an object",
        ),
    ];
    for (text, what) in cases {
        let p = write(&text);
        let e = Inventory::open(&p).unwrap_err();
        assert_format(&e, &p, None, what);
    }

    // A manifest too large to be one.
    let p = dir.path().join("manifest.json");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(MANIFEST_MAX + 1).unwrap();
    assert_format(&Inventory::open(&p).unwrap_err(), &p, None, "at most");

    // No manifest at all.
    let e = Inventory::open(&dir.path().join("nope.json")).unwrap_err();
    assert!(matches!(e, ListingError::Io { .. }), "{e:?}");
}

#[test]
fn encryption_statuses() {
    assert_eq!(sse(b"NOT-SSE"), Sse::None);
    assert_eq!(sse(b"SSE-S3"), Sse::S3);
    assert_eq!(sse(b"SSE-KMS"), Sse::Kms);
    assert_eq!(sse(b"DSSE-KMS"), Sse::Kms);
    assert_eq!(sse(b"sse-c"), Sse::C);
    assert_eq!(sse(b"SSE-SOMETHING-NEW"), Sse::Unknown);
    assert_eq!(sse(b""), Sse::Unknown);
}

// ---------- Parquet ----------

const PARQUET_SCHEMA: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; optional binary replication_status (UTF8); optional binary encryption_status (UTF8); optional int64 object_lock_retain_until_date (TIMESTAMP_MILLIS); optional binary object_lock_mode (UTF8); optional binary object_lock_legal_hold_status (UTF8); optional binary intelligent_tiering_access_tier (UTF8); optional binary bucket_key_status (UTF8); optional binary checksum_algorithm (UTF8); }";

/// A column's values: `None` is a null.
enum Col {
    Text(Vec<Option<String>>),
    Long(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

/// The column `name` of `objs`, as AWS fills it.
fn column(name: &str, objs: &[Obj]) -> Col {
    let text = |f: &dyn Fn(&Obj) -> Option<String>| Col::Text(objs.iter().map(f).collect());
    match name {
        "bucket" => text(&|_| Some(BUCKET.into())),
        "key" => text(&|o| Some(o.key.into())),
        "version_id" => text(&|_| Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".into())),
        "is_latest" => Col::Bool(objs.iter().map(|o| Some(o.latest)).collect()),
        "is_delete_marker" => Col::Bool(objs.iter().map(|o| Some(o.delete_marker)).collect()),
        "size" => Col::Long(objs.iter().map(|o| o.size.map(|s| s as i64)).collect()),
        "last_modified_date" | "object_lock_retain_until_date" => {
            Col::Long(objs.iter().map(|_| Some(1_700_000_000_000)).collect())
        }
        "e_tag" => text(&|o| o.etag.map(str::to_string)),
        "storage_class" => text(&|_| Some("STANDARD".into())),
        "is_multipart_uploaded" => Col::Bool(objs.iter().map(|o| Some(o.multipart)).collect()),
        "encryption_status" => text(&|o| (!o.encryption.is_empty()).then(|| o.encryption.to_string())),
        _ => text(&|_| None),
    }
}

/// A Parquet file of `objs` with `schema`, in row groups of `group` rows.
fn parquet_file(
    schema: &str,
    objs: &[Obj],
    group: usize,
    compression: Compression,
    dictionary: bool,
) -> Vec<u8> {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder().set_compression(compression).set_dictionary_enabled(dictionary).build(),
    );
    let mut out = Vec::new();
    let mut w = SerializedFileWriter::new(&mut out, Arc::clone(&schema), props).unwrap();
    for chunk in objs.chunks(group.max(1)) {
        let mut g = w.next_row_group().unwrap();
        for field in schema.get_fields() {
            let mut c = g.next_column().unwrap().unwrap();
            let optional = field.is_optional();
            let defs = |present: Vec<bool>| -> Option<Vec<i16>> {
                optional.then(|| present.iter().map(|&p| i16::from(p)).collect())
            };
            let mut col = column(field.name(), chunk);
            // A column declared as text gets the values as text, as a writer that typed them so
            // would write them.
            if field.is_primitive() && field.get_physical_type() == ::parquet::basic::Type::BYTE_ARRAY {
                col = match col {
                    Col::Long(v) => Col::Text(v.into_iter().map(|x| x.map(|x| x.to_string())).collect()),
                    Col::Bool(v) => Col::Text(v.into_iter().map(|x| x.map(|x| x.to_string())).collect()),
                    text => text,
                };
            }
            match col {
                Col::Text(v) => {
                    let d = defs(v.iter().map(Option::is_some).collect());
                    let vals: Vec<ByteArray> =
                        v.into_iter().flatten().map(|s| ByteArray::from(s.as_str())).collect();
                    c.typed::<ByteArrayType>().write_batch(&vals, d.as_deref(), None).unwrap();
                }
                Col::Long(v) => {
                    let d = defs(v.iter().map(Option::is_some).collect());
                    let vals: Vec<i64> = v.into_iter().flatten().collect();
                    c.typed::<Int64Type>().write_batch(&vals, d.as_deref(), None).unwrap();
                }
                Col::Bool(v) => {
                    let d = defs(v.iter().map(Option::is_some).collect());
                    let vals: Vec<bool> = v.into_iter().flatten().collect();
                    c.typed::<BoolType>().write_batch(&vals, d.as_deref(), None).unwrap();
                }
            }
            c.close().unwrap();
        }
        g.close().unwrap();
    }
    w.close().unwrap();
    out
}

#[test]
fn parquet_reports_with_every_codec() {
    let objs = objects();
    let codecs = [
        (Compression::SNAPPY, true),
        (Compression::SNAPPY, false),
        (Compression::GZIP(Default::default()), true),
        (Compression::ZSTD(ZstdLevel::default()), true),
        (Compression::UNCOMPRESSED, false),
    ];
    for (codec, dictionary) in codecs {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            data("a.parquet", parquet_file(PARQUET_SCHEMA, &objs, 5, codec, dictionary)),
            data("b.parquet", parquet_file(PARQUET_SCHEMA, &objs[..3], 100, codec, dictionary)),
        ];
        let (mpath, paths) =
            write_report(dir.path(), Place::Sync, &manifest_json("Parquet", PARQUET_SCHEMA, &files), &files);
        let inv = Inventory::open(&mpath).unwrap();
        assert_eq!(inv.format(), FileFormat::Parquet);
        let (got, skipped) = read_all(inv).unwrap();
        let (mut want, mut want_skipped) = expected(&objs, &paths[0]);
        let (want_b, skipped_b) = expected(&objs[..3], &paths[1]);
        want.extend(want_b);
        want_skipped += skipped_b;
        assert_eq!(got, want, "{codec:?}");
        assert_eq!(skipped, want_skipped);
    }
}

#[test]
fn parquet_with_few_columns_of_other_types() {
    // What pyarrow writes for a table of strings, int32 sizes and no versions: optional
    // columns, no logical-type surprises.
    let schema = "message schema { optional binary bucket (STRING); optional binary key; optional int32 size; optional binary e_tag (STRING); }";
    let objs = [
        obj("a b+c%d", 3, "900150983cd24fb0d6963f7d28e17f72"),
        obj("日本", 0, "d41d8cd98f00b204e9800998ecf8427e"),
    ];
    let schema_t = Arc::new(parse_message_type(schema).unwrap());
    let mut out = Vec::new();
    let props = Arc::new(WriterProperties::builder().build());
    let mut w = SerializedFileWriter::new(&mut out, schema_t, props).unwrap();
    let mut g = w.next_row_group().unwrap();
    let texts = |v: Vec<&str>| v.into_iter().map(ByteArray::from).collect::<Vec<_>>();
    let mut c = g.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>().write_batch(&texts(vec![BUCKET, BUCKET]), Some(&[1, 1]), None).unwrap();
    c.close().unwrap();
    let mut c = g.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>()
        .write_batch(&texts(vec![objs[0].key, objs[1].key]), Some(&[1, 1]), None)
        .unwrap();
    c.close().unwrap();
    let mut c = g.next_column().unwrap().unwrap();
    c.typed::<::parquet::data_type::Int32Type>().write_batch(&[3, 0], Some(&[1, 1]), None).unwrap();
    c.close().unwrap();
    let mut c = g.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>().write_batch(&texts(vec![objs[0].etag.unwrap()]), Some(&[1, 0]), None).unwrap();
    c.close().unwrap();
    g.close().unwrap();
    w.close().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("p.parquet", out)];
    let (mpath, paths) =
        write_report(dir.path(), Place::Flat, &manifest_json("PARQUET", schema, &files), &files);
    let (got, skipped) = read_all(Inventory::open(&mpath).unwrap()).unwrap();
    let mut a = Entry::new("a b+c%d");
    a.size = Some(3);
    a.etag = Some("900150983cd24fb0d6963f7d28e17f72".into());
    a.at = Some(At { file: paths[0].clone(), line: Some(1) });
    let mut b = Entry::new("日本");
    b.size = Some(0);
    b.at = Some(At { file: paths[0].clone(), line: Some(2) });
    assert_eq!(got, vec![a, b]);
    assert_eq!(skipped, Skipped::default());
}

#[test]
fn broken_parquet_files() {
    let objs = objects();
    let read = |bytes: Vec<u8>| {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![data("p.parquet", bytes)];
        let (mpath, paths) =
            write_report(dir.path(), Place::Sync, &manifest_json("Parquet", "", &files), &files);
        (read_all(Inventory::open(&mpath).unwrap()).unwrap_err(), paths[0].clone())
    };

    let (e, p) = read(b"PAR1 not really".to_vec());
    assert_format(&e, &p, None, "expected a Parquet file");
    let (e, p) = read(gzip(csv_text(&objs).as_bytes()));
    assert_format(&e, &p, None, "expected a Parquet file");

    let no_key = "message m { required binary bucket (UTF8); optional int64 size; }";
    let (e, p) = read(parquet_file(no_key, &objs, 10, Compression::SNAPPY, true));
    assert_format(&e, &p, None, "no column key");

    let text_size = "message m { required binary bucket (UTF8); required binary key (UTF8); optional binary size (UTF8); }";
    let (e, p) = read(parquet_file(text_size, &objs, 10, Compression::SNAPPY, true));
    assert_format(&e, &p, Some(1), "column size: expected a whole number of bytes");

    let text_bool = "message m { required binary bucket (UTF8); required binary key (UTF8); optional binary is_latest (UTF8); }";
    let (e, p) = read(parquet_file(text_bool, &objs, 10, Compression::SNAPPY, true));
    assert_format(&e, &p, Some(1), "column is_latest: expected true or false");

    let nested =
        "message m { required binary bucket (UTF8); required group key { required binary a (UTF8); } }";
    let (e, p) = read(parquet_file(nested, &[], 10, Compression::SNAPPY, true));
    assert_format(&e, &p, None, "column key: expected a single value per row");

    // A codec this build does not read, named (the parquet crate's writer cannot write it either:
    // the file was written by pyarrow 26, as `pyarrow_default_output` below but with brotli).
    let (e, p) = read(include_bytes!("testdata/pyarrow-brotli.parquet").to_vec());
    assert_format(&e, &p, Some(1), "column bucket is compressed with brotli");
    assert!(e.to_string().contains("expected snappy, gzip, zstd or none"), "{e}");

    // A page cut short: the file is what the manifest says, but not a whole Parquet file.
    let whole = parquet_file(PARQUET_SCHEMA, &objs, 100, Compression::SNAPPY, true);
    let mut cut = whole[..whole.len() / 3].to_vec();
    cut.extend_from_slice(&whole[whole.len() / 3 * 2..]);
    let (e, p) = read(cut);
    assert!(matches!(&e, ListingError::Format { at, .. } if at.file == p), "{e:?}");

    // A row of another bucket.
    let mut other = objs.clone();
    other.truncate(2);
    let bytes = parquet_file(PARQUET_SCHEMA, &other, 10, Compression::SNAPPY, true);
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("p.parquet", bytes)];
    let text = manifest_json("Parquet", "", &files).replace(BUCKET, "another-bucket");
    let (mpath, paths) = write_report(dir.path(), Place::Sync, &text, &files);
    let e = read_all(Inventory::open(&mpath).unwrap()).unwrap_err();
    assert_format(&e, &paths[0], Some(1), "sourceBucket");
}

#[test]
fn parquet_stops_when_the_sink_breaks() {
    let objs: Vec<Obj> = (0..40).map(|_| obj("k", 1, "0cc175b9c0f1b6a831c399e269772661")).collect();
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("p.parquet", parquet_file(PARQUET_SCHEMA, &objs, 7, Compression::SNAPPY, true))];
    let (mpath, _) = write_report(dir.path(), Place::Sync, &manifest_json("Parquet", "", &files), &files);
    let mut seen = 0;
    Inventory::open(&mpath)
        .unwrap()
        .read(&mut |_| {
            seen += 1;
            if seen == 10 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, 10);
}

#[test]
fn pyarrow_default_output() {
    // Written by pyarrow 26 with `pq.write_table(table)`, its defaults: snappy, dictionary pages,
    // optional columns; `bucket` and `key` as large_string. The table:
    //   bucket: example-source-bucket ×4
    //   key:    "a b+c%d", "naïve/日本.txt", "gone", "old"
    //   is_latest: T, T, T, F;  is_delete_marker: F, F, T, F;  size: 3, 0, null, 9
    //   e_tag: 900150983cd24fb0d6963f7d28e17f72, d41d8cd98f00b204e9800998ecf8427e, null, x
    //   is_multipart_uploaded: F, T, null, F;  encryption_status: SSE-KMS, NOT-SSE, null, NOT-SSE
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("p.parquet", include_bytes!("testdata/pyarrow-default.parquet").to_vec())];
    let (mpath, paths) = write_report(dir.path(), Place::Sync, &manifest_json("Parquet", "", &files), &files);
    let (got, skipped) = read_all(Inventory::open(&mpath).unwrap()).unwrap();
    let mut a = Entry::new("a b+c%d");
    a.size = Some(3);
    a.etag = Some("900150983cd24fb0d6963f7d28e17f72".into());
    a.multipart = Some(false);
    a.sse = Sse::Kms;
    a.at = Some(At { file: paths[0].clone(), line: Some(1) });
    let mut b = Entry::new("naïve/日本.txt");
    b.size = Some(0);
    b.etag = Some("d41d8cd98f00b204e9800998ecf8427e".into());
    b.multipart = Some(true);
    b.sse = Sse::None;
    b.at = Some(At { file: paths[0].clone(), line: Some(2) });
    assert_eq!(got, vec![a, b]);
    assert_eq!((skipped.delete_markers, skipped.old_versions), (1, 1));
}

#[test]
fn a_zero_byte_csv_data_file_is_not_a_gzip_stream() {
    let (e, path) = csv_error_of(Vec::new());
    assert_format(&e, &path, Some(1), "broken gzip stream");
}

#[test]
fn a_parquet_file_that_makes_the_reader_panic() {
    // `pyarrow-default.parquet` with a few bytes changed (found by mutating it): a data page that
    // uses a dictionary its column chunk lacks, on which parquet 60's record reader panics. The
    // panic is this file's format error.
    let dir = tempfile::tempdir().unwrap();
    let files = vec![data("p.parquet", include_bytes!("testdata/dictionary-missing.parquet").to_vec())];
    let (mpath, paths) = write_report(dir.path(), Place::Sync, &manifest_json("Parquet", "", &files), &files);
    let e = read_all(Inventory::open(&mpath).unwrap()).unwrap_err();
    assert!(matches!(&e, ListingError::Format { at, .. } if at.file == paths[0]), "{e:?}");
}
