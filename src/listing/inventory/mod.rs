//! S3 Inventory reports: `manifest.json` and the data files it names (CSV gzip, Parquet).
//!
//! # The manifest
//!
//! [`Inventory::open`] reads `manifest.json` as AWS writes it: `sourceBucket`, `fileFormat`
//! (`CSV` or `Parquet`, in any case; `ORC` is refused with [`ListingError::Unsupported`]),
//! `fileSchema` (for CSV, the column names in order) and `files`, each with its `key` in the
//! destination bucket, its `size` and its `MD5checksum`. `destinationBucket`, `version` and
//! `creationTimestamp` are kept when present. A missing or malformed field is a
//! [`ListingError::Format`] that names the manifest and the field. A manifest larger than
//! [`MANIFEST_MAX`] bytes is refused before it is parsed: AWS's stay far below.
//!
//! # Where the data files are
//!
//! `aws s3 sync s3://DEST/PREFIX/SOURCE/CONFIG/ local/` puts the manifest of the report at
//! `local/2016-11-06T21-32Z/manifest.json` and a data file whose key is
//! `PREFIX/SOURCE/CONFIG/data/UUID.csv.gz` at `local/data/UUID.csv.gz`. Synced from any other
//! point (the bucket's root, `PREFIX/`, `PREFIX/SOURCE/`) the data file is still in the folder
//! `data` beside the manifest's folder. So for a key whose last two segments are `DIR/FILE`
//! (`data/UUID.csv.gz`), with the manifest in the folder `M`, the data file is looked for at,
//! in this order:
//!
//! 1. `M/../DIR/FILE`: where `aws s3 sync` put it, whatever the root of the sync;
//! 2. `M/DIR/FILE`: the manifest and the `data` folder copied into one folder;
//! 3. `M/FILE`: the manifest and the data files copied flat into one folder.
//!
//! The first regular file found is the data file; none is [`ListingError::DataFileMissing`],
//! listing the three paths. Empty and `.` segments of the key are ignored (a file system reads
//! `a//b` and `a/./b` as `a/b`); a key with a `..` segment, a backslash, a NUL byte or a segment
//! that the platform would read as a root or a drive is a [`ListingError::Format`]: no key of a
//! manifest, however hostile, names a file outside the manifest's folder and its parent.
//!
//! # The data files
//!
//! Before a data file is read, its MD5 (of the bytes as stored, compressed) is computed and
//! compared with the manifest's `MD5checksum`, and its size with `size`: a file that differs
//! is [`ListingError::DataFileDamaged`], so nothing is checked against a listing that is not
//! the one AWS wrote. The data files are then read in the manifest's order, each streamed row by
//! row (see [`CsvData`] for CSV; Parquet files are read a row group at a time, through the
//! columns etagsum uses).
//!
//! Each row becomes one [`Entry`], with the data file and the row (1-based) in
//! [`Entry::at`], except:
//! - delete markers (`IsDeleteMarker` true), counted in [`Skipped::delete_markers`];
//! - versions that are not the current one (`IsLatest` false), counted in
//!   [`Skipped::old_versions`].
//!
//! `Size`, `ETag` (without quotes, as AWS writes it), `IsMultipartUploaded` and
//! `EncryptionStatus` fill the entry when the report has them. `EncryptionStatus` maps to
//! [`Sse`]: `NOT-SSE` to [`Sse::None`], `SSE-S3` to [`Sse::S3`], `SSE-KMS` and `DSSE-KMS` to
//! [`Sse::Kms`], `SSE-C` to [`Sse::C`], and an empty or any other value to [`Sse::Unknown`]:
//! a value AWS adds later must not stop the check of a whole bucket, and an unknown encryption
//! can only make a verdict inconclusive, never a false match or a false mismatch. A row whose
//! `Bucket` is not the manifest's `sourceBucket` is a [`ListingError::Format`]: AWS lists only
//! the source bucket, so such a file is not part of this report.

mod csv;
mod parquet;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::{At, Entry, ListingError, Sink, Skipped, Source};
use crate::engine::{hash_file, EngineError, NoProgress, ReadOptions};
use crate::etag::Md5Digest;
use crate::layout::Layout;
use crate::verify::Sse;

