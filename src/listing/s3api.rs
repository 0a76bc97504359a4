//! The JSON that `aws s3api list-objects-v2` prints, streamed.
//!
//! # What is read
//!
//! The aws cli prints one JSON object, indented by 4 spaces:
//! `{"Contents": [{"Key": ..., "LastModified": ..., "ETag": "\"…\"", "ChecksumAlgorithm": [...],
//! "ChecksumType": ..., "Size": ..., "StorageClass": ..., "Owner": {...}}, ...], "RequestCharged":
//! null, "Prefix": ""}`. Of each object of `Contents`, `Key` (required, a string) becomes
//! [`Entry::key`], `Size` (a whole number of bytes) [`Entry::size`], and `ETag` (a string, kept
//! as printed, quotes and all; the checker parses it) [`Entry::etag`]; [`Entry::at`] is the line
//! of the `Key`. Other fields are skipped whatever they hold. A key may hold anything, `../x`,
//! `/abs` or a NUL written `\u0000`: whether it is a safe path is the checker's question, not the
//! reader's.
//!
//! Also read:
//! - one page (`--no-paginate`, `--max-items`) with `IsTruncated`, `NextContinuationToken` or
//!   `NextToken`: [`Summary::truncated`] says that more keys follow;
//! - the output for an empty bucket (`{"RequestCharged": null, "Prefix": ""}`, no `Contents`);
//! - several JSON objects one after another in one file (pages saved one by one);
//! - the output of `list-objects` (version 1), which has the same `Contents`;
//! - the output of `list-object-versions`: of `Versions`, only the current versions
//!   (`IsLatest` true) are entries, the others are counted in [`Skipped::old_versions`], and
//!   `DeleteMarkers` in [`Skipped::delete_markers`];
//! - a top-level array of such objects (what `--query 'Contents'` prints);
//! - a UTF-8 byte order mark at the start (PowerShell's `Out-File -Encoding utf8` writes one).
//!
//! A file that holds no JSON value, a top-level object with none of the fields of a listing
//! (`Contents`, `Prefix`, `RequestCharged`, `KeyCount`...), a missing `Key`, a value of the wrong
//! type, truncated JSON or anything after the last value but white space is a
//! [`ListingError::Format`] naming the line, with serde_json's column and message: the listing
//! cannot be trusted, so nothing more is read. (An empty file is refused rather than read as an
//! empty listing: the aws cli prints an object even for an empty bucket, and an empty file is
//! what a failed `aws ... > listing.json` leaves behind.)
//!
//! # URL-encoded keys
//!
//! Whether keys are URL-encoded cannot be told from the text, so the caller says
//! ([`ListObjectsV2::key_encoding`]). What the aws cli does (botocore's `handlers.py`,
//! `set_list_objects_encoding_type_url` and `decode_list_object_v2`):
//! - Without `--encoding-type`, botocore asks S3 for URL-encoded keys anyway (so that any key
//!   survives XML) and decodes them itself before printing: keys are printed as they are. Yet with
//!   `--no-paginate` the printed page still says `"EncodingType": "url"`, after `Contents`.
//! - With `--encoding-type url`, botocore leaves the keys encoded. When the cli follows the pages
//!   itself (the default) it prints only `Contents`, `CommonPrefixes`, `RequestCharged` and
//!   `Prefix`: nothing says that the keys are encoded. With `--no-paginate` the page says
//!   `"EncodingType": "url"`, exactly as without the option.
//!
//! So `EncodingType` proves nothing, and decoding keys on its word would turn the key `a+b`,
//! printed as it is by default, into `a b`. Keys are read as printed ([`KeyEncoding::AsPrinted`])
//! unless the caller says [`KeyEncoding::Url`], the setting that matches the option given to
//! aws. Keys are then decoded as botocore's `unquote_plus` decodes them: `+` is a space, `%XX` a
//! byte. A key that does not decode (a `%` without two hex digits after it, bytes that are not
//! UTF-8) is a [`BadEntry`] for that object, not a format error: the JSON is sound and the other
//! objects can be checked, and the message says to check the setting.
//!
//! # Streaming
//!
//! The JSON is parsed with serde_json, as it is read: a [`serde::de::DeserializeSeed`] hands each
//! object of `Contents` to the sink as soon as its closing brace is read, and nothing of it is
//! kept afterwards. Memory does not grow with the listing (a million keys are about 250 MB of
//! JSON); it holds one object and a read buffer. When the sink breaks, reading stops at once.
//! One object of `Contents` (or `Versions`), and one field name, may take at most
//! [`OBJECT_MAX`] bytes of JSON: the parser keeps a string whole before it hands it over, so a
//! hostile listing with a key of gigabytes would otherwise take gigabytes of memory. A longer
//! one is a [`ListingError::Format`].

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{At, BadEntry, Entry, ListingError, Sink, Skipped, Source};

