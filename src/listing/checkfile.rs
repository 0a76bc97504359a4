//! Checkfiles: what `etagsum hash` prints, read back as `md5sum -c` reads its own output.
//!
//! A checkfile is read line by line; a line ends in `\n` (the last one may lack it). Every line
//! is one of the following.
//!
//! **Plain**, as md5sum prints: `ETAG  NAME` (two spaces), or md5sum's binary form `ETAG *NAME`.
//! ETAG is the token before the first space or tab, kept as written in [`Entry::etag`]: the
//! checker parses it, so that one bad value is that file's error. Every byte after the separator
//! is the name, leading and trailing spaces and a leading `*` included. A plain line records no
//! layout: a multipart ETag is checked by guessing the part size, as `etagsum verify` guesses.
//!
//! **Tagged**, etagsum's own form, which records the size and the layout so that a multipart ETag
//! is checked definitively (written by `etagsum hash --tag`, see [`tagged_line`]):
//!
//! ```text
//! ETAG size=25165824 part-size=8388608 (NAME) = 0123…-3          parts of 8 MiB, the last shorter
//! ETAG size=5 single (NAME) = 0123…                               one PUT
//! ETAG size=10485777 part-sizes=5242880,5242880,17 (NAME) = …-3   the size of every part, in order
//! ETAG (NAME) = …                                                 nothing recorded: guessed
//! ```
//!
//! The line starts with the word `ETAG` and one space, then the attributes, separated by
//! spaces, each at most once:
//! - `size=BYTES`: the object's size, [`Entry::size`];
//! - at most one of `part-size=BYTES` ([`Layout::uniform`]), `part-sizes=BYTES,BYTES,…`
//!   ([`Layout::explicit`], whose sizes must add up to `size=` when both are given) and `single`
//!   ([`Layout::Single`]): [`Entry::layout`].
//!
//! BYTES is a plain decimal byte count (no suffix); a part size of 0 is refused. Then comes ` (`,
//! the name, and `) = ` followed by the ETag; the name runs from the first `(` to the *last*
//! `) = ` on the line, so it may hold `(`, `)` and `) = ` itself. An unknown attribute, a bad
//! number or a layout that cannot be is a bad line. md5sum's own tagged line, `MD5 (NAME) = HEX`
//! (`md5sum --tag`), is read as a tagged line that records nothing: a file's MD5 is its
//! single-part ETag.
//!
//! **Checksums.** `hash --checksum` adds a line per additional checksum, as `cksum --tag` writes
//! its own: `CRC64NVME (NAME) = VALUE` ([`checksum_line`]), or with `--tag` the attributes of a
//! tagged line and the type between the algorithm and the name, `CRC32 size=… part-size=…
//! type=composite (NAME) = VALUE-3` ([`checksum_tagged_line`]). The algorithm is S3's name
//! (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`); the value, kept as written in
//! [`Entry::checksums`], is parsed by the checker, which judges it as `verify --checksum` does: a
//! value without `-N` and without `type=` may be full-object or composite. A file with an ETag
//! line and checksum lines is checked once per line.
//!
//! **Escaped names.** A name holding a backslash, a newline or a carriage return is written as
//! md5sum writes it: the line starts with `\`, and in the name `\\`, `\n` and `\r` stand for a
//! backslash, a newline and a carriage return. In an escaped name a backslash followed by
//! anything else, or at its end, makes the line bad (md5sum refuses it too). Other bytes,
//! including bytes that are not UTF-8, are the name's own: names are bytes ([`Entry::key`]).
//!
//! **Skipped**: empty lines, lines of spaces and tabs only, and lines starting with `#`, counted
//! in [`Skipped::blank_lines`].
//!
//! **Bad**: any other line (garbage, a NUL byte anywhere, no separator, an empty name, a line
//! longer than [`MAX_LINE`]) is handed to the sink as a [`BadEntry`] naming the file and the
//! line, and reading goes on. Only an I/O error on the checkfile itself stops the reading
//! ([`ListingError::Io`]). Memory is bounded by [`MAX_LINE`]: a longer line is skipped to its end
//! without being kept.
//!
//! **Not a checkfile.** Two things stop the reading with a [`ListingError::Format`], so that a
//! file that is no checkfile at all (`/dev/zero`, `/dev/urandom`, a binary file named by
//! mistake) ends the run instead of running it forever: a line that runs on for [`SKIP_MAX`]
//! bytes without a line end, and more than [`BAD_MAX`] bad lines when fewer than one line in
//! ten was read well. A file that starts with a UTF-16 byte order mark (Windows PowerShell 5
//! writes `>` redirections so) is refused at once, saying so.
//!
//! **Windows line endings.** A carriage return at the very end of a line is dropped before the
//! line is read, as GNU md5sum does since coreutils 9.0, so that a checkfile saved on Windows
//! reads the same. No name written by etagsum (or by md5sum since 9.0) loses a byte to this: a
//! name holding a carriage return is written escaped, the CR as `\r`. A name ending in a raw CR
//! (written unescaped by an older md5sum) is read without it; its file is then not found, which
//! is a failure, never a false OK. A UTF-8 byte order mark at the start of the file (Notepad
//! writes one) is dropped too. Like md5sum, spaces and tabs before the ETag (or before the `\`
//! of an escaped line) are ignored, and a tab may stand for the first space of the separator.
//!
//! Writing and reading are this module's job alone: [`plain_line`] and [`tagged_line`] write
//! exactly what [`Checkfile`] reads back to the same name, size, layout and ETag.

