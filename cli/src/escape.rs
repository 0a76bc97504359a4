//! File names in output: escaped as md5sum escapes them, so that every file keeps one line, and
//! written byte for byte, so that a name that is not UTF-8 survives.

use std::borrow::Cow;
use std::path::Path;

use base64::Engine as _;

/// The bytes of a file name as the operating system gives them.
pub(crate) fn raw(path: &Path) -> Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Cow::Borrowed(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        match path.to_string_lossy() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    }
}

/// One line of output about a file: `before`, then the name, then `after`, then a newline.
///
/// md5sum's rule: when the name holds a backslash, a newline or a carriage return, the line starts
/// with a backslash and the rest of it is escaped (`\` as `\\`, newline as `\n`, CR as `\r`). The
/// whole line is escaped, not the name alone, because a verdict's explanation may quote the name
/// (the advice) and must not break the line either. A NUL byte, which no file name holds but an
/// S3 key may, is escaped as `\0` the same way, so that the output stays text. Other bytes are
/// written as they are.
pub(crate) fn file_line(before: &[u8], name: &[u8], after: &[u8]) -> Vec<u8> {
    let breaks = |b: &[u8]| b.iter().any(|&c| c == b'\n' || c == b'\r' || c == 0);
    let escape = name.contains(&b'\\') || [before, name, after].into_iter().any(breaks);
    let mut line = Vec::with_capacity(before.len() + name.len() + after.len() + 2);
    if escape {
        line.push(b'\\');
        for part in [before, name, after] {
            escape_into(&mut line, part);
        }
    } else {
        for part in [before, name, after] {
            line.extend_from_slice(part);
        }
    }
    line.push(b'\n');
    line
}

fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            _ => out.push(b),
        }
    }
}

/// A file name for diagnostics on standard error: escaped as in [`file_line`], without the leading
/// backslash, and lossy where it is not UTF-8 (a message is read, not parsed).
pub(crate) fn shown(path: &Path) -> String {
    let mut out = Vec::new();
    escape_into(&mut out, &raw(path));
    String::from_utf8_lossy(&out).into_owned()
}

/// The key that JSON output adds beside `path` when a name is not UTF-8: the name's raw bytes in
/// standard base64 (`path` then holds a readable, lossy form). Absent for UTF-8 names.
pub(crate) const PATH_BYTES: &str = "path_bytes";

/// `path` for JSON, readable: lossy where the name is not UTF-8.
pub(crate) fn json_path(path: &Path) -> String {
    String::from_utf8_lossy(&raw(path)).into_owned()
}

/// Adds [`PATH_BYTES`] to a JSON object about `path` when its name is not UTF-8.
pub(crate) fn add_path_bytes(object: &mut serde_json::Value, path: &Path) {
    let bytes = raw(path);
    if std::str::from_utf8(&bytes).is_err() {
        if let Some(map) = object.as_object_mut() {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            map.insert(PATH_BYTES.to_string(), encoded.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_written_as_they_are() {
        assert_eq!(file_line(b"abc  ", b"a b'c\xff", b""), b"abc  a b'c\xff\n");
        // A backslash in the explanation alone (shell quoting: '\'') does not escape the line.
        assert_eq!(file_line(b"", b"x'y", b": OK ('x'\\''y')"), b"x'y: OK ('x'\\''y')\n");
    }

    #[test]
    fn names_with_a_backslash_newline_or_cr_escape_the_line() {
        assert_eq!(file_line(b"e  ", b"a\\b", b""), b"\\e  a\\\\b\n");
        assert_eq!(file_line(b"e  ", b"a\nb\rc", b""), b"\\e  a\\nb\\rc\n");
        assert_eq!(file_line(b"", b"a\nb", b": X ('a\nb')"), b"\\a\\nb: X ('a\\nb')\n");
    }

    #[test]
    fn a_key_with_a_nul_byte_keeps_the_line_text() {
        assert_eq!(file_line(b"", b"a\0b", b": FAILED (x)"), b"\\a\\0b: FAILED (x)\n");
    }

    #[test]
    fn json_keeps_the_raw_bytes_of_names_that_are_not_utf8() {
        let mut v = serde_json::json!({});
        add_path_bytes(&mut v, Path::new("plain"));
        assert_eq!(v, serde_json::json!({}));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = Path::new(std::ffi::OsStr::from_bytes(b"caf\xe9"));
            add_path_bytes(&mut v, p);
            assert_eq!(v, serde_json::json!({"path_bytes": "Y2Fm6Q=="}));
            assert_eq!(json_path(p), "caf\u{fffd}");
        }
    }
}
