//! [`MultipartHasher`]: the ETag of bytes as they are written, for callers that hash while they
//! upload.

use std::io;

use crate::etag::{Etag, Md5Digest, PartCountError, PartFolder};
use crate::layout::LayoutError;
use crate::md5x::Md5;

/// Computes a multipart ETag from bytes written in any pieces, one part size at a time.
///
/// Every `part_size` bytes close a part; [`MultipartHasher::finish`] closes the last one. The sizes
/// of the writes do not matter: the same bytes give the same ETag however they are split. Memory
/// does not grow with the part count: each part's MD5 is folded into the ETag as the part closes
/// and is not kept. A caller that uploads part by part takes each closed part's MD5 as it goes
/// (for the `Content-MD5` header of its UploadPart request): from
/// [`MultipartHasher::last_part_digest`] after writing one part, or from the callback of
/// [`MultipartHasher::update_parts`] for writes of any size.
///
/// ```
/// use std::io::Write;
/// use etagsum::{Md5Digest, MultipartHasher};
///
/// let mut h = MultipartHasher::new(5).unwrap();
/// h.write_all(b"hello").unwrap();
/// assert_eq!(h.last_part_digest(), Some(Md5Digest::of(b"hello"))); // part 1 is closed
/// let mut closed = Vec::new();
/// h.update_parts(b", world", |number, digest| closed.push((number, digest))).unwrap();
/// assert_eq!(closed, [(2, Md5Digest::of(b", wor"))]); // "ld" is still open
/// let etag = h.finish();
/// assert_eq!(etag.parts(), Some(3));
/// ```
#[derive(Clone, Debug)]
pub struct MultipartHasher {
    part_size: u64,
    current: Md5,
    /// Bytes in the current (open) part.
    filled: u64,
    folder: PartFolder,
    last: Option<Md5Digest>,
    total: u64,
    /// The most parts an ETag can count; writes that would need more are refused, so that
    /// [`MultipartHasher::finish`] always has an answer.
    max_parts: u64,
}

impl MultipartHasher {
    /// A hasher that closes a part every `part_size` bytes. A zero part size is an error.
    pub fn new(part_size: u64) -> Result<MultipartHasher, LayoutError> {
        if part_size == 0 {
            return Err(LayoutError::ZeroPartSize);
        }
        Ok(MultipartHasher {
            part_size,
            current: Md5::new(),
            filled: 0,
            folder: PartFolder::new(),
            last: None,
            total: 0,
            max_parts: u64::from(u32::MAX),
        })
    }

    /// Hashes `data` as the next bytes of the object.
    ///
    /// # Errors
    /// When these bytes would make more parts than an ETag can count (4294967295); then nothing
    /// is hashed. With S3's part sizes (5 MiB or more) that takes petabytes.
    pub fn update(&mut self, data: &[u8]) -> Result<(), PartCountError> {
        self.update_parts(data, |_, _| {})
    }

    /// Like [`MultipartHasher::update`], also calling `on_part` with the number (from 1) and the
    /// MD5 of each part these bytes close, in order.
    ///
    /// # Errors
    /// As [`MultipartHasher::update`].
    pub fn update_parts(
        &mut self,
        mut data: &[u8],
        mut on_part: impl FnMut(u64, Md5Digest),
    ) -> Result<(), PartCountError> {
        // Parts begun once these bytes are in: the closed ones and the open one, if it has bytes.
        let bytes = self.filled.saturating_add(data.len() as u64);
        let parts = self.folder.parts().saturating_add(bytes.div_ceil(self.part_size));
        if parts > self.max_parts {
            return Err(PartCountError::TooMany { parts });
        }
        self.total += data.len() as u64;
        while !data.is_empty() {
            let room = self.part_size - self.filled;
            let take = room.min(data.len() as u64) as usize;
            self.current.update(&data[..take]);
            self.filled += take as u64;
            data = &data[take..];
            if self.filled == self.part_size {
                let digest = self.close();
                on_part(self.folder.parts(), digest);
            }
        }
        Ok(())
    }

    /// Closes the open part and folds its MD5 into the ETag.
    fn close(&mut self) -> Md5Digest {
        let digest = Md5Digest(std::mem::take(&mut self.current).finalize());
        self.folder.push(&digest);
        self.last = Some(digest);
        self.filled = 0;
        digest
    }

    /// The MD5 of the part closed last, if any has closed.
    pub fn last_part_digest(&self) -> Option<Md5Digest> {
        self.last
    }

    /// The number of parts closed so far.
    pub fn parts_closed(&self) -> u64 {
        self.folder.parts()
    }

    /// The bytes hashed so far.
    pub fn bytes_hashed(&self) -> u64 {
        self.total
    }

    /// Closes the last part and returns the multipart ETag (`-1` for an object that fits one part,
    /// including the empty object). No empty part is added at an exact multiple of the part size.
    pub fn finish(self) -> Etag {
        self.finish_with_last_part().0
    }

    /// Like [`MultipartHasher::finish`], also returning the MD5 of the last part (closed here, or
    /// earlier when the object ends at a part boundary).
    pub fn finish_with_last_part(mut self) -> (Etag, Md5Digest) {
        let last = match self.last {
            Some(last) if self.filled == 0 => last,
            _ => self.close(),
        };
        // `update` refuses bytes past the most parts an ETag can count, and there is at least one.
        match self.folder.finish() {
            Ok(etag) => (etag, last),
            Err(e) => unreachable!("{e}"),
        }
    }

    #[cfg(test)]
    fn with_max_parts(mut self, max_parts: u64) -> MultipartHasher {
        self.max_parts = max_parts;
        self
    }
}

impl io::Write for MultipartHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf).map_err(io::Error::other)?;
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
        let mut closed = Vec::new();
        h.update_parts(b"abcdefgh", |n, d| closed.push((n, d))).unwrap();
        assert_eq!(closed, [(1, Md5Digest::of(b"abcd")), (2, Md5Digest::of(b"efgh"))]);
        assert_eq!(h.parts_closed(), 2);
        let (etag, last) = h.finish_with_last_part();
        assert_eq!(etag.parts(), Some(2));
        assert_eq!(last, Md5Digest::of(b"efgh"));
    }

    #[test]
    fn zero_part_size_is_refused() {
        assert!(MultipartHasher::new(0).is_err());
    }

    /// Bytes that would need more parts than an ETag counts are refused, whole, and `finish` still
    /// answers for the bytes taken.
    #[test]
    fn bytes_past_the_most_parts_are_refused_and_finish_never_panics() {
        let mut h = MultipartHasher::new(2).unwrap().with_max_parts(3);
        h.update(b"abcd").unwrap();
        assert_eq!(h.update(b"efg"), Err(PartCountError::TooMany { parts: 4 }));
        assert_eq!(h.bytes_hashed(), 4);
        h.update(b"ef").unwrap();
        assert!(std::io::Write::write(&mut h, b"g").is_err());
        let parts = [Md5Digest::of(b"ab"), Md5Digest::of(b"cd"), Md5Digest::of(b"ef")];
        assert_eq!(h.finish(), Etag::multipart(&parts));
    }
}
