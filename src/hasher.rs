//! [`MultipartHasher`]: the ETag of bytes as they are written, for callers that hash while they
//! upload.

use std::io;

use crate::etag::{Etag, Md5Digest};
use crate::layout::LayoutError;
use crate::md5x::Md5;

/// Computes a multipart ETag from bytes written in any pieces, one part size at a time.
///
/// Every `part_size` bytes close a part; [`MultipartHasher::finish`] closes the last one. The sizes
/// of the writes do not matter: the same bytes give the same ETag however they are split. Each
/// closed part's MD5 is available at once (for the `Content-MD5` header of its UploadPart request).
///
/// ```
/// use std::io::Write;
/// use etagsum::MultipartHasher;
///
/// let mut h = MultipartHasher::new(5).unwrap();
/// h.write_all(b"hello, ").unwrap();
/// h.write_all(b"world").unwrap();
/// assert_eq!(h.part_digests().len(), 2); // "hello" and ", wor" are closed; "ld" is still open
/// let etag = h.finish();
/// assert_eq!(etag.parts(), Some(3));
/// ```
#[derive(Clone)]
pub struct MultipartHasher {
    part_size: u64,
    current: Md5,
    /// Bytes in the current (open) part.
    filled: u64,
    parts: Vec<Md5Digest>,
    total: u64,
}

impl MultipartHasher {
    /// A hasher that closes a part every `part_size` bytes. A zero part size is an error.
    pub fn new(part_size: u64) -> Result<MultipartHasher, LayoutError> {
        if part_size == 0 {
            return Err(LayoutError::ZeroPartSize);
        }
        Ok(MultipartHasher { part_size, current: Md5::new(), filled: 0, parts: Vec::new(), total: 0 })
    }

    /// Hashes `data` as the next bytes of the object.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let room = self.part_size - self.filled;
            let take = room.min(data.len() as u64) as usize;
            self.current.update(&data[..take]);
            self.filled += take as u64;
            data = &data[take..];
            if self.filled == self.part_size {
                let done = std::mem::take(&mut self.current);
                self.parts.push(Md5Digest(done.finalize()));
                self.filled = 0;
            }
        }
    }

    /// The MD5 of every part closed so far, in order.
    pub fn part_digests(&self) -> &[Md5Digest] {
        &self.parts
    }

    /// The bytes hashed so far.
    pub fn bytes_hashed(&self) -> u64 {
        self.total
    }

    /// Closes the last part and returns the multipart ETag (`-1` for an object that fits one part,
    /// including the empty object). No empty part is added at an exact multiple of the part size.
    pub fn finish(self) -> Etag {
        self.finish_with_parts().0
    }

    /// Like [`MultipartHasher::finish`], also returning the MD5 of every part.
    pub fn finish_with_parts(mut self) -> (Etag, Vec<Md5Digest>) {
        if self.filled > 0 || self.parts.is_empty() {
            self.parts.push(Md5Digest(self.current.finalize()));
        }
        (Etag::multipart(&self.parts), self.parts)
    }
}

impl io::Write for MultipartHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_is_one_empty_part() {
        let h = MultipartHasher::new(8 << 20).unwrap();
        assert_eq!(h.finish().to_string(), "59adb24ef3cdbe0297f05b395827453f-1");
    }

    #[test]
    fn exact_multiple_has_no_empty_trailing_part() {
        let mut h = MultipartHasher::new(4).unwrap();
        h.update(b"abcdefgh");
        assert_eq!(h.part_digests().len(), 2);
        let (etag, parts) = h.finish_with_parts();
        assert_eq!(etag.parts(), Some(2));
        assert_eq!(parts, vec![Md5Digest::of(b"abcd"), Md5Digest::of(b"efgh")]);
    }

    #[test]
    fn zero_part_size_is_refused() {
        assert!(MultipartHasher::new(0).is_err());
    }
}