use std::io::{BufRead, Read as _};
use std::path::PathBuf;

use super::{At, BadEntry, Entry, ListingError, Sink, Skipped, Source};
use crate::checksum::{Algorithm, Checksum, ChecksumType};
use crate::etag::Etag;
use crate::layout::Layout;

/// The longest line read, in bytes (1 MiB), without its line ending: a longer line is a bad line,
/// skipped without being kept in memory. A line holds an ETag, a few attributes and one file
/// name (at most 4,096 bytes on most systems, twice that escaped); an explicit list of 10,000
/// part sizes takes about 110 KB.
pub const MAX_LINE: usize = 1 << 20;

/// The most bytes of one line skipped: a line that runs longer is no line of a checkfile, and the
/// file is not read further (`/dev/zero` has no line end).
pub const SKIP_MAX: u64 = 1 << 30;

/// Bad lines read before the file may be judged no checkfile (when fewer than one line in ten
/// was good): a checkfile with a few bad lines is read to its end, `/dev/urandom` is not.
pub const BAD_MAX: u64 = 1000;

/// What a tagged line's attributes may be, for messages.
const TAGGED_FORM: &str =
    "`ETAG [size=BYTES] [part-size=BYTES | part-sizes=BYTES,BYTES,... | single] (NAME) = ETAG`";

/// A checkfile read line by line.
#[derive(Debug)]
pub struct Checkfile<R> {
    reader: R,
    name: PathBuf,
}

impl<R: BufRead> Checkfile<R> {
    /// Reads `reader`, named `name` in messages.
    pub fn new(reader: R, name: impl Into<PathBuf>) -> Checkfile<R> {
        Checkfile { reader, name: name.into() }
    }
}

impl<R: BufRead> Source for Checkfile<R> {
    fn read(mut self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        let io_err = |source| ListingError::Io { path: self.name.clone(), source };
        let mut skipped = Skipped::default();
        let mut buf = Vec::new();
        let mut number = 0u64;
        let (mut good, mut bad) = (0u64, 0u64);
        let head = self.reader.fill_buf().map_err(io_err)?;
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(ListingError::format(
                At { file: self.name.clone(), line: Some(1) },
                "the file is UTF-16 (Windows PowerShell 5 writes `>` redirections so); save the checkfile as \
                 UTF-8, e.g. `etagsum hash ... | Out-File -Encoding utf8 sums.txt`",
            ));
        }
        loop {
            buf.clear();
            // `take` bounds the line in memory: one byte more than the limit tells a line that is
            // too long from one that is exactly as long as allowed.
            let n =
                (&mut self.reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(io_err)?;
            if n == 0 {
                break;
            }
            number += 1;
            let parsed = if buf.last() == Some(&b'\n') {
                buf.pop();
                parse_line(&buf, number == 1)
            } else if buf.len() > MAX_LINE {
                let skipped = (&mut self.reader).take(SKIP_MAX).skip_until(b'\n').map_err(io_err)?;
                if skipped as u64 == SKIP_MAX {
                    return Err(ListingError::format(
                        At { file: self.name.clone(), line: Some(number) },
                        format!(
                            "the line runs on for more than {SKIP_MAX} bytes without a line end: \
                             expected a checkfile, lines of `etagsum hash` (is this a binary file?)"
                        ),
                    ));
                }
                Err(format!(
                    "the line is longer than {MAX_LINE} bytes; a checkfile line holds an ETag, a few attributes and one file name"
                ))
            } else {
                parse_line(&buf, number == 1)
            };
            let at = At { file: self.name.clone(), line: Some(number) };
            let item = match parsed {
                Ok(None) => {
                    skipped.blank_lines += 1;
                    continue;
                }
                Ok(Some(mut entry)) => {
                    good += 1;
                    entry.at = Some(at);
                    Ok(entry)
                }
                Err(what) => {
                    bad += 1;
                    Err(BadEntry { at, what })
                }
            };
            if sink(item).is_break() {
                break;
            }
            if bad > BAD_MAX && bad > good.saturating_mul(9) {
                return Err(ListingError::format(
                    At { file: self.name.clone(), line: Some(number) },
                    format!(
                        "{bad} of the first {number} lines are not checksum lines, and only {good} are: \
                         expected a checkfile, lines of `etagsum hash` (is this a binary file?); \
                         the lines after this one were not read"
                    ),
                ));
            }
        }
        Ok(skipped)
    }
}