pub use self::csv::{CsvData, CsvSchema, CsvSchemaError, ROW_MAX};

/// The largest `manifest.json` read, in bytes. A manifest names each data file in about 200
/// bytes, and AWS writes data files of hundreds of MB: 64 MiB of manifest would list some
/// 300,000 data files, tens of terabytes of listing.
pub const MANIFEST_MAX: u64 = 64 << 20;

/// The format of a report's data files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// Gzip-compressed CSV without a header row, keys URL-encoded.
    Csv,
    /// Apache Parquet, keys as they are.
    Parquet,
}

impl FileFormat {
    /// `CSV` or `Parquet`, as the manifest spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "CSV",
            FileFormat::Parquet => "Parquet",
        }
    }
}

/// One data file of a report: where the manifest says it is in the destination bucket, where
/// it was found, and what it must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataFile {
    /// Its key in the destination bucket, as the manifest gives it.
    pub key: String,
    /// Where it was found (see the [module](self) for the rule).
    pub path: PathBuf,
    /// Its size in bytes, as the manifest gives it.
    pub size: u64,
    /// Its MD5 (of the stored, compressed bytes), as the manifest gives it.
    pub md5: Md5Digest,
}

/// How the data files are read.
#[derive(Debug)]
enum Kind {
    Csv(CsvSchema),
    Parquet,
}

/// An S3 Inventory report, opened from its manifest: the manifest has been read and every data
/// file found, but no data file has been read yet. Reading it ([`Source::read`]) verifies each
/// data file against the manifest, then streams its rows.
#[derive(Debug)]
pub struct Inventory {
    manifest: PathBuf,
    source_bucket: String,
    destination_bucket: Option<String>,
    version: Option<String>,
    creation_timestamp: Option<String>,
    kind: Kind,
    files: Vec<DataFile>,
    read_options: ReadOptions,
}

impl Inventory {
    /// Reads the manifest at `manifest` and finds its data files (see the [module](self) for
    /// what is accepted and where data files are looked for).
    pub fn open(manifest: &Path) -> Result<Inventory, ListingError> {
        let text = read_manifest(manifest)?;
        let at = || At { file: manifest.to_path_buf(), line: None };
        let value: Value = serde_json::from_slice(&text).map_err(|e| {
            ListingError::format(
                At { file: manifest.to_path_buf(), line: Some(e.line() as u64) },
                format!("expected the JSON of an S3 Inventory manifest: {e}"),
            )
        })?;
        let Some(fields) = value.as_object() else {
            return Err(ListingError::format(
                at(),
                format!("expected a JSON object (an S3 Inventory manifest), found {}", what(&value)),
            ));
        };
        // A null is a field not given.
        let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let string = |name: &str, required: bool| -> Result<Option<String>, ListingError> {
            match field(name) {
                None if required => Err(ListingError::format(at(), format!("field `{name}`: missing"))),
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(ListingError::format(
                    at(),
                    format!("field `{name}`: expected a string, found {}", what(v)),
                )),
            }
        };

        let format_name = string("fileFormat", true)?.unwrap_or_default();
        let format = if format_name.eq_ignore_ascii_case("csv") {
            FileFormat::Csv
        } else if format_name.eq_ignore_ascii_case("parquet") {
            FileFormat::Parquet
        } else if format_name.eq_ignore_ascii_case("orc") {
            return Err(ListingError::Unsupported { path: manifest.to_path_buf(), format: format_name });
        } else {
            return Err(ListingError::format(
                at(),
                format!("field `fileFormat`: expected CSV, Parquet or ORC, found {format_name:?}"),
            ));
        };
        let source_bucket = string("sourceBucket", true)?.unwrap_or_default();
        if source_bucket.is_empty() {
            return Err(ListingError::format(
                at(),
                "field `sourceBucket`: expected a bucket name, found \"\"",
            ));
        }
        let destination_bucket = string("destinationBucket", false)?;
        let version = string("version", false)?;
        let creation_timestamp = match field("creationTimestamp") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(v) => {
                return Err(ListingError::format(
                    at(),
                    format!(
                        "field `creationTimestamp`: expected milliseconds since the epoch, found {}",
                        what(v)
                    ),
                ))
            }
        };
        let kind = match format {
            FileFormat::Csv => {
                let text = string("fileSchema", true)?.unwrap_or_default();
                let schema = CsvSchema::parse(&text)
                    .map_err(|e| ListingError::format(at(), format!("field `fileSchema`: {e}")))?;
                Kind::Csv(schema)
            }
            // A Parquet file carries its own schema, which is the one read.
            FileFormat::Parquet => {
                string("fileSchema", false)?;
                Kind::Parquet
            }
        };

