//! The Parquet data files of an S3 Inventory report, read a row group at a time through the
//! record API of the `parquet` crate, projected on the columns etagsum uses.
//!
//! Columns are found by name (snake_case, in any case): `bucket` and `key` are required;
//! `size`, `e_tag`, `is_latest`, `is_delete_marker`, `is_multipart_uploaded` and
//! `encryption_status` are read when present. What AWS documents and what pyarrow writes for the
//! same columns are accepted: strings as UTF-8 (`string` and `large_string` alike) or plain binary,
//! sizes as any integer type, booleans as booleans; a null is a value not given. Keys are not
//! URL-encoded in Parquet.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use ::parquet::basic::{Compression, Repetition};
use ::parquet::file::metadata::RowGroupMetaData;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::reader::RowIter;
use ::parquet::record::Field;
use ::parquet::schema::types::Type;

use super::{deliver, Row};
use crate::listing::{At, ListingError, Sink, Skipped};

/// The columns read, in the order of a [`Values`] array.
const COLUMNS: [&str; 8] = [
    "bucket",
    "key",
    "size",
    "e_tag",
    "is_latest",
    "is_delete_marker",
    "is_multipart_uploaded",
    "encryption_status",
];
const BUCKET: usize = 0;
const KEY: usize = 1;
const SIZE: usize = 2;
const ETAG: usize = 3;
const IS_LATEST: usize = 4;
const IS_DELETE_MARKER: usize = 5;
const MULTIPART: usize = 6;
const ENCRYPTION: usize = 7;

/// The values of one row, by [`COLUMNS`] index.
type Values = [Option<Field>; 8];

/// Reads the Parquet data file `file` (named `name`) into `sink`.
pub(super) fn read(
    file: File,
    name: &Path,
    bucket: &str,
    sink: &mut Sink<'_>,
) -> Result<(Skipped, ControlFlow<()>), ListingError> {
    let at = |row: Option<u64>| At { file: name.to_path_buf(), line: row };
    let reader = guarded(|| SerializedFileReader::new(file))
        .map_err(|e| ListingError::format(at(None), format!("expected a Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema();

    // The projection: the columns read, as the file declares them.
    let mut picked: Vec<Arc<Type>> = Vec::new();
    let mut slots: Vec<usize> = Vec::new();
    for (slot, column) in COLUMNS.iter().enumerate() {
        let Some(field) = schema.get_fields().iter().find(|f| f.name().eq_ignore_ascii_case(column)) else {
            if slot == BUCKET || slot == KEY {
                return Err(ListingError::format(
                    at(None),
                    format!(
                        "no column {column}; expected the columns of an S3 Inventory report (bucket, key, size, e_tag, ...)"
                    ),
                ));
            }
            continue;
        };
        let repeated = field.get_basic_info().has_repetition()
            && field.get_basic_info().repetition() == Repetition::REPEATED;
        if !field.is_primitive() || repeated {
            return Err(ListingError::format(
                at(None),
                format!(
                    "column {}: expected a single value per row, found a nested or repeated column",
                    field.name()
                ),
            ));
        }
        picked.push(Arc::clone(field));
        slots.push(slot);
    }
    let names: Vec<String> = picked.iter().map(|f| f.name().to_string()).collect();
    let projection = Type::group_type_builder(schema.name())
        .with_fields(picked)
        .build()
        .map_err(|e| ListingError::format(at(None), format!("expected a Parquet schema: {e}")))?;

    let mut skipped = Skipped::default();
    let mut row: u64 = 0;
    for group in 0..reader.num_row_groups() {
        // The sink is called outside `guarded`: a panic of the caller's is the caller's.
        let broken =
            |e: String, row: u64| ListingError::format(at(Some(row)), format!("expected a Parquet row: {e}"));
        check_chunks(reader.metadata().row_group(group), &names)
            .map_err(|what| ListingError::format(at(Some(row + 1)), what))?;
        let group_reader = guarded(|| reader.get_row_group(group)).map_err(|e| broken(e, row + 1))?;
        let mut rows = guarded(|| RowIter::from_row_group(Some(projection.clone()), group_reader.as_ref()))
            .map_err(|e| broken(e, row + 1))?;
        // After a panic the reader is left as it was and never used again.
        while let Some(record) = guarded(|| Ok(rows.next())).map_err(|e| broken(e, row + 1))? {
            let record = record.map_err(|e| broken(e.to_string(), row + 1))?;
            row += 1;
            let mut values: Values = Default::default();
            for (&slot, (_, value)) in slots.iter().zip(record.into_columns()) {
                values[slot] = Some(value);
            }
            let parsed = parse_row(&values).map_err(|what| ListingError::format(at(Some(row)), what))?;
            if deliver(parsed, Some(bucket), at(Some(row)), &mut skipped, sink)?.is_break() {
                return Ok((skipped, ControlFlow::Break(())));
            }
        }
    }
    Ok((skipped, ControlFlow::Continue(())))
}

/// Runs a call into the `parquet` crate, whose readers panic on some malformed files (a data page
/// that uses a dictionary its column chunk lacks, an index out of a buffer): where panics unwind,
/// such a panic becomes this file's format error instead of the caller's crash. (A build that
/// aborts on panic still aborts: the command line's release build unwinds for this reason.) The
/// caller's sink is never called inside.
fn guarded<T>(call: impl FnOnce() -> Result<T, ::parquet::errors::ParquetError>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(format!("the Parquet reader failed on this file ({why})"))
        }
    }
}

/// Checks a row group's column chunks before they are read: offsets and sizes that are not
/// negative (the `parquet` crate asserts it), and, for the columns read, a codec this build reads:
/// what AWS (snappy) and pyarrow (snappy by default; gzip and zstd on request) write. A column
/// chunk compressed otherwise is refused by name.
fn check_chunks(group: &RowGroupMetaData, names: &[String]) -> Result<(), String> {
    for column in group.columns() {
        let negative = column.data_page_offset() < 0
            || column.dictionary_page_offset().is_some_and(|o| o < 0)
            || column.compressed_size() < 0;
        if negative {
            return Err(format!(
                "column {}: a negative offset or size in the file's metadata; expected a whole Parquet file",
                column.column_path().string()
            ));
        }
        let read = column.column_path().parts().first().is_some_and(|n| names.contains(n));
        let known = matches!(
            column.compression(),
            Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::GZIP(_) | Compression::ZSTD(_)
        );
        if read && !known {
            let codec = match column.compression() {
                Compression::BROTLI(_) => "brotli".to_string(),
                Compression::LZ4 | Compression::LZ4_RAW => "lz4".to_string(),
                Compression::LZO => "lzo".to_string(),
                other => other.to_string(),
            };
            return Err(format!(
                "column {} is compressed with {codec}; expected snappy, gzip, zstd or none, as AWS and pyarrow write",
                column.column_path().string(),
            ));
        }
    }
    Ok(())
}

/// The row's values, or what is wrong with them.
fn parse_row(values: &Values) -> Result<Row<'_>, String> {
    let bucket = text(values, BUCKET)?
        .ok_or_else(|| format!("column {}: expected the bucket's name, found null", COLUMNS[BUCKET]))?;
    let key = text(values, KEY)?
        .ok_or_else(|| format!("column {}: expected the object's key, found null", COLUMNS[KEY]))?;
    let etag = match text(values, ETAG)? {
        None => None,
        Some(v) => Some(std::str::from_utf8(v).map_err(|_| {
            format!(
                "column {}: expected an ETag, found bytes that are not UTF-8: {:?}",
                COLUMNS[ETAG],
                String::from_utf8_lossy(v)
            )
        })?),
    };
    Ok(Row {
        bucket,
        key: key.to_vec(),
        size: size(values)?,
        etag: etag.filter(|e| !e.is_empty()),
        is_latest: boolean(values, IS_LATEST)?,
        is_delete_marker: boolean(values, IS_DELETE_MARKER)?,
        multipart: boolean(values, MULTIPART)?,
        encryption: text(values, ENCRYPTION)?.filter(|e| !e.is_empty()),
    })
}