/// The most bytes of JSON one object of `Contents` (or `Versions`), or one field name, may take.
/// What the aws cli prints for an object is well under 10 KB: a key is at most 1,024 bytes of
/// UTF-8 (6 KB escaped as `\u00XX`), and the other fields are short.
pub const OBJECT_MAX: u64 = 1 << 20;

/// How the keys of a listing are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyEncoding {
    /// As they are: what `aws s3api list-objects-v2` prints without `--encoding-type` (botocore
    /// decodes the keys itself).
    #[default]
    AsPrinted,
    /// URL-encoded, `+` for a space: what it prints with `--encoding-type url`.
    Url,
}

/// What a whole listing said besides its entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Versions that are not current, and delete markers (`list-object-versions`).
    pub skipped: Skipped,
    /// The last page read says that more keys follow (`IsTruncated` true, or a `NextToken`):
    /// the listing is not the whole bucket, and a local file it does not name may still be in
    /// the bucket.
    pub truncated: bool,
    /// The JSON values read (pages saved one after another are several).
    pub pages: u64,
}

/// A `list-objects-v2` listing read as a stream.
#[derive(Debug)]
pub struct ListObjectsV2<R> {
    reader: R,
    name: PathBuf,
    encoding: KeyEncoding,
}

impl<R: Read> ListObjectsV2<R> {
    /// Reads `reader`, named `name` in messages, with keys as printed. The reader need not be
    /// buffered: reads are made in blocks of 64 KiB.
    pub fn new(reader: R, name: impl Into<PathBuf>) -> ListObjectsV2<R> {
        ListObjectsV2 { reader, name: name.into(), encoding: KeyEncoding::AsPrinted }
    }

    /// Says how the keys are written; see the [module](self) for why the text cannot say.
    pub fn key_encoding(mut self, encoding: KeyEncoding) -> ListObjectsV2<R> {
        self.encoding = encoding;
        self
    }

    /// Hands every entry to `sink`, in order, and says what else the listing said. When `sink`
    /// breaks, reading stops at once and the result is `Ok`.
    pub fn read_listing(self, sink: &mut Sink<'_>) -> Result<Summary, ListingError> {
        let newlines = Cell::new(0);
        let seen = Cell::new(false);
        let budget = Budget::default();
        let mut input = Tracked::new(self.reader, &newlines, &seen, &budget);
        let at = |line: u64| At { file: self.name.clone(), line: Some(line) };
        match input.skip_bom() {
            Ok(Bom::Utf8 | Bom::None) => {}
            Ok(Bom::Utf16) => {
                return Err(ListingError::format(
                    at(1),
                    "the file is UTF-16 (Windows PowerShell 5 writes `>` redirections so); \
                     save the listing as UTF-8, e.g. `aws s3api list-objects-v2 ... | Out-File -Encoding utf8 listing.json`",
                ))
            }
            Err(source) => return Err(ListingError::Io { path: self.name.clone(), source }),
        }
        let mut state = State {
            sink,
            name: &self.name,
            encoding: self.encoding,
            newlines: &newlines,
            budget: &budget,
            summary: Summary::default(),
            stopped: false,
            entered: false,
        };
        let mut de = serde_json::Deserializer::from_reader(&mut input);
        loop {
            seen.set(false);
            state.entered = false;
            match TopSeed(&mut state).deserialize(&mut de) {
                Ok(()) => state.summary.pages += 1,
                Err(_) if state.stopped => break,
                Err(e) if e.is_eof() && !seen.get() && state.summary.pages > 0 => break,
                Err(_) if budget.overlong.get() => {
                    return Err(ListingError::format(
                        at(newlines.get() + 1),
                        format!(
                            "{} runs over {OBJECT_MAX} bytes of JSON: expected what aws s3api list-objects-v2 prints \
                             (an S3 key is at most 1,024 bytes)",
                            budget.what.get()
                        ),
                    ))
                }
                Err(e) if e.is_io() => {
                    return Err(ListingError::Io { path: self.name.clone(), source: io::Error::from(e) })
                }
                Err(e) => {
                    let (mut line, column) = (e.line() as u64, e.column());
                    let message = e.to_string();
                    let message =
                        message.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&message);
                    // serde_json's column 0 means the error is the newline that ends the line
                    // before (a newline in a string, the end of a file that ends in a newline).
                    let column = if column == 0 && line > 1 {
                        line -= 1;
                        "at the end of the line".to_string()
                    } else {
                        format!("column {column}")
                    };
                    let what = if state.summary.pages == 0 && !seen.get() {
                        "the file holds no JSON value: expected the JSON object that aws s3api list-objects-v2 prints \
                         (even for an empty bucket it prints one)"
                            .to_string()
                    } else if e.is_eof() {
                        format!("the file ends in the middle of the JSON ({message}); is it truncated?")
                    } else if !state.entered && state.summary.pages > 0 {
                        format!(
                            "column {column}: after the listing's JSON, {message}: expected nothing more but white space, \
                             or another page's JSON object"
                        )
                    } else if !state.entered
                        && state.summary.pages == 0
                        && e.classify() == serde_json::error::Category::Syntax
                    {
                        format!(
                            "{column}: {message}: expected the JSON object that aws s3api list-objects-v2 prints; \
                             is this a listing?"
                        )
                    } else {
                        format!("{column}: {message}")
                    };
                    return Err(ListingError::format(at(line.max(1)), what));
                }
            }
        }
        Ok(state.summary)
    }
}

