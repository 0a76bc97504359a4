//! The CSV data files of an S3 Inventory report: gzip, no header row, every field quoted, keys
//! URL-encoded with `+` for a space.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::rc::Rc;
use std::str::FromStr;

use flate2::read::MultiGzDecoder;
use thiserror::Error;

use super::{deliver, Row};
use crate::listing::{At, ListingError, Sink, Skipped, Source};

/// The longest row always read, in bytes. A key is at most 1,024 bytes, 3,072 URL-encoded, and a
/// row of every column AWS offers stays under 4 KiB: a longer one is not a report's. A row is
/// refused once this many bytes past its start have been read (at most 64 KiB more, the CSV
/// reader's buffer), before it fills the memory.
pub const ROW_MAX: u64 = 1 << 20;

/// The columns of a CSV report, in order, as the manifest's `fileSchema` names them:
/// `Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ...`.
///
/// `Bucket` and `Key` are required; `Size`, `ETag`, `IsLatest`, `IsDeleteMarker`,
/// `IsMultipartUploaded` and `EncryptionStatus` are read when present; the others are counted
/// but not read. Names are matched in any case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvSchema {
    columns: Vec<String>,
    bucket: usize,
    key: usize,
    size: Option<usize>,
    etag: Option<usize>,
    is_latest: Option<usize>,
    is_delete_marker: Option<usize>,
    multipart: Option<usize>,
    encryption: Option<usize>,
}

/// A `fileSchema` that does not name the columns of a CSV report.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct CsvSchemaError(String);

impl CsvSchema {
    /// Reads the comma-separated column names of `fileSchema` (spaces around names are ignored).
    pub fn parse(file_schema: &str) -> Result<CsvSchema, CsvSchemaError> {
        let columns: Vec<String> = file_schema.split(',').map(|c| c.trim().to_string()).collect();
        let find = |name: &str| -> Result<Option<usize>, CsvSchemaError> {
            let mut found = columns.iter().enumerate().filter(|(_, c)| c.eq_ignore_ascii_case(name));
            match (found.next(), found.next()) {
                (Some((i, _)), None) => Ok(Some(i)),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(CsvSchemaError(format!("the column {name} is named twice"))),
            }
        };
        if let Some(i) = columns.iter().position(String::is_empty) {
            return Err(CsvSchemaError(format!(
                "column {} has no name; expected comma-separated column names such as \"Bucket, Key, Size, ETag\"",
                i + 1
            )));
        }
        let required = |name: &str| -> Result<usize, CsvSchemaError> {
            find(name)?.ok_or_else(|| {
                CsvSchemaError(format!(
                    "no {name} column in {file_schema:?}; expected comma-separated column names such as \"Bucket, Key, Size, ETag\""
                ))
            })
        };
        Ok(CsvSchema {
            bucket: required("Bucket")?,
            key: required("Key")?,
            size: find("Size")?,
            etag: find("ETag")?,
            is_latest: find("IsLatest")?,
            is_delete_marker: find("IsDeleteMarker")?,
            multipart: find("IsMultipartUploaded")?,
            encryption: find("EncryptionStatus")?,
            columns,
        })
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

impl FromStr for CsvSchema {
    type Err = CsvSchemaError;

    fn from_str(s: &str) -> Result<CsvSchema, CsvSchemaError> {
        CsvSchema::parse(s)
    }
}

impl fmt::Display for CsvSchema {
    /// The names as `fileSchema` writes them: `Bucket, Key, Size`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.columns.join(", "))
    }
}

/// One CSV data file of a report, read as a stream: each row (a record; the report has no header
/// row) becomes an entry as described in the [module](super), its key URL-decoded (`+` is a
/// space, then `%XX` a byte).
///
/// A row with another number of columns than the schema, a key that does not decode, a `Size`
/// that is not a whole number, a boolean that is not `true` or `false`, a row longer than
/// [`ROW_MAX`] and a broken gzip stream are each a [`ListingError::Format`] at the data file and
/// the row. Memory is that of one row and the decoder's buffers, whatever the file's size.
#[derive(Debug)]
pub struct CsvData<R> {
    reader: R,
    name: PathBuf,
    schema: CsvSchema,
    gzip: bool,
    bucket: Option<String>,
}

impl<R: Read> CsvData<R> {
    /// Reads `reader`, gzip-compressed as AWS writes it, named `name` in messages and entries.
    pub fn new(reader: R, name: impl Into<PathBuf>, schema: CsvSchema) -> CsvData<R> {
        CsvData { reader, name: name.into(), schema, gzip: true, bucket: None }
    }

    /// Whether the bytes are gzip-compressed (the default) or plain CSV.
    pub fn gzip(mut self, gzip: bool) -> CsvData<R> {
        self.gzip = gzip;
        self
    }

    /// Refuses rows whose `Bucket` is not `bucket` (the manifest's `sourceBucket`).
    pub fn source_bucket(mut self, bucket: impl Into<String>) -> CsvData<R> {
        self.bucket = Some(bucket.into());
        self
    }