        let list = match field("files") {
            None => {
                return Err(ListingError::format(
                    at(),
                    "field `files`: missing; expected the list of the report's data files",
                ))
            }
            Some(Value::Array(list)) => list,
            Some(v) => {
                return Err(ListingError::format(
                    at(),
                    format!("field `files`: expected a list of data files, found {}", what(v)),
                ))
            }
        };
        let folder = manifest_folder(manifest);
        let mut files = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let (key, size, md5) =
                data_file_fields(item, i).map_err(|what| ListingError::format(at(), what))?;
            let names = key_names(&key).map_err(|what| {
                ListingError::format(at(), format!("field `files[{i}].key`: the key {key:?} {what}"))
            })?;
            let looked = candidates(&folder, &names);
            let Some(path) = looked.iter().find(|p| p.is_file()).cloned() else {
                return Err(ListingError::DataFileMissing { manifest: manifest.to_path_buf(), key, looked });
            };
            files.push(DataFile { key, path, size, md5 });
        }

        Ok(Inventory {
            manifest: manifest.to_path_buf(),
            source_bucket,
            destination_bucket,
            version,
            creation_timestamp,
            kind,
            files,
            read_options: ReadOptions::default(),
        })
    }

    /// Hashes the data files with these options (memory, cancellation, kernel) instead of the
    /// defaults.
    pub fn with_read_options(mut self, options: ReadOptions) -> Inventory {
        self.read_options = options;
        self
    }

    /// The manifest's path, as given to [`open`](Inventory::open).
    pub fn manifest(&self) -> &Path {
        &self.manifest
    }

    /// The bucket the report lists (`sourceBucket`).
    pub fn source_bucket(&self) -> &str {
        &self.source_bucket
    }

    /// The bucket the report was delivered to (`destinationBucket`, an ARN), if the manifest
    /// says.
    pub fn destination_bucket(&self) -> Option<&str> {
        self.destination_bucket.as_deref()
    }

    /// The manifest's `version` (`2016-11-30`), if it says.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// When AWS began the scan of the bucket (`creationTimestamp`, milliseconds since the
    /// epoch, as written), if the manifest says.
    pub fn creation_timestamp(&self) -> Option<&str> {
        self.creation_timestamp.as_deref()
    }

    /// The format of the data files.
    pub fn format(&self) -> FileFormat {
        match self.kind {
            Kind::Csv(_) => FileFormat::Csv,
            Kind::Parquet => FileFormat::Parquet,
        }
    }

    /// The data files, in the manifest's order.
    pub fn data_files(&self) -> &[DataFile] {
        &self.files
    }

    /// Opens `data` and checks its size and MD5 against the manifest; the file comes back at
    /// its start. The file is hashed and read through one descriptor, so that what is read is
    /// what was hashed, unless it is rewritten in place meanwhile.
    fn open_verified(&self, data: &DataFile) -> Result<File, ListingError> {
        let io_err = |source| ListingError::Io { path: data.path.clone(), source };
        let mut file = File::open(&data.path).map_err(io_err)?;
        let size = file.metadata().map_err(io_err)?.len();
        let hashed = hash_file(&file, Some(size), &[Layout::Single], &self.read_options, &NoProgress)
            .map_err(|e| io_err(engine_to_io(e)))?;
        let actual = match hashed.etags.first() {
            Some(Ok(etag)) => etag.digest(),
            _ => return Err(io_err(io::Error::other("the data file's MD5 was not computed"))),
        };
        if actual != data.md5 {
            return Err(ListingError::DataFileDamaged {
                path: data.path.clone(),
                manifest: self.manifest.clone(),
                expected: data.md5.to_string(),
                actual: actual.to_string(),
            });
        }
        if hashed.size != data.size {
            // The bytes are the ones the manifest names, but not its size: the manifest
            // contradicts itself.
            return Err(ListingError::format(
                At { file: self.manifest.clone(), line: None },
                format!(
                    "field `files[].size` of {}: the manifest says {} bytes, but the file with its MD5 holds {}",
                    data.key, data.size, hashed.size
                ),
            ));
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Ok(file)
    }
}