impl<R: Read> Source for ListObjectsV2<R> {
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        self.read_listing(sink).map(|s| s.skipped)
    }
}

/// Everything the visitors share.
struct State<'s, 'k> {
    sink: &'s mut Sink<'k>,
    name: &'s PathBuf,
    encoding: KeyEncoding,
    /// Newlines read by the parser so far.
    newlines: &'s Cell<u64>,
    /// The bytes the parser may read before the current object ends.
    budget: &'s Budget,
    summary: Summary,
    /// The sink broke: the error that unwinds the parser is no error.
    stopped: bool,
    /// The current top-level value is an object or an array (not garbage after the last one).
    entered: bool,
}

/// The reader under the parser: buffers (serde_json reads one byte at a time), counts the
/// newlines it hands out (for each entry's line), and notes whether any of them is more than
/// white space (to tell the end of the file from a truncated value).
struct Tracked<'c, R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    newlines: &'c Cell<u64>,
    seen: &'c Cell<bool>,
    budget: &'c Budget,
}

/// How many bytes the parser has been handed, and how many it may be handed before the value
/// it is reading must end ([`OBJECT_MAX`] after an object of `Contents` or a field name starts).
struct Budget {
    handed: Cell<u64>,
    limit: Cell<u64>,
    /// The limit was reached: the reading failed for that.
    overlong: Cell<bool>,
    /// What was being read, for the message.
    what: Cell<&'static str>,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            handed: Cell::new(0),
            limit: Cell::new(u64::MAX),
            overlong: Cell::new(false),
            what: Cell::new(""),
        }
    }
}

impl Budget {
    /// Runs `read` with at most [`OBJECT_MAX`] more bytes for it (unless a value around it is
    /// limited already, whose limit stands).
    fn limit<T>(&self, what: &'static str, read: impl FnOnce() -> T) -> T {
        if self.limit.get() != u64::MAX {
            return read();
        }
        self.limit.set(self.handed.get().saturating_add(OBJECT_MAX));
        self.what.set(what);
        let out = read();
        self.limit.set(u64::MAX);
        out
    }
}

enum Bom {
    None,
    Utf8,
    Utf16,
}

impl<'c, R: Read> Tracked<'c, R> {
    fn new(inner: R, newlines: &'c Cell<u64>, seen: &'c Cell<bool>, budget: &'c Budget) -> Tracked<'c, R> {
        Tracked { inner, buf: vec![0; 64 << 10].into_boxed_slice(), pos: 0, len: 0, newlines, seen, budget }
    }

    /// Reads more into the buffer after what it holds; 0 at the end.
    fn fill_more(&mut self) -> io::Result<usize> {
        loop {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops a UTF-8 byte order mark at the start, and says if one is there.
    fn skip_bom(&mut self) -> io::Result<Bom> {
        while self.len < 3 && self.fill_more()? > 0 {}
        let head = &self.buf[..self.len];
        if head.starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3;
            return Ok(Bom::Utf8);
        }
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Ok(Bom::Utf16);
        }
        Ok(Bom::None)
    }
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
            self.fill_more()?;
        }
        let left = self.budget.limit.get().saturating_sub(self.budget.handed.get());
        if left == 0 && self.len > self.pos {
            self.budget.overlong.set(true);
            return Err(io::Error::other(format!("more than {OBJECT_MAX} bytes in one value")));
        }
        let n = out.len().min(self.len - self.pos).min(usize::try_from(left).unwrap_or(usize::MAX));
        self.budget.handed.set(self.budget.handed.get() + n as u64);
        let chunk = &self.buf[self.pos..self.pos + n];
        out[..n].copy_from_slice(chunk);
        self.pos += n;
        let mut newlines = 0;
        let mut seen = false;
        for &b in chunk {
            match b {
                b'\n' => newlines += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => seen = true,
            }
        }
        self.newlines.set(self.newlines.get() + newlines);
        if seen {
            self.seen.set(true);
        }
        Ok(n)
    }
}