    /// Reads every row into `sink`; says whether the sink stopped the reading.
    pub(super) fn read_flow(self, sink: &mut Sink<'_>) -> Result<(Skipped, ControlFlow<()>), ListingError> {
        let CsvData { reader, name, schema, gzip, bucket } = self;
        let mark = Rc::new(Cell::new(0));
        let input: Box<dyn Read> = if gzip {
            Box::new(RowLimit { inner: MultiGzDecoder::new(reader), read: 0, mark: Rc::clone(&mark) })
        } else {
            Box::new(RowLimit { inner: reader, read: 0, mark: Rc::clone(&mark) })
        };
        let mut csv = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 << 10)
            .from_reader(input);
        let mut record = ::csv::ByteRecord::new();
        let mut skipped = Skipped::default();
        let mut row: u64 = 0;
        loop {
            let at = |row| At { file: name.clone(), line: Some(row) };
            let more = csv.read_byte_record(&mut record).map_err(|e| read_error(e, gzip, at(row + 1)))?;
            if !more {
                return Ok((skipped, ControlFlow::Continue(())));
            }
            row += 1;
            mark.set(csv.position().byte());
            let parsed = parse_row(&record, &schema).map_err(|what| ListingError::format(at(row), what))?;
            if deliver(parsed, bucket.as_deref(), at(row), &mut skipped, sink)?.is_break() {
                return Ok((skipped, ControlFlow::Break(())));
            }
        }
    }
}

impl<R: Read> Source for CsvData<R> {
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        self.read_flow(sink).map(|(skipped, _)| skipped)
    }
}

/// A reader that fails once more than [`ROW_MAX`] bytes (plus the CSV reader's buffer) have been
/// read past the start of the current row, `mark`, which the reading loop moves after each row.
/// The `csv` crate grows a record's buffers without limit; this bounds them.
struct RowLimit<R> {
    inner: R,
    read: u64,
    mark: Rc<Cell<u64>>,
}

/// The error [`RowLimit`] returns.
#[derive(Debug, Error)]
#[error("a row longer than {ROW_MAX} bytes")]
struct RowTooLong;

impl<R: Read> Read for RowLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.saturating_sub(self.mark.get()) > ROW_MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RowTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A failed read of the next row as the listing's error.
fn read_error(e: ::csv::Error, gzip: bool, at: At) -> ListingError {
    if !e.is_io_error() {
        return ListingError::format(at, format!("expected a CSV row: {e}"));
    }
    match e.into_kind() {
        ::csv::ErrorKind::Io(e) => {
            if e.get_ref().is_some_and(|inner| inner.is::<RowTooLong>()) {
                ListingError::format(
                    at,
                    format!("a row longer than {ROW_MAX} bytes; expected the rows of an S3 Inventory report"),
                )
            } else if gzip
                && matches!(
                    e.kind(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                )
            {
                ListingError::format(
                    at,
                    format!("broken gzip stream ({e}); expected a whole .csv.gz data file"),
                )
            } else {
                ListingError::Io { path: at.file, source: e }
            }
        }
        _ => ListingError::format(at, "expected a CSV row"),
    }
}

/// The row's values, or what is wrong with them.
fn parse_row<'a>(record: &'a ::csv::ByteRecord, schema: &CsvSchema) -> Result<Row<'a>, String> {
    if record.len() != schema.columns.len() {
        return Err(format!("expected {} columns ({schema}), found {}", schema.columns.len(), record.len()));
    }
    let field = |i: usize| record.get(i).unwrap_or_default();
    let optional = |i: Option<usize>| i.map(field).filter(|v| !v.is_empty());
    let name = |i: usize| &schema.columns[i];
    let boolean = |i: Option<usize>| -> Result<Option<bool>, String> {
        let Some(i) = i else { return Ok(None) };
        match field(i) {
            b"" => Ok(None),
            v if v.eq_ignore_ascii_case(b"true") => Ok(Some(true)),
            v if v.eq_ignore_ascii_case(b"false") => Ok(Some(false)),
            v => Err(format!(
                "column {}: expected true or false, found {:?}",
                name(i),
                String::from_utf8_lossy(v)
            )),
        }
    };
    let key = url_decode(field(schema.key)).map_err(|what| format!("column {}: {what}", name(schema.key)))?;
    let size = match optional(schema.size) {
        None => None,
        Some(v) => Some(parse_u64(v).ok_or_else(|| {
            format!(
                "column {}: expected a whole number of bytes, found {:?}",
                name(schema.size.unwrap_or_default()),
                String::from_utf8_lossy(v)
            )
        })?),
    };
    let etag = match optional(schema.etag) {
        None => None,
        Some(v) => Some(std::str::from_utf8(v).map_err(|_| {
            format!(
                "column {}: expected an ETag, found bytes that are not UTF-8: {:?}",
                name(schema.etag.unwrap_or_default()),
                String::from_utf8_lossy(v)
            )
        })?),
    };
    Ok(Row {
        bucket: field(schema.bucket),
        key,
        size,
        etag,
        is_latest: boolean(schema.is_latest)?,
        is_delete_marker: boolean(schema.is_delete_marker)?,
        multipart: boolean(schema.multipart)?,
        encryption: optional(schema.encryption),
    })
}

/// Plain decimal digits, as a u64.
fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Decodes a key as S3 Inventory encodes it: `+` is a space, `%XX` a byte (so `%2B` is a `+`).
///
/// Written here rather than taken from `percent-encoding`: its decoder passes a malformed escape
/// through as it is, where a key that does not decode must be an error, and it knows nothing of
/// `+`. The decoded bytes are kept as they are (an S3 key is UTF-8, but that is the checker's
/// concern, not the listing's).
pub(crate) fn url_decode(v: &[u8]) -> Result<Vec<u8>, String> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'+' => out.push(b' '),
            b'%' => match (v.get(i + 1).copied().and_then(hex), v.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => {
                    let end = (i + 3).min(v.len());
                    return Err(format!(
                        "expected a URL-encoded key, but {:?} at byte {} is not % and two hexadecimal digits",
                        String::from_utf8_lossy(&v[i..end]),
                        i + 1
                    ));
                }
            },
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}