/// One line, without its `\n`: an entry, `None` for a line to skip, or what is wrong with it.
fn parse_line(line: &[u8], first: bool) -> Result<Option<Entry>, String> {
    let mut line = line;
    if first {
        line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    }
    if let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    if line.first() == Some(&b'#') {
        return Ok(None);
    }
    let Some(start) = line.iter().position(|&b| !is_blank(b)) else {
        return Ok(None);
    };
    if line.contains(&0) {
        return Err("the line holds a NUL byte, which no file name holds".to_string());
    }
    let mut rest = &line[start..];
    let escaped = rest.first() == Some(&b'\\');
    if escaped {
        rest = &rest[1..];
    }
    if let Some(after) = rest.strip_prefix(b"ETAG ") {
        if !matches!(after.first(), None | Some(b' ' | b'*')) {
            return parse_tagged(after, escaped, true).map(Some);
        }
    }
    if let Some(after) = rest.strip_prefix(b"MD5 ") {
        if after.first() == Some(&b'(') {
            return parse_tagged(after, escaped, false).map(Some);
        }
    }
    for algorithm in Algorithm::ALL {
        let Some(after) = rest.strip_prefix(algorithm.name().as_bytes()).and_then(|a| a.strip_prefix(b" "))
        else {
            continue;
        };
        if !matches!(after.first(), None | Some(b' ' | b'*')) {
            let (after, checksum_type) = take_type(after)?;
            let mut entry = parse_tagged(&after, escaped, true)?;
            let value = entry.etag.take().unwrap_or_default();
            entry.checksums.push((algorithm, value));
            entry.checksum_type = checksum_type;
            return Ok(Some(entry));
        }
    }
    parse_plain(rest, escaped).map(Some)
}

/// Takes the `type=full|composite` attribute out of a checksum line's attributes (before the
/// first `(`), which then read as an ETag line's.
fn take_type(after: &[u8]) -> Result<(Vec<u8>, Option<ChecksumType>), String> {
    let open = after.iter().position(|&b| b == b'(').unwrap_or(after.len());
    let (attrs, rest) = after.split_at(open);
    let mut kept = Vec::with_capacity(after.len());
    let mut found = None;
    for word in attrs.split(|&b| is_blank(b)).filter(|w| !w.is_empty()) {
        match word.strip_prefix(b"type=") {
            Some(v) => {
                let t = std::str::from_utf8(v).ok().and_then(|v| v.parse::<ChecksumType>().ok());
                let t =
                    t.ok_or_else(|| format!("type={}: expected type=full or type=composite", shown(v)))?;
                if found.replace(t).is_some() {
                    return Err("`type=` is given twice".to_string());
                }
            }
            None => {
                kept.extend_from_slice(word);
                kept.push(b' ');
            }
        }
    }
    kept.extend_from_slice(rest);
    Ok((kept, found))
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `ETAG  NAME` or `ETAG *NAME`, after the leading blanks and the escape mark.
fn parse_plain(rest: &[u8], escaped: bool) -> Result<Entry, String> {
    let expected = || {
        format!("expected `ETAG  NAME` (two spaces, as md5sum writes), `ETAG *NAME` or a tagged line {TAGGED_FORM}")
    };
    let Some(end) = rest.iter().position(|&b| is_blank(b)) else {
        return Err(format!("no separator after {}: {}", shown(rest), expected()));
    };
    let (token, after) = (&rest[..end], &rest[end + 1..]);
    if token.is_empty() {
        return Err(format!("no ETag before the separator: {}", expected()));
    }
    let name = match after.first() {
        Some(b' ' | b'*') => &after[1..],
        _ => return Err(format!("one space after the ETag {}: {}", shown(token), expected())),
    };
    let etag = text(token, "the ETag")?;
    let key = name_of(name, escaped)?;
    let mut entry = Entry::new(key);
    entry.etag = Some(etag);
    Ok(entry)
}

/// A tagged line after `ETAG ` (`attributes`: attributes may come before `(`) or after `MD5 `.
fn parse_tagged(after: &[u8], escaped: bool, attributes: bool) -> Result<Entry, String> {
    let Some(open) = after.iter().position(|&b| b == b'(') else {
        return Err(format!("a tagged line without `(NAME)`: expected {TAGGED_FORM}"));
    };
    let tail = &after[open + 1..];
    let Some(close) = tail.windows(4).rposition(|w| w == b") = ") else {
        return Err(format!("no `) = ` after the name: expected {TAGGED_FORM}"));
    };
    let value = &tail[close + 4..];
    if value.is_empty() {
        return Err(format!("no ETag after `) = `: expected {TAGGED_FORM}"));
    }
    let mut entry = Entry::new(name_of(&tail[..close], escaped)?);
    entry.etag = Some(text(value, "the ETag")?);
    let attrs = &after[..open];
    if attributes {
        let (size, layout) = parse_attributes(attrs)?;
        entry.size = size;
        entry.layout = layout;
    } else if !attrs.is_empty() {
        return Err(
            "md5sum's tagged line is `MD5 (NAME) = HEX`, with nothing between `MD5` and `(`".to_string()
        );
    }
    Ok(entry)
}

/// The attributes of a tagged line: its size and layout.
fn parse_attributes(attrs: &[u8]) -> Result<(Option<u64>, Option<Layout>), String> {
    let attrs = text(attrs, "the attributes")?;
    let mut size = None;
    let mut layout: Option<(Layout, &str)> = None;
    for word in attrs.split([' ', '\t']).filter(|w| !w.is_empty()) {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let new_layout = match key {
            "size" if word.contains('=') => {
                if size.replace(bytes(value, "size")?).is_some() {
                    return Err("`size=` is given twice".to_string());
                }
                continue;
            }
            "part-size" if word.contains('=') => Layout::uniform(bytes(value, "part-size")?),
            "part-sizes" if word.contains('=') => {
                let sizes = value.split(',').map(|v| bytes(v, "part-sizes")).collect::<Result<Vec<_>, _>>()?;
                Layout::explicit(sizes)
            }
            "single" if !word.contains('=') => Ok(Layout::Single),
            _ => {
                return Err(format!(
                    "unknown attribute {}: expected size=BYTES, part-size=BYTES, part-sizes=BYTES,BYTES,... or single",
                    shown(word.as_bytes())
                ))
            }
        };
        let new_layout = new_layout.map_err(|e| format!("{word}: {e}"))?;
        if let Some((_, old)) = &layout {
            return Err(format!("two layouts, `{old}` and `{word}`: a line records at most one"));
        }
        layout = Some((new_layout, word));
    }
    if let (Some(size), Some((layout, word))) = (size, &layout) {
        layout.part_count(size).map_err(|e| format!("{word} with size={size}: {e}"))?;
    }
    Ok((size, layout.map(|(l, _)| l)))
}

/// A plain decimal byte count.
fn bytes(value: &str, what: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{what}={}: expected a byte count in plain decimal digits (such as 8388608)",
            shown(value.as_bytes())
        ));
    }
    value.parse().map_err(|_| format!("{what}={value}: larger than 18446744073709551615 bytes"))
}

fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what}, {}, is not UTF-8 text", shown(bytes)))
}

/// The name as written: unescaped if the line is, and never empty.
fn name_of(raw: &[u8], escaped: bool) -> Result<Vec<u8>, String> {
    let name = if escaped { unescape(raw)? } else { raw.to_vec() };
    if name.is_empty() {
        return Err("the file name is empty".to_string());
    }
    Ok(name)
}

/// md5sum's unescaping: `\\`, `\n`, `\r`; any other backslash is an error.
fn unescape(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(&c) => {
                return Err(format!(
                    "in an escaped name (the line starts with `\\`), `\\{}` is not an escape: only \\\\, \\n and \\r are",
                    char::from(c).escape_default()
                ))
            }
            None => return Err("the escaped name ends in a lone backslash".to_string()),
        }
    }
    Ok(out)
}

/// Bytes quoted for a message: lossy, with control characters escaped, at most 60 characters.
fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(MAX).flat_map(char::escape_debug).collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    format!("`{out}`")
}

/// The plain line for a file: `ETAG  NAME` and a newline, escaped as md5sum escapes names that
/// hold a backslash, a newline or a carriage return. [`Checkfile`] reads it back to `name` and
/// the ETag (a name holding NUL, or an empty one, reads back as a bad line: no file has such a
/// name).
pub fn plain_line(name: &[u8], etag: &Etag) -> Vec<u8> {
    line(format!("{etag}  ").as_bytes(), name, b"")
}

/// The tagged line for a file of `size` bytes uploaded with `layout`:
/// `ETAG size=SIZE LAYOUT (NAME) = ETAG` and a newline, where LAYOUT is `single`,
/// `part-size=P` or `part-sizes=P1,P2,...`, escaped as [`plain_line`] is. [`Checkfile`] reads it
/// back to `name`, `size`, `layout` and the ETag, provided the layout can describe `size` bytes
/// (explicit part sizes add up to it; otherwise the line reads back as a bad line).
pub fn tagged_line(name: &[u8], size: u64, layout: &Layout, etag: &Etag) -> Vec<u8> {
    line(format!("ETAG {} (", attributes(size, layout)).as_bytes(), name, format!(") = {etag}").as_bytes())
}

/// `size=SIZE LAYOUT`, the attributes of a tagged line.
fn attributes(size: u64, layout: &Layout) -> String {
    let layout = match layout {
        Layout::Single => "single".to_string(),
        Layout::Uniform { part_size, .. } => format!("part-size={part_size}"),
        Layout::Explicit { part_sizes, .. } => {
            let sizes: Vec<String> = part_sizes.iter().map(u64::to_string).collect();
            format!("part-sizes={}", sizes.join(","))
        }
    };
    format!("size={size} {layout}")
}

/// The tagged line of an additional checksum of type `checksum_type` of a file of `size` bytes
/// uploaded with `layout`: `ALGORITHM size=SIZE LAYOUT type=full|composite (NAME) = VALUE`, so that
/// `etagsum check` verifies the value with the layout and type that made it. [`Checkfile`] reads
/// it back to `name`, `size`, `layout`, the checksum and its type.
pub fn checksum_tagged_line(
    name: &[u8],
    size: u64,
    layout: &Layout,
    checksum: &Checksum,
    checksum_type: ChecksumType,
) -> Vec<u8> {
    let t = match checksum_type {
        ChecksumType::FullObject => "full",
        ChecksumType::Composite => "composite",
    };
    let before = format!("{} {} type={t} (", checksum.algorithm(), attributes(size, layout));
    line(before.as_bytes(), name, format!(") = {checksum}").as_bytes())
}