/// One top-level value: a listing object, or an array of objects.
struct TopSeed<'a, 's, 'k>(&'a mut State<'s, 'k>);

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the JSON object that aws s3api list-objects-v2 prints (or an array of the objects of its Contents)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.0;
        st.entered = true;
        let mut listing = false;
        let mut truncated = false;
        let budget = st.budget;
        while let Some(field) = budget.limit("a field name", || map.next_key_seed(Named(&PAGE_FIELDS)))? {
            listing |= field.is_some();
            match field {
                Some("Contents") => map.next_value_seed(Objects { st: &mut *st, kind: Kind::Contents })?,
                Some("Versions") => map.next_value_seed(Objects { st: &mut *st, kind: Kind::Versions })?,
                Some("DeleteMarkers") => {
                    map.next_value_seed(Objects { st: &mut *st, kind: Kind::DeleteMarkers })?
                }
                Some("IsTruncated") => truncated |= map.next_value::<Option<bool>>()? == Some(true),
                Some("NextToken" | "NextContinuationToken" | "NextMarker" | "NextKeyMarker") => {
                    truncated |= map.next_value::<Option<IgnoredAny>>()?.is_some()
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !listing {
            return Err(de::Error::custom(format!(
                "a JSON object with none of the fields that aws s3api list-objects-v2 prints ({}): is this a bucket listing?",
                PAGE_FIELDS[..5].join(", ")
            )));
        }
        st.summary.truncated = truncated;
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let st = self.0;
        st.entered = true;
        Objects { st, kind: Kind::Contents }.visit_seq(seq)
    }
}

/// The fields of a page that say it is a listing (the first few are named in a message).
const PAGE_FIELDS: [&str; 22] = [
    "Contents",
    "Prefix",
    "RequestCharged",
    "KeyCount",
    "Versions",
    "DeleteMarkers",
    "CommonPrefixes",
    "IsTruncated",
    "Name",
    "MaxKeys",
    "Delimiter",
    "EncodingType",
    "ContinuationToken",
    "NextContinuationToken",
    "StartAfter",
    "NextToken",
    "Marker",
    "NextMarker",
    "KeyMarker",
    "NextKeyMarker",
    "VersionIdMarker",
    "NextVersionIdMarker",
];

/// The fields of an object that are read.
const OBJECT_FIELDS: [&str; 4] = ["Key", "Size", "ETag", "IsLatest"];

/// A field name: one of these (without allocating), or `None` for any other.
struct Named<'n, const N: usize>(&'n [&'static str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for Named<'_, N> {
    type Value = Option<&'static str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Named<'_, N> {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().copied().find(|n| *n == v))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Contents,
    Versions,
    DeleteMarkers,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Contents => "Contents",
            Kind::Versions => "Versions",
            Kind::DeleteMarkers => "DeleteMarkers",
        }
    }
}

/// An array of objects (`Contents`, `Versions`, `DeleteMarkers`), or null.
struct Objects<'a, 's, 'k> {
    st: &'a mut State<'s, 'k>,
    kind: Kind,
}

impl<'de> DeserializeSeed<'de> for Objects<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Objects<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\": an array of objects", self.kind.name())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.kind == Kind::DeleteMarkers {
            while seq.next_element::<IgnoredAny>()?.is_some() {
                self.st.summary.skipped.delete_markers += 1;
            }
            return Ok(());
        }
        while seq.next_element_seed(Object { st: &mut *self.st, kind: self.kind })?.is_some() {}
        Ok(())
    }
}

/// One object of `Contents` or `Versions`: handed to the sink once read.
struct Object<'a, 's, 'k> {
    st: &'a mut State<'s, 'k>,
    kind: Kind,
}

impl<'de> DeserializeSeed<'de> for Object<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let budget = self.st.budget;
        let what = match self.kind {
            Kind::Versions => "an object of \"Versions\"",
            _ => "an object of \"Contents\"",
        };
        budget.limit(what, || d.deserialize_map(self))
    }
}