/// A string or binary column's value.
fn text(values: &Values, slot: usize) -> Result<Option<&[u8]>, String> {
    match &values[slot] {
        None | Some(Field::Null) => Ok(None),
        Some(Field::Str(s)) => Ok(Some(s.as_bytes())),
        Some(Field::Bytes(b)) => Ok(Some(b.data())),
        Some(other) => Err(format!("column {}: expected a string, found {}", COLUMNS[slot], describe(other))),
    }
}

/// The `size` column's value: any integer type, not negative.
fn size(values: &Values) -> Result<Option<u64>, String> {
    let n: i128 = match &values[SIZE] {
        None | Some(Field::Null) => return Ok(None),
        Some(Field::Byte(n)) => (*n).into(),
        Some(Field::Short(n)) => (*n).into(),
        Some(Field::Int(n)) => (*n).into(),
        Some(Field::Long(n)) => (*n).into(),
        Some(Field::UByte(n)) => (*n).into(),
        Some(Field::UShort(n)) => (*n).into(),
        Some(Field::UInt(n)) => (*n).into(),
        Some(Field::ULong(n)) => (*n).into(),
        Some(other) => {
            return Err(format!(
                "column {}: expected a whole number of bytes, found {}",
                COLUMNS[SIZE],
                describe(other)
            ))
        }
    };
    u64::try_from(n)
        .map(Some)
        .map_err(|_| format!("column {}: expected a whole number of bytes, found {n}", COLUMNS[SIZE]))
}

/// A boolean column's value.
fn boolean(values: &Values, slot: usize) -> Result<Option<bool>, String> {
    match &values[slot] {
        None | Some(Field::Null) => Ok(None),
        Some(Field::Bool(b)) => Ok(Some(*b)),
        Some(other) => {
            Err(format!("column {}: expected true or false, found {}", COLUMNS[slot], describe(other)))
        }
    }
}

/// A value for a message: its type, and the value when it is short.
fn describe(field: &Field) -> String {
    let text = field.to_string();
    if text.len() <= 64 {
        text
    } else {
        "a long value of another type".to_string()
    }
}