impl Source for Inventory {
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        let mut skipped = Skipped::default();
        for data in &self.files {
            let file = self.open_verified(data)?;
            let (s, flow) = match &self.kind {
                Kind::Csv(schema) => CsvData::new(file, &data.path, schema.clone())
                    .source_bucket(self.source_bucket.clone())
                    .read_flow(sink)?,
                Kind::Parquet => parquet::read(file, &data.path, &self.source_bucket, sink)?,
            };
            skipped += s;
            if flow.is_break() {
                break;
            }
        }
        Ok(skipped)
    }
}

/// The manifest's bytes, at most [`MANIFEST_MAX`].
fn read_manifest(manifest: &Path) -> Result<Vec<u8>, ListingError> {
    let io_err = |source| ListingError::Io { path: manifest.to_path_buf(), source };
    let file = File::open(manifest).map_err(io_err)?;
    let mut text = Vec::new();
    file.take(MANIFEST_MAX + 1).read_to_end(&mut text).map_err(io_err)?;
    if text.len() as u64 > MANIFEST_MAX {
        return Err(ListingError::format(
            At { file: manifest.to_path_buf(), line: None },
            format!("expected an S3 Inventory manifest of at most {MANIFEST_MAX} bytes; this one is larger"),
        ));
    }
    Ok(text)
}

/// What a JSON value is, for messages.
fn what(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `key`, `size` and `MD5checksum` of the `i`th entry of `files`, or what is wrong with it.
fn data_file_fields(item: &Value, i: usize) -> Result<(String, u64, Md5Digest), String> {
    let Some(obj) = item.as_object() else {
        return Err(format!(
            "field `files[{i}]`: expected an object with key, size and MD5checksum, found {}",
            what(item)
        ));
    };
    let key = match obj.get("key") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        Some(Value::String(_)) => return Err(format!("field `files[{i}].key`: expected a key, found \"\"")),
        None | Some(Value::Null) => return Err(format!("field `files[{i}].key`: missing")),
        Some(v) => return Err(format!("field `files[{i}].key`: expected a string, found {}", what(v))),
    };
    let size = match obj.get("size") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("field `files[{i}].size`: expected a whole number of bytes, found {n}"))?,
        None | Some(Value::Null) => return Err(format!("field `files[{i}].size`: missing")),
        Some(v) => {
            return Err(format!(
                "field `files[{i}].size`: expected a whole number of bytes, found {}",
                what(v)
            ))
        }
    };
    let md5 = match obj.get("MD5checksum") {
        Some(Value::String(s)) => parse_md5(s).ok_or_else(|| {
            format!("field `files[{i}].MD5checksum`: expected 32 hexadecimal digits, found {s:?}")
        })?,
        None | Some(Value::Null) => return Err(format!("field `files[{i}].MD5checksum`: missing")),
        Some(v) => {
            return Err(format!(
                "field `files[{i}].MD5checksum`: expected 32 hexadecimal digits, found {}",
                what(v)
            ))
        }
    };
    Ok((key, size, md5))
}

/// 32 hexadecimal digits, in either case.
fn parse_md5(s: &str) -> Option<Md5Digest> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(Md5Digest(out))
}