impl<'de> Visitor<'de> for Object<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object of \"{}\" with a \"Key\"", self.kind.name())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.st;
        let start = st.newlines.get() + 1;
        let mut key: Option<(String, u64)> = None;
        let mut size: Option<Option<u64>> = None;
        let mut etag: Option<Option<String>> = None;
        let mut latest: Option<Option<bool>> = None;
        let twice = |field: &str| de::Error::custom(format!("\"{field}\" is given twice in one object"));
        while let Some(field) = map.next_key_seed(Named(&OBJECT_FIELDS))? {
            match field {
                Some("Key") => {
                    let k = map.next_value_seed(Text("\"Key\": the object's key, a string"))?;
                    if key.replace((k, st.newlines.get() + 1)).is_some() {
                        return Err(twice("Key"));
                    }
                }
                Some("Size") => {
                    if size.replace(map.next_value::<Option<Bytes>>()?.map(|b| b.0)).is_some() {
                        return Err(twice("Size"));
                    }
                }
                Some("ETag") => {
                    if etag.replace(map.next_value_seed(OptionalText("\"ETag\": a string"))?).is_some() {
                        return Err(twice("ETag"));
                    }
                }
                Some("IsLatest") => {
                    if latest.replace(map.next_value()?).is_some() {
                        return Err(twice("IsLatest"));
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some((key, line)) = key else {
            return Err(de::Error::custom(format!(
                "the object of \"{}\" that starts on line {start} has no \"Key\"",
                self.kind.name()
            )));
        };
        if self.kind == Kind::Versions {
            match latest.flatten() {
                Some(true) => {}
                Some(false) => {
                    st.summary.skipped.old_versions += 1;
                    return Ok(());
                }
                None => {
                    return Err(de::Error::custom(format!(
                        "the version of the object that starts on line {start} has no \"IsLatest\": \
                         expected true or false, as aws s3api list-object-versions prints"
                    )))
                }
            }
        }
        let at = At { file: st.name.clone(), line: Some(line) };
        let item = match st.encoding {
            KeyEncoding::AsPrinted => Ok(key.into_bytes()),
            KeyEncoding::Url => url_decode(&key).map_err(|what| BadEntry { at: at.clone(), what }),
        }
        .map(|key| {
            let mut entry = Entry::new(key);
            entry.size = size.flatten();
            entry.etag = etag.flatten();
            entry.at = Some(at);
            entry
        });
        if (st.sink)(item).is_break() {
            st.stopped = true;
            return Err(de::Error::custom("the reading was stopped"));
        }
        Ok(())
    }
}

/// A string, with what it is for messages.
struct Text(&'static str);

impl<'de> DeserializeSeed<'de> for Text {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(self)
    }
}

impl Visitor<'_> for Text {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
}

/// A string or null.
struct OptionalText(&'static str);

impl<'de> DeserializeSeed<'de> for OptionalText {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalText {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        Text(self.0).deserialize(d).map(Some)
    }
}

/// `Size`: a whole number of bytes.
struct Bytes(u64);

impl<'de> de::Deserialize<'de> for Bytes {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bytes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"Size\": a byte count, a whole number from 0 to 18446744073709551615")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_u64(V)
    }
}