/// The line of an additional checksum of a file, as `cksum --tag` writes its own:
/// `ALGORITHM (NAME) = VALUE` and a newline (`CRC64NVME (data.bin) = …`), with S3's name of the
/// algorithm and the value as S3 shows it; escaped as [`plain_line`] is. [`Checkfile`] reads it
/// back to `name` and the checksum.
pub fn checksum_line(name: &[u8], checksum: &Checksum) -> Vec<u8> {
    line(format!("{} (", checksum.algorithm()).as_bytes(), name, format!(") = {checksum}").as_bytes())
}

/// `before`, the name, `after` and a newline; escaped as md5sum escapes (`before` and `after` hold
/// no byte that needs it).
fn line(before: &[u8], name: &[u8], after: &[u8]) -> Vec<u8> {
    let escape = name.iter().any(|&b| matches!(b, b'\\' | b'\n' | b'\r'));
    let mut out = Vec::with_capacity(before.len() + name.len() * 2 + after.len() + 2);
    if escape {
        out.push(b'\\');
        out.extend_from_slice(before);
        for &b in name {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.push(b),
            }
        }
    } else {
        out.extend_from_slice(before);
        out.extend_from_slice(name);
    }
    out.extend_from_slice(after);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use std::io::{self, BufReader, Read};
    use std::ops::ControlFlow;

    use proptest::prelude::*;

    use super::*;
    use crate::etag::Md5Digest;

    /// Every item the reader hands out, and what it skipped.
    fn read_all(input: &[u8]) -> (Vec<Result<Entry, BadEntry>>, Skipped) {
        let mut items = Vec::new();
        let skipped = Checkfile::new(input, "sums")
            .read(&mut |item| {
                items.push(item);
                ControlFlow::Continue(())
            })
            .unwrap();
        (items, skipped)
    }

    fn one(input: &[u8]) -> Result<Entry, BadEntry> {
        let (mut items, _) = read_all(input);
        assert_eq!(items.len(), 1, "{:?} gave {items:?}", String::from_utf8_lossy(input));
        items.remove(0)
    }

    fn entry(input: &[u8]) -> Entry {
        one(input).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(input)))
    }

    fn bad(input: &[u8]) -> String {
        match one(input) {
            Ok(e) => panic!("{:?} was read as {e:?}", String::from_utf8_lossy(input)),
            Err(e) => {
                assert_eq!(e.at, At { file: "sums".into(), line: Some(1) });
                e.what
            }
        }
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    fn etag(s: &str) -> Etag {
        s.parse().unwrap()
    }

    #[test]
    fn plain_lines_as_md5sum_writes_them() {
        let e = entry(format!("{HEX}  dir/a file.bin\n").as_bytes());
        assert_eq!(e.key, b"dir/a file.bin");
        assert_eq!(e.etag.as_deref(), Some(HEX));
        assert_eq!((e.size, &e.layout), (None, &None));
        assert_eq!(e.at, Some(At { file: "sums".into(), line: Some(1) }));

        let e = entry(format!("{HEX}-3 *binary\n").as_bytes());
        assert_eq!((e.key.as_slice(), e.etag.as_deref()), (&b"binary"[..], Some(&*format!("{HEX}-3"))));
        // Spaces, a leading `*` and a `#` are the name's own once the separator is passed.
        assert_eq!(entry(format!("{HEX}    lead and trail  ").as_bytes()).key, b"  lead and trail  ");
        assert_eq!(entry(format!("{HEX}  *star").as_bytes()).key, b"*star");
        assert_eq!(entry(format!("{HEX}  #hash").as_bytes()).key, b"#hash");
        // What is before the separator is the ETag as written, right or wrong: the checker says.
        assert_eq!(entry(b"\"xyz\"  f").etag.as_deref(), Some("\"xyz\""));
        // md5sum's leniencies: leading blanks, a tab for the first space.
        assert_eq!(entry(format!(" \t{HEX}\t f").as_bytes()).key, b"f");
        // Names are bytes.
        assert_eq!(entry(&[format!("{HEX}  caf").as_bytes(), b"\xe9"].concat()).key, b"caf\xe9");
    }

    #[test]
    fn escaped_names_as_md5sum_writes_them() {
        let e = entry(format!("\\{HEX}  a\\\\b\\nc\\rd\n").as_bytes());
        assert_eq!(e.key, b"a\\b\nc\rd");
        assert_eq!(e.etag.as_deref(), Some(HEX));
        let e = entry(format!("\\ETAG size=3 single (x\\n) = y) = {HEX}").as_bytes());
        assert_eq!((e.key.as_slice(), e.size), (&b"x\n) = y"[..], Some(3)));
        assert!(bad(format!("\\{HEX}  a\\tb").as_bytes()).contains("`\\t` is not an escape"));
        assert!(bad(format!("\\{HEX}  a\\").as_bytes()).contains("lone backslash"));
        // Unescaped lines keep their backslashes: md5sum only unescapes lines that say so.
        assert_eq!(entry(format!("{HEX}  a\\nb").as_bytes()).key, b"a\\nb");
    }

    #[test]
    fn tagged_lines_record_the_layout() {
        let e = entry(format!("ETAG size=25165824 part-size=8388608 (big (1).bin) = {HEX}-3\n").as_bytes());
        assert_eq!(e.key, b"big (1).bin");
        assert_eq!(e.size, Some(25165824));
        assert_eq!(e.layout, Some(Layout::uniform(8388608).unwrap()));
        assert_eq!(e.etag, Some(format!("{HEX}-3")));

        let e = entry(format!("ETAG size=5 single (f) = {HEX}").as_bytes());
        assert_eq!((e.size, e.layout), (Some(5), Some(Layout::Single)));

        let e = entry(format!("ETAG size=10485777 part-sizes=5242880,5242880,17 (f) = {HEX}-3").as_bytes());
        assert_eq!(e.layout, Some(Layout::explicit(vec![5242880, 5242880, 17]).unwrap()));

        let e = entry(format!("ETAG (nothing) = {HEX}").as_bytes());
        assert_eq!((e.key.as_slice(), e.size, e.layout), (&b"nothing"[..], None, None));
        let e = entry(format!("ETAG part-size=8 (no size) = {HEX}").as_bytes());
        assert_eq!((e.size, e.layout), (None, Some(Layout::uniform(8).unwrap())));

        // The name runs to the last `) = `.
        let e = entry(format!("ETAG size=1 single (a) = b) = c) = {HEX}").as_bytes());
        assert_eq!(e.key, b"a) = b) = c");
        // md5sum --tag.
        let e = entry(format!("MD5 (f g) = {HEX}\n").as_bytes());
        assert_eq!((e.key.as_slice(), e.etag.as_deref(), e.layout), (&b"f g"[..], Some(HEX), None));
        // `ETAG  x` with two spaces is a plain line whose ETag is the word ETAG.
        let e = entry(b"ETAG  (x) = y");
        assert_eq!((e.key.as_slice(), e.etag.as_deref()), (&b"(x) = y"[..], Some("ETAG")));
    }

    #[test]
    fn bad_tagged_lines_say_what_was_expected() {
        let cases: &[(&str, &str)] = &[
            ("ETAG size=5 colour=red (f) = x", "unknown attribute `colour=red`"),
            ("ETAG size (f) = x", "unknown attribute `size`"),
            ("ETAG single=1 (f) = x", "unknown attribute `single=1`"),
            ("ETAG size=5k (f) = x", "size=`5k`: expected a byte count in plain decimal digits"),
            ("ETAG size=-5 (f) = x", "size=`-5`: expected a byte count"),
            ("ETAG size=+5 (f) = x", "size=`+5`: expected a byte count"),
            ("ETAG size= (f) = x", "size=``: expected a byte count"),
            ("ETAG size=18446744073709551616 (f) = x", "larger than 18446744073709551615"),
            ("ETAG size=1 size=1 (f) = x", "`size=` is given twice"),
            ("ETAG part-size=0 (f) = x", "part-size=0: a part size of 0 bytes"),
            ("ETAG part-sizes= (f) = x", "part-sizes=``"),
            ("ETAG part-sizes=1,,2 (f) = x", "part-sizes=``"),
            (
                "ETAG size=4 part-sizes=1,2 (f) = x",
                "part-sizes=1,2 with size=4: the part sizes add up to 3 bytes",
            ),
            ("ETAG single part-size=5 (f) = x", "two layouts, `single` and `part-size=5`"),
            ("ETAG size=5 single f = x", "without `(NAME)`"),
            ("ETAG size=5 single (f = x", "no `) = `"),
            ("ETAG size=5 single (f) = ", "no ETag after"),
            ("ETAG size=5 single () = x", "the file name is empty"),
            ("MD5 size=5 (f) = x", "one space after the ETag `MD5`"),
        ];
        for (line, want) in cases {
            let what = bad(line.as_bytes());
            assert!(what.contains(want), "{line:?}: {what:?} does not say {want:?}");
        }
    }

    #[test]
    fn hostile_lines_are_bad_entries_and_reading_goes_on() {
        let input = [
            &b"garbage\n"[..],
            format!("{HEX}  nul\0name\n").as_bytes(),
            format!("{HEX} one-space\n").as_bytes(),
            format!("{HEX}  \n").as_bytes(),
            b"\\  x\n",
            b"\xff\xfe  f\n",
            format!("{HEX}  good\n").as_bytes(),
        ]
        .concat();
        let (items, skipped) = read_all(&input);
        assert_eq!(items.len(), 7);
        assert_eq!(skipped, Skipped::default());
        let whats: Vec<(u64, String)> = items
            .iter()
            .filter_map(|i| i.as_ref().err())
            .map(|e| (e.at.line.unwrap(), e.what.clone()))
            .collect();
        let expect = [
            (1, "no separator after `garbage`"),
            (2, "NUL byte"),
            (3, "one space after the ETag"),
            (4, "the file name is empty"),
            (5, "no ETag before the separator"),
            (6, "the ETag, `\u{fffd}\u{fffd}`, is not UTF-8 text"),
        ];
        assert_eq!(whats.len(), expect.len(), "{whats:?}");
        for ((line, what), (want_line, want)) in whats.iter().zip(expect) {
            assert_eq!(*line, want_line);
            assert!(what.contains(want), "line {line}: {what:?} does not say {want:?}");
        }
        let last = items[6].as_ref().unwrap();
        assert_eq!((last.key.as_slice(), last.at.as_ref().unwrap().line), (&b"good"[..], Some(7)));
        assert!(items[0].as_ref().unwrap_err().to_string().starts_with("sums:1: no separator"));
    }

    #[test]
    fn blank_and_comment_lines_are_counted() {
        let input = format!("# made by etagsum\n\n   \n\t\r\n{HEX}  a\n#{HEX}  b\n\r\n");
        let (items, skipped) = read_all(input.as_bytes());
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].as_ref().unwrap().at.as_ref().unwrap().line, Some(5));
        assert_eq!(skipped.blank_lines, 6);
    }

    #[test]
    fn crlf_line_endings_and_a_last_line_without_newline() {
        let input = format!("{HEX}  a\r\nETAG size=1 single (b) = {HEX}\r\n\\{HEX}  c\\r\r\n{HEX}  d");
        let (items, _) = read_all(input.as_bytes());
        let keys: Vec<&[u8]> = items.iter().map(|i| i.as_ref().unwrap().key.as_slice()).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"c\r", b"d"]);
        assert_eq!(items[1].as_ref().unwrap().etag.as_deref(), Some(HEX));
        // Only the last CR goes; one inside the name stays.
        assert_eq!(entry(format!("{HEX}  x\ry\r\r\n").as_bytes()).key, b"x\ry\r");
        // A byte order mark on the first line only.
        let input = format!("\u{feff}{HEX}  a\n\u{feff}{HEX}  b\n");
        let (items, _) = read_all(input.as_bytes());
        assert_eq!(items[0].as_ref().unwrap().etag.as_deref(), Some(HEX));
        assert_eq!(items[1].as_ref().unwrap().etag.as_deref(), Some(&*format!("\u{feff}{HEX}")));
    }

    /// Bytes without a newline, as many as asked for: what a hostile "line" looks like.
    struct Endless;

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(b'x');
            Ok(buf.len())
        }
    }

    #[test]
    fn long_lines_are_bad_and_bounded() {
        let ok = format!("{HEX}  {}\n", "n".repeat(MAX_LINE - HEX.len() - 2));
        assert_eq!(ok.len(), MAX_LINE + 1);
        assert!(one(ok.as_bytes()).is_ok());
        let long = format!("{HEX}  {}\n{HEX}  next", "n".repeat(MAX_LINE - HEX.len() - 1));
        let (items, _) = read_all(long.as_bytes());
        assert_eq!(items.len(), 2);
        assert!(items[0].as_ref().unwrap_err().what.contains("longer than 1048576 bytes"));
        assert_eq!(items[1].as_ref().unwrap().at.as_ref().unwrap().line, Some(2));
        // At the end of the file without a newline, a line of exactly the limit is read.
        let last = format!("{HEX}  {}", "n".repeat(MAX_LINE - HEX.len() - 2));
        assert!(one(last.as_bytes()).is_ok());
        assert!(one(format!("{last}n").as_bytes()).is_err());

        // A line of 64 MiB is skipped to its end, then the next line is read.
        let mut seen = Vec::new();
        let reader = BufReader::new(Endless.take(64 << 20).chain(&b"\nlater"[..]));
        Checkfile::new(reader, "endless")
            .read(&mut |item| {
                seen.push(item);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].is_err());
        assert!(bad_at(&seen[1], 2).contains("no separator after `later`"));
    }

    fn bad_at(item: &Result<Entry, BadEntry>, line: u64) -> String {
        let e = item.as_ref().unwrap_err();
        assert_eq!(e.at.line, Some(line));
        e.what.clone()
    }

    #[test]
    fn the_sink_stops_the_reading() {
        let input = format!("{HEX}  a\n{HEX}  b\n{HEX}  c\n");
        let mut n = 0;
        Checkfile::new(input.as_bytes(), "sums")
            .read(&mut |_| {
                n += 1;
                if n == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(n, 2);
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn io_errors_stop_the_reading() {
        let first = format!("{HEX}  a\n");
        let reader = BufReader::new(first.as_bytes().chain(Failing));
        let mut n = 0;
        let e = Checkfile::new(reader, "sums")
            .read(&mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert_eq!(n, 1);
        assert!(matches!(&e, ListingError::Io { path, .. } if path == std::path::Path::new("sums")), "{e:?}");
        assert_eq!(e.to_string(), "sums: disk on fire");
    }

    #[test]
    fn writers_write_what_md5sum_writes() {
        let e = etag(HEX);
        assert_eq!(plain_line(b"a b", &e), format!("{HEX}  a b\n").into_bytes());
        assert_eq!(plain_line(b"a\\b\n", &e), format!("\\{HEX}  a\\\\b\\n\n").into_bytes());
        let l = Layout::uniform(8 << 20).unwrap();
        assert_eq!(
            tagged_line(b"x", 24 << 20, &l, &etag(&format!("{HEX}-3"))),
            format!("ETAG size=25165824 part-size=8388608 (x) = {HEX}-3\n").into_bytes()
        );
        assert_eq!(
            tagged_line(b"c\r", 5, &Layout::Single, &e),
            format!("\\ETAG size=5 single (c\\r) = {HEX}\n").into_bytes()
        );
        assert_eq!(
            tagged_line(b"y", 10, &Layout::explicit(vec![5, 5]).unwrap(), &e),
            format!("ETAG size=10 part-sizes=5,5 (y) = {HEX}\n").into_bytes()
        );
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => any::<u8>().prop_filter("no NUL", |&b| b != 0),
            2 => prop::sample::select(b" \\\n\r()=*#\t".to_vec()),
        ];
        let chunk = prop_oneof![
            4 => prop::collection::vec(byte, 1..4),
            1 => Just(b") = ".to_vec()),
            1 => Just(b"  ".to_vec()),
            1 => Just(b"\xff\xfe".to_vec()),
        ];
        prop::collection::vec(chunk, 1..12).prop_map(|c| c.concat())
    }

    fn any_etag() -> impl Strategy<Value = Etag> {
        (any::<[u8; 16]>(), prop::option::of(1u32..=20_000)).prop_map(|(d, n)| {
            let single = Etag::single(Md5Digest(d));
            match n {
                None => single,
                Some(n) => format!("{single}-{n}").parse().unwrap(),
            }
        })
    }

    /// A size and a layout that can describe it.
    fn size_and_layout() -> impl Strategy<Value = (u64, Layout)> {
        prop_oneof![
            any::<u64>().prop_map(|s| (s, Layout::Single)),
            (any::<u64>(), 1..=u64::MAX).prop_map(|(s, p)| (s, Layout::uniform(p).unwrap())),
            prop::collection::vec(0..u64::MAX / 64, 1..40)
                .prop_map(|parts| (parts.iter().sum(), Layout::explicit(parts).unwrap())),
        ]
    }

    proptest! {
        #[test]
        fn plain_lines_round_trip(names in prop::collection::vec(name(), 1..6), etags in prop::collection::vec(any_etag(), 6), crlf in any::<bool>()) {
            let mut file = Vec::new();
            for (n, e) in names.iter().zip(&etags) {
                let mut line = plain_line(n, e);
                if crlf {
                    line.insert(line.len() - 1, b'\r');
                }
                file.extend_from_slice(&line);
            }
            let (items, skipped) = read_all(&file);
            prop_assert_eq!(skipped, Skipped::default());
            prop_assert_eq!(items.len(), names.len());
            for (i, ((item, n), e)) in items.iter().zip(&names).zip(&etags).enumerate() {
                let entry = item.as_ref().unwrap();
                prop_assert_eq!(&entry.key, n);
                prop_assert_eq!(entry.etag.clone(), Some(e.to_string()));
                prop_assert_eq!((entry.size, &entry.layout), (None, &None));
                prop_assert_eq!(entry.at.as_ref().unwrap().line, Some(i as u64 + 1));
            }
        }

        #[test]
        fn tagged_lines_round_trip(name in name(), (size, layout) in size_and_layout(), e in any_etag(), crlf in any::<bool>(), last in any::<bool>()) {
            let mut line = tagged_line(&name, size, &layout, &e);
            if crlf {
                line.insert(line.len() - 1, b'\r');
            }
            if last {
                line.pop();
            }
            let entry = one(&line).unwrap();
            prop_assert_eq!(&entry.key, &name);
            prop_assert_eq!(entry.size, Some(size));
            prop_assert_eq!(entry.layout, Some(layout));
            prop_assert_eq!(entry.etag, Some(e.to_string()));
        }

        #[test]
        fn checksum_lines_round_trip(name in name(), (size, layout) in size_and_layout(), raw in any::<[u8; 32]>(), alg in 0usize..5, n in prop::option::of(1u32..=u32::MAX), tagged in any::<bool>()) {
            let a = Algorithm::ALL[alg];
            let c = Checksum::from_bytes(a, &raw[..a.digest_len()]).unwrap().with_parts(n);
            let t = if n.is_some() { ChecksumType::Composite } else { ChecksumType::FullObject };
            let line = if tagged { checksum_tagged_line(&name, size, &layout, &c, t) } else { checksum_line(&name, &c) };
            let entry = one(&line).unwrap();
            prop_assert_eq!(&entry.key, &name);
            prop_assert_eq!(entry.etag, None);
            prop_assert_eq!(&entry.checksums, &vec![(a, c.to_string())]);
            prop_assert_eq!(Checksum::parse(a, &entry.checksums[0].1).unwrap(), c);
            if tagged {
                prop_assert_eq!((entry.size, entry.layout, entry.checksum_type), (Some(size), Some(layout), Some(t)));
            } else {
                prop_assert_eq!(entry.checksum_type, None);
            }
        }

        #[test]
        fn any_bytes_give_one_answer_per_line(input in prop::collection::vec(prop_oneof![any::<u8>(), prop::sample::select(b"\n\r \\()=*#ETAGCRC32SHA".to_vec())], 0..300)) {
            let (items, skipped) = read_all(&input);
            let lines = input.split(|&b| b == b'\n').count() - usize::from(input.is_empty() || input.ends_with(b"\n"));
            prop_assert_eq!(items.len() as u64 + skipped.blank_lines, lines as u64);
            for e in items.iter().flatten() {
                prop_assert!(!e.key.is_empty() && !e.key.contains(&0));
            }
        }
    }
}