/// The segments of a data file's key that locate it: its last two non-empty segments other than
/// `.` (the last one alone if there is one), or why the key is refused.
fn key_names(key: &str) -> Result<Vec<&str>, &'static str> {
    if key.contains('\0') {
        return Err("holds a NUL byte");
    }
    if key.contains('\\') {
        return Err("holds a backslash, a path separator on some systems");
    }
    let segments: Vec<&str> = key.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    if segments.contains(&"..") {
        return Err("has a `..` segment; a report's data files lie below its folder");
    }
    let names: Vec<&str> = segments[segments.len().saturating_sub(2)..].to_vec();
    if names.is_empty() {
        return Err("names no file");
    }
    for name in &names {
        // One plain name, on this platform too (no `C:` drive, no root).
        let mut parts = Path::new(name).components();
        if !matches!((parts.next(), parts.next()), (Some(Component::Normal(_)), None)) {
            return Err("has a segment that is not a plain file name on this system");
        }
    }
    Ok(names)
}

/// The folder that holds the manifest (`.` for a bare file name).
fn manifest_folder(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The parent of `folder`, written so that it is one for `.` and `a/..` too.
fn parent_of(folder: &Path) -> PathBuf {
    match (folder.file_name(), folder.parent()) {
        (Some(_), Some(p)) if !p.as_os_str().is_empty() => p.to_path_buf(),
        (Some(_), _) => PathBuf::from("."),
        _ => folder.join(".."),
    }
}

/// Where a data file whose key ends in `names` is looked for, in order (see the module).
fn candidates(folder: &Path, names: &[&str]) -> Vec<PathBuf> {
    let join = |base: &Path, names: &[&str]| names.iter().fold(base.to_path_buf(), |p, n| p.join(n));
    let file = &names[names.len() - 1..];
    let mut out = vec![join(&parent_of(folder), names)];
    for p in [join(folder, names), join(folder, file)] {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn engine_to_io(e: EngineError) -> io::Error {
    match e {
        EngineError::Io(e) => e,
        e => io::Error::other(e.to_string()),
    }
}

/// One row of a data file, its values read and typed by the format's reader.
#[derive(Debug, Default)]
struct Row<'a> {
    bucket: &'a [u8],
    key: Vec<u8>,
    size: Option<u64>,
    etag: Option<&'a str>,
    is_latest: Option<bool>,
    is_delete_marker: Option<bool>,
    multipart: Option<bool>,
    encryption: Option<&'a [u8]>,
}

/// Hands `row` to `sink`, or counts it as skipped. `bucket` is the manifest's source bucket.
fn deliver(
    row: Row<'_>,
    bucket: Option<&str>,
    at: At,
    skipped: &mut Skipped,
    sink: &mut Sink<'_>,
) -> Result<ControlFlow<()>, ListingError> {
    if let Some(b) = bucket {
        if row.bucket != b.as_bytes() {
            return Err(ListingError::format(
                at,
                format!(
                    "the row lists bucket {:?}, but the manifest's sourceBucket is {b:?}: a report lists one bucket",
                    String::from_utf8_lossy(row.bucket)
                ),
            ));
        }
    }
    if row.is_delete_marker == Some(true) {
        skipped.delete_markers += 1;
        return Ok(ControlFlow::Continue(()));
    }
    if row.is_latest == Some(false) {
        skipped.old_versions += 1;
        return Ok(ControlFlow::Continue(()));
    }
    let mut entry = Entry::new(row.key);
    entry.size = row.size;
    entry.etag = row.etag.map(str::to_owned);
    entry.multipart = row.multipart;
    entry.sse = row.encryption.map_or(Sse::Unknown, sse);
    entry.at = Some(at);
    Ok(sink(Ok(entry)))
}

/// `EncryptionStatus` as [`Sse`] (see the module for why an unknown value is `Unknown`).
fn sse(value: &[u8]) -> Sse {
    let is = |s: &str| value.eq_ignore_ascii_case(s.as_bytes());
    if is("NOT-SSE") {
        Sse::None
    } else if is("SSE-S3") {
        Sse::S3
    } else if is("SSE-KMS") || is("DSSE-KMS") {
        Sse::Kms
    } else if is("SSE-C") {
        Sse::C
    } else {
        Sse::Unknown
    }
}