/// A URL-encoded key decoded as Python's `unquote_plus` decodes it (botocore's `unquote_str`):
/// `+` is a space and `%XX` a byte, in one pass so that `%2B` stays a `+`. By hand because the
/// `percent-encoding` crate passes a malformed `%` through unchanged and knows nothing of `+`;
/// a listing whose keys do not decode is better refused than read as other keys.
pub(crate) fn url_decode(key: &str) -> Result<Vec<u8>, String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| {
                    u8::from_str_radix(h, 16).ok().filter(|_| h.bytes().all(|b| b.is_ascii_hexdigit()))
                }) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => {
                        let found: String = key[i..].chars().take(3).collect();
                        return Err(format!(
                            "the key {key:?} is not URL-encoded: {found:?} at byte {} is not a %XX escape \
                             (were the keys listed without --encoding-type url?)",
                            i + 1
                        ));
                    }
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    if std::str::from_utf8(&out).is_err() {
        return Err(format!(
            "the key {key:?} decodes to bytes that are not UTF-8, and S3 keys are UTF-8 \
             (were the keys listed without --encoding-type url?)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;

    type Items = Vec<Result<Entry, BadEntry>>;

    fn read_with(input: &[u8], encoding: KeyEncoding) -> (Items, Result<Summary, ListingError>) {
        let mut items = Vec::new();
        let result =
            ListObjectsV2::new(input, "listing.json").key_encoding(encoding).read_listing(&mut |item| {
                items.push(item);
                ControlFlow::Continue(())
            });
        (items, result)
    }

    fn read_ok(input: &str) -> (Vec<Entry>, Summary) {
        let (items, result) = read_with(input.as_bytes(), KeyEncoding::AsPrinted);
        let summary = result.unwrap_or_else(|e| panic!("{e}"));
        (items.into_iter().map(|i| i.unwrap()).collect(), summary)
    }

    /// The format error for `input`: its line and message.
    fn format_error(input: &str) -> (u64, String) {
        let (_, result) = read_with(input.as_bytes(), KeyEncoding::AsPrinted);
        match result {
            Err(ListingError::Format { at, what }) => {
                assert_eq!(at.file, PathBuf::from("listing.json"));
                (at.line.unwrap(), what)
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }

    /// What `aws s3api list-objects-v2 --bucket b` printed (aws-cli 2, indent 4, non-ASCII as is).
    const AWS_CLI: &str = r#"{
    "Contents": [
        {
            "Key": "dir/a file.bin",
            "LastModified": "2025-01-02T03:04:05+00:00",
            "ETag": "\"669fdad9e309b552f1e9cf7b489c1f73-2\"",
            "ChecksumAlgorithm": [
                "CRC64NVME"
            ],
            "ChecksumType": "FULL_OBJECT",
            "Size": 10485760,
            "StorageClass": "STANDARD",
            "Owner": {
                "DisplayName": "someone",
                "ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
            }
        },
        {
            "Key": "café/ü +plus%41",
            "LastModified": "2025-01-02T03:04:06+00:00",
            "ETag": "\"d41d8cd98f00b204e9800998ecf8427e\"",
            "Size": 0,
            "StorageClass": "GLACIER",
            "RestoreStatus": {
                "IsRestoreInProgress": false,
                "RestoreExpiryDate": "2025-02-01T00:00:00+00:00"
            }
        }
    ],
    "RequestCharged": null,
    "Prefix": ""
}
"#;

    #[test]
    fn reads_what_the_aws_cli_prints() {
        let (entries, summary) = read_ok(AWS_CLI);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].key, b"dir/a file.bin");
        assert_eq!(entries[0].size, Some(10485760));
        assert_eq!(entries[0].etag.as_deref(), Some("\"669fdad9e309b552f1e9cf7b489c1f73-2\""));
        assert_eq!(entries[0].at, Some(At { file: "listing.json".into(), line: Some(4) }));
        assert_eq!(entries[1].key, "café/ü +plus%41".as_bytes());
        assert_eq!(entries[1].size, Some(0));
        assert_eq!(entries[1].at.as_ref().unwrap().line, Some(19));
        assert_eq!((entries[0].layout.as_ref(), entries[0].multipart), (None, None));
        assert_eq!(summary, Summary { skipped: Skipped::default(), truncated: false, pages: 1 });
    }

    #[test]
    fn compact_json_and_unicode_escapes() {
        let json = r#"{"Contents":[{"Key":"a\u0000b\/\"c\\ \ud83d\ude00 \u00e9","Size":3,"ETag":"x"},{"Key":"../../etc/passwd"},{"Key":"/abs","Size":null,"ETag":null}],"KeyCount":3}"#;
        let (entries, _) = read_ok(json);
        assert_eq!(entries[0].key, "a\0b/\"c\\ 😀 é".as_bytes());
        assert_eq!(entries[0].at.as_ref().unwrap().line, Some(1));
        assert_eq!(
            (entries[1].key.as_slice(), entries[1].size, entries[1].etag.as_deref()),
            (&b"../../etc/passwd"[..], None, None)
        );
        assert_eq!(
            (entries[2].key.as_slice(), entries[2].size, entries[2].etag.as_deref()),
            (&b"/abs"[..], None, None)
        );
        let long = "k".repeat(1024);
        let (entries, _) = read_ok(&format!(r#"{{"Contents": [{{"Key": "{long}"}}]}}"#));
        assert_eq!(entries[0].key, long.as_bytes());
    }

    #[test]
    fn url_encoded_keys_when_told() {
        let json = r#"{"Contents": [{"Key": "a+b%2Bc%20d%C3%A9%2f"}, {"Key": "100%"}, {"Key": "%zz"}, {"Key": "%FF"}, {"Key": "ok"}], "EncodingType": "url"}"#;
        let (items, result) = read_with(json.as_bytes(), KeyEncoding::Url);
        result.unwrap();
        assert_eq!(items[0].as_ref().unwrap().key, "a b+c dé/".as_bytes());
        let e = items[1].as_ref().unwrap_err();
        assert_eq!(e.at, At { file: "listing.json".into(), line: Some(1) });
        assert!(e.what.contains(r#""%" at byte 4 is not a %XX escape"#), "{}", e.what);
        assert!(items[2].as_ref().unwrap_err().what.contains(r#""%zz" at byte 1"#));
        assert!(items[3].as_ref().unwrap_err().what.contains("not UTF-8"));
        assert_eq!(items[4].as_ref().unwrap().key, b"ok");
        // As printed (the default), `EncodingType` changes nothing: botocore decoded the keys.
        let (entries, _) = read_ok(json);
        assert_eq!(entries[0].key, b"a+b%2Bc%20d%C3%A9%2f");
        assert_eq!(entries.len(), 5);
    }

    #[test]
    fn pages_empty_listings_and_versions() {
        let (entries, s) = read_ok(r#"{"RequestCharged": null, "Prefix": ""}"#);
        assert!(entries.is_empty());
        assert_eq!((s.truncated, s.pages), (false, 1));
        let (_, s) =
            read_ok(r#"{"Contents": [{"Key": "a"}], "NextToken": "eyJDb250aW51YXRpb25Ub2tlbiI6IG51bGx9"}"#);
        assert!(s.truncated);
        let pages = r#"{"IsTruncated": true, "Contents": [{"Key": "a"}], "NextContinuationToken": "t"}
{"IsTruncated": false, "Contents": [{"Key": "b"}]}{"Contents": [{"Key": "c"}], "IsTruncated": false}
"#;
        let (entries, s) = read_ok(pages);
        let keys: Vec<&[u8]> = entries.iter().map(|e| e.key.as_slice()).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"c"]);
        assert_eq!(entries[2].at.as_ref().unwrap().line, Some(2));
        assert_eq!((s.truncated, s.pages), (false, 3));
        let (_, s) = read_ok(r#"{"Contents": [], "IsTruncated": true}"#);
        assert!(s.truncated);

        let versions = r#"{"Versions": [
            {"ETag": "\"e1\"", "Size": 1, "Key": "a", "VersionId": "2", "IsLatest": true},
            {"ETag": "\"e0\"", "Size": 2, "Key": "a", "VersionId": "1", "IsLatest": false},
            {"ETag": "\"e3\"", "Size": 3, "Key": "b", "VersionId": "1", "IsLatest": false}],
          "DeleteMarkers": [{"Key": "b", "VersionId": "2", "IsLatest": true}], "RequestCharged": null}"#;
        let (entries, s) = read_ok(versions);
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].key.as_slice(), entries[0].size, entries[0].at.as_ref().unwrap().line),
            (&b"a"[..], Some(1), Some(2))
        );
        assert_eq!((s.skipped.old_versions, s.skipped.delete_markers), (2, 1));
        let (line, what) = format_error(r#"{"Versions": [{"Key": "a"}]}"#);
        assert_eq!(line, 1);
        assert!(what.contains("has no \"IsLatest\""), "{what}");

        // --query 'Contents', and a byte order mark.
        let (entries, _) = read_ok("\u{feff}[{\"Key\": \"q\", \"Size\": 1}]");
        assert_eq!(entries[0].key, b"q");
        let (entries, _) = read_ok("[]");
        assert!(entries.is_empty());
    }

    #[test]
    fn broken_listings_are_format_errors_with_the_line() {
        let cases: &[(&str, u64, &str)] = &[
            ("", 1, "the file holds no JSON value"),
            (" \n\n ", 3, "the file holds no JSON value"),
            (
                "{\n\"Contents\": [\n{\"Size\": 1}\n]}",
                3,
                "the object of \"Contents\" that starts on line 3 has no \"Key\"",
            ),
            (
                "{\"Contents\": [{\"Key\": 5}]}",
                1,
                "invalid type: integer `5`, expected \"Key\": the object's key, a string",
            ),
            (
                "{\"Contents\": [{\"Key\": \"a\", \"Size\": \"5\"}]}",
                1,
                "invalid type: string \"5\", expected \"Size\": a byte count",
            ),
            (
                "{\"Contents\": [{\"Key\": \"a\", \"Size\": -1}]}",
                1,
                "invalid type: integer `-1`, expected \"Size\"",
            ),
            (
                "{\"Contents\": [{\"Key\": \"a\", \"Size\": 1.5}]}",
                1,
                "floating point `1.5`, expected \"Size\"",
            ),
            ("{\"Contents\": [{\"Key\": \"a\", \"ETag\": 7}]}", 1, "expected \"ETag\": a string"),
            ("{\"Contents\": [{\"Key\": \"a\", \"Key\": \"b\"}]}", 1, "\"Key\" is given twice"),
            ("{\"Contents\": {\"Key\": \"a\"}}", 1, "expected \"Contents\": an array of objects"),
            ("{\"Contents\": [\"a\"]}", 1, "expected an object of \"Contents\" with a \"Key\""),
            ("{\"Contents\": [{\"Key\": \"\\ud800\"}]}", 1, "hex escape"),
            (
                "{\"Contents\": [{\"Key\": \"a\"}]",
                1,
                "the file ends in the middle of the JSON (EOF while parsing an object); is it truncated?",
            ),
            ("{\n\"Contents\": [\n", 2, "the file ends in the middle of the JSON (EOF while parsing a list)"),
            ("\n\n", 2, "the file holds no JSON value"),
            ("{\n\"Prefix\": \"a\nb\"}", 2, "at the end of the line: control character"),
            ("{\"Contents\": [{\"Key\": \"a\"},\n]}", 2, "trailing comma"),
            ("{\"Contents\": []}\nnot json", 2, "after the listing's JSON"),
            ("{\"Contents\": []}\n]", 2, "after the listing's JSON"),
            ("{\"Contents\": []}\n5", 2, "expected the JSON object that aws s3api list-objects-v2 prints"),
            ("{}", 1, "none of the fields that aws s3api list-objects-v2 prints"),
            ("{\"sourceBucket\": \"b\"}", 1, "is this a bucket listing?"),
            ("null", 1, "invalid type: null, expected the JSON object"),
            ("\u{feff}\u{feff}{}", 1, "expected value"),
        ];
        for (input, line, want) in cases {
            let (l, what) = format_error(input);
            assert!(what.contains(want), "{input:?}: {what:?} does not say {want:?}");
            assert_eq!(l, *line, "{input:?}: {what}");
        }
        let (_, what) = format_error("{\"Contents\": [{\"Key\": 5}]}");
        assert!(what.starts_with("column 24: "), "{what}");
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("{}".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let (_, result) = read_with(&utf16, KeyEncoding::AsPrinted);
        assert!(result.unwrap_err().to_string().starts_with("listing.json:1: the file is UTF-16"));
    }

    #[test]
    fn entries_before_a_format_error_reach_the_sink() {
        let (items, result) =
            read_with(b"{\"Contents\": [{\"Key\": \"a\"}, {\"Key\": 1}]}", KeyEncoding::AsPrinted);
        assert_eq!(items.len(), 1);
        assert!(matches!(result, Err(ListingError::Format { .. })));
    }

    #[test]
    fn truncated_at_every_byte_never_panics_and_is_a_format_error() {
        let (all, _) = read_ok(AWS_CLI);
        let full = AWS_CLI.trim_end().len();
        for cut in 0..AWS_CLI.len() {
            let (items, result) = read_with(&AWS_CLI.as_bytes()[..cut], KeyEncoding::AsPrinted);
            let got: Vec<Entry> = items.into_iter().map(|i| i.unwrap()).collect();
            assert_eq!(got[..], all[..got.len()], "cut at {cut}");
            if cut >= full {
                assert!(result.is_ok(), "cut at {cut}: {result:?}");
            } else {
                match result {
                    Err(ListingError::Format { at, what }) => {
                        let text = &AWS_CLI.as_bytes()[..cut];
                        let lines = text.split(|&b| b == b'\n').count() - usize::from(text.ends_with(b"\n"));
                        let lines = lines.max(1) as u64;
                        assert!(
                            at.line.is_some_and(|l| (1..=lines).contains(&l)),
                            "cut at {cut}: {at}, of {lines}"
                        );
                        assert!(!what.is_empty());
                    }
                    other => panic!("cut at {cut}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn the_sink_stops_the_reading() {
        let mut n = 0;
        let summary = ListObjectsV2::new(AWS_CLI.as_bytes(), "l")
            .read_listing(&mut |_| {
                n += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!((n, summary.pages), (1, 0));
    }

    /// Hands out one byte per read, with an interruption before each.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(1);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn one_byte_per_read() {
        let (want, _) = read_ok(&format!("\u{feff}{AWS_CLI}"));
        let mut got = Vec::new();
        let input = format!("\u{feff}{AWS_CLI}");
        ListObjectsV2::new(Trickle { data: input.as_bytes(), interrupt: false }, "l")
            .read(&mut |item| {
                got.push(item.unwrap());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(
            got.iter().map(|e| &e.key).collect::<Vec<_>>(),
            want.iter().map(|e| &e.key).collect::<Vec<_>>()
        );
        assert_eq!(got[1].at.as_ref().unwrap().line, Some(19));
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn io_errors_are_io_errors() {
        let input = b"{\"Contents\": [{\"Key\": \"a\"},";
        let mut n = 0;
        let e = ListObjectsV2::new(input[..].chain(Failing), "l")
            .read(&mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert_eq!(n, 1);
        assert!(matches!(&e, ListingError::Io { .. }), "{e:?}");
        assert_eq!(e.to_string(), "l: disk on fire");
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a+b").unwrap(), b"a b");
        assert_eq!(url_decode("%2B%2b+").unwrap(), b"++ ");
        assert_eq!(url_decode("%e2%82%ac").unwrap(), "€".as_bytes());
        for bad in ["%", "%4", "%4g", "%+1", "%-1", "a%", "%é1"] {
            assert!(url_decode(bad).is_err(), "{bad}");
        }
        assert!(url_decode("%C3").unwrap_err().contains("not UTF-8"));
    }
}
