//! [`MultipartHasher`]: the ETag, and the additional checksums, of bytes as they are written, for
//! callers that hash while they upload.

use std::io;

use thiserror::Error;

use crate::checksum::{s3_accepts, Algorithm, Checksum, ChecksumFolder, ChecksumType, Hasher, Unsupported};
use crate::etag::{Etag, Md5Digest, PartCountError, PartFolder};
use crate::layout::{Layout, LayoutError};
use crate::md5x::Md5;

/// Computes a multipart ETag, and optionally S3's additional checksums, from bytes written in any
/// pieces, one part size at a time.
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
///
/// # Additional checksums
///
/// [`MultipartHasher::with_checksums`] also computes, in the same pass, the checksums an uploader
/// sends with each UploadPart (`x-amz-checksum-crc32`, …) and the object's value that S3 will
/// show: composite (`H(part checksums)-N`) or, for a CRC, full-object (the parts' CRCs combined,
/// which is the CRC of the whole object). Each closed part comes with its checksums
/// ([`ClosedPart`], through [`MultipartHasher::update_parts_with_checksums`] or
/// [`MultipartHasher::last_part_checksums`]); [`MultipartHasher::finish_with_checksums`] gives the
/// object's. The checksums are folded as the parts close, as the MD5s are: memory does not grow
/// with the part count.
///
/// This hasher models a multipart upload (its ETag ends in `-N` even for one part), so every
/// combination S3 refuses for a multipart upload is refused when the hasher is made, before any
/// byte is read: CRC64NVME composite (S3 has none) and a full-object SHA (a SHA cannot be
/// combined from parts), with [`SetupError::Unsupported`]. Nothing is refused later: `finish`
/// always has an answer.
///
/// ```
/// use etagsum::checksum::{Algorithm, Checksum, ChecksumType};
/// use etagsum::hasher::{MultipartHasher, SetupError};
///
/// let algorithms = [Algorithm::Crc32, Algorithm::Sha256];
/// let mut h = MultipartHasher::with_checksums(4, &algorithms, ChecksumType::Composite)?;
/// let mut sent = Vec::new(); // what each UploadPart would carry
/// h.update_parts_with_checksums(b"123456789", |part| {
///     sent.push((part.number, part.checksums[0].to_string()));
/// })?;
/// assert_eq!(sent, [(1, Checksum::of(Algorithm::Crc32, b"1234").to_string()),
///                   (2, Checksum::of(Algorithm::Crc32, b"5678").to_string())]);
/// let done = h.finish_with_checksums();
/// assert_eq!(done.last_part.number, 3); // "9", closed by finish
/// assert_eq!(done.etag.parts(), Some(3));
/// assert_eq!(done.checksums[0].parts(), Some(3)); // composite: base64-3
///
/// // A full-object CRC is combined from the parts: it is the CRC of the whole object.
/// let mut h = MultipartHasher::with_checksums(4, &[Algorithm::Crc64Nvme], ChecksumType::FullObject)?;
/// h.update(b"123456789")?;
/// assert_eq!(h.finish_with_checksums().checksums[0].to_string(), "rosUhgp5mIg=");
///
/// // What S3 does not accept on a multipart upload is refused at once.
/// assert!(matches!(
///     MultipartHasher::with_checksums(4, &[Algorithm::Crc64Nvme], ChecksumType::Composite),
///     Err(SetupError::Unsupported(_))
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct MultipartHasher {
    part_size: u64,
    current: Md5,
    /// Bytes in the current (open) part.
    filled: u64,
    folder: PartFolder,
    /// One per algorithm asked for, in the order asked.
    sums: Vec<Sum>,
    /// The part closed last; its checksum list is reused for the next, so that closing a part does
    /// not allocate.
    last: Option<ClosedPart>,
    total: u64,
    /// The most parts an ETag can count; writes that would need more are refused, so that
    /// [`MultipartHasher::finish`] always has an answer.
    max_parts: u64,
}

/// One additional checksum being computed: the open part's, and the object's so far.
#[derive(Clone, Debug)]
struct Sum {
    current: Hasher,
    folder: ChecksumFolder,
}

/// A part, closed: what an uploader sends with its UploadPart request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClosedPart {
    /// Its number, from 1 (UploadPart's `PartNumber`).
    pub number: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Its MD5 (the `Content-MD5` header is its base64).
    pub md5: Md5Digest,
    /// Its additional checksums, one per algorithm asked for, in the order asked (each one part's
    /// value, without a part count); empty for a hasher made without checksums.
    pub checksums: Vec<Checksum>,
}

/// What [`MultipartHasher::finish_with_checksums`] gives: the object's ETag and checksums, and its
/// last part.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished {
    /// The multipart ETag.
    pub etag: Etag,
    /// The object's additional checksums, one per algorithm asked for, in the order asked: a
    /// composite value with its `-N` (drop it with [`Checksum::with_parts`] where a request wants
    /// none), or a full-object value.
    pub checksums: Vec<Checksum>,
    /// The last part, closed by `finish` or earlier when the object ends at a part boundary.
    pub last_part: ClosedPart,
}

/// Why a hasher cannot be made as asked.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The part size is not one (zero).
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// S3 does not accept this checksum on a multipart upload.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// An algorithm asked for twice.
    #[error("the {0} checksum is asked for twice; name each algorithm once")]
    Repeated(Algorithm),
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
            sums: Vec::new(),
            last: None,
            total: 0,
            max_parts: u64::from(u32::MAX),
        })
    }

    /// A hasher that closes a part every `part_size` bytes and also computes, for each part and for
    /// the object, the checksums of `algorithms` (none: as [`MultipartHasher::new`]), the object's
    /// of `checksum_type`.
    ///
    /// S3 takes one additional checksum per upload; more than one is for a caller that also keeps
    /// another for itself, all from the same read.
    ///
    /// # Errors
    /// A zero part size; an algorithm named twice; a combination S3 does not accept on a multipart
    /// upload ([`s3_accepts`]): CRC64NVME composite, or a full-object SHA1 or SHA256.
    pub fn with_checksums(
        part_size: u64,
        algorithms: &[Algorithm],
        checksum_type: ChecksumType,
    ) -> Result<MultipartHasher, SetupError> {
        let layout = Layout::uniform(part_size)?;
        let mut h = MultipartHasher::new(part_size)?;
        for (i, &algorithm) in algorithms.iter().enumerate() {
            if algorithms[..i].contains(&algorithm) {
                return Err(SetupError::Repeated(algorithm));
            }
            s3_accepts(algorithm, checksum_type, &layout)?;
            let folder = match ChecksumFolder::new(algorithm, checksum_type) {
                Ok(folder) => folder,
                // `s3_accepts` refuses a full-object SHA on a multipart upload, the one fold that
                // cannot be made.
                Err(e) => unreachable!("{e}"),
            };
            h.sums.push(Sum { current: Hasher::new(algorithm), folder });
        }
        Ok(h)
    }

    /// Hashes `data` as the next bytes of the object.
    ///
    /// # Errors
    /// When these bytes would make more parts than an ETag can count (4294967295); then nothing
    /// is hashed. With S3's part sizes (5 MiB or more) that takes petabytes.
    pub fn update(&mut self, data: &[u8]) -> Result<(), PartCountError> {
        self.update_parts_with_checksums(data, |_| {})
    }

    /// Like [`MultipartHasher::update`], also calling `on_part` with the number (from 1) and the
    /// MD5 of each part these bytes close, in order.
    ///
    /// # Errors
    /// As [`MultipartHasher::update`].
    pub fn update_parts(
        &mut self,
        data: &[u8],
        mut on_part: impl FnMut(u64, Md5Digest),
    ) -> Result<(), PartCountError> {
        self.update_parts_with_checksums(data, |part| on_part(part.number, part.md5))
    }

    /// Like [`MultipartHasher::update`], also calling `on_part` with each part these bytes close,
    /// in order: its number, length, MD5 and additional checksums.
    ///
    /// # Errors
    /// As [`MultipartHasher::update`].
    pub fn update_parts_with_checksums(
        &mut self,
        mut data: &[u8],
        mut on_part: impl FnMut(&ClosedPart),
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
            let piece = &data[..take];
            self.current.update(piece);
            for sum in &mut self.sums {
                sum.current.update(piece);
            }
            self.filled += take as u64;
            data = &data[take..];
            if self.filled == self.part_size {
                on_part(self.close());
            }
        }
        Ok(())
    }

    /// Closes the open part and folds its MD5 and checksums into the object's.
    fn close(&mut self) -> &ClosedPart {
        let md5 = Md5Digest(std::mem::take(&mut self.current).finalize());
        self.folder.push(&md5);
        let last = self.last.get_or_insert_with(|| ClosedPart {
            number: 0,
            len: 0,
            md5,
            checksums: Vec::with_capacity(self.sums.len()),
        });
        last.number = self.folder.parts();
        last.len = self.filled;
        last.md5 = md5;
        last.checksums.clear();
        for sum in &mut self.sums {
            let algorithm = sum.current.algorithm();
            let checksum = std::mem::replace(&mut sum.current, Hasher::new(algorithm)).finish();
            // The part's checksum is of the folder's algorithm and has no part count.
            if let Err(e) = sum.folder.push(&checksum, self.filled) {
                unreachable!("{e}");
            }
            last.checksums.push(checksum);
        }
        self.filled = 0;
        last
    }

    /// The MD5 of the part closed last, if any has closed.
    pub fn last_part_digest(&self) -> Option<Md5Digest> {
        self.last.as_ref().map(|p| p.md5)
    }

    /// The additional checksums of the part closed last, in the order asked for; empty when no
    /// part has closed or none were asked for.
    pub fn last_part_checksums(&self) -> &[Checksum] {
        self.last.as_ref().map_or(&[], |p| &p.checksums)
    }

    /// The part closed last, if any has closed.
    pub fn last_part(&self) -> Option<&ClosedPart> {
        self.last.as_ref()
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
        self.finish_with_checksums().etag
    }

    /// Like [`MultipartHasher::finish`], also returning the MD5 of the last part (closed here, or
    /// earlier when the object ends at a part boundary).
    pub fn finish_with_last_part(self) -> (Etag, Md5Digest) {
        let done = self.finish_with_checksums();
        (done.etag, done.last_part.md5)
    }

    /// Like [`MultipartHasher::finish`], also returning the object's additional checksums and its
    /// last part (closed here, or earlier when the object ends at a part boundary) with its own.
    pub fn finish_with_checksums(mut self) -> Finished {
        if self.filled > 0 || self.last.is_none() {
            self.close();
        }
        let Some(last_part) = self.last.take() else { unreachable!("a part was just closed") };
        // `update` refuses bytes past the most parts an ETag (and a composite checksum) can
        // count, and there is at least one; `with_checksums` made only folds that S3 accepts.
        let etag = match self.folder.finish() {
            Ok(etag) => etag,
            Err(e) => unreachable!("{e}"),
        };
        let checksums = self
            .sums
            .into_iter()
            .map(|sum| match sum.folder.finish() {
                Ok(c) => c,
                Err(e) => unreachable!("{e}"),
            })
            .collect();
        Finished { etag, checksums, last_part }
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

    /// The checksums of `data` cut into parts of `part` bytes, computed directly: each part's value,
    /// and the object's (composite: the checksum of the concatenated raw part values, `-N`; full:
    /// the checksum of the whole).
    fn direct(a: Algorithm, t: ChecksumType, data: &[u8], part: usize) -> (Vec<Checksum>, Checksum) {
        let parts: Vec<Checksum> = if data.is_empty() {
            vec![Checksum::of(a, b"")]
        } else {
            data.chunks(part).map(|p| Checksum::of(a, p)).collect()
        };
        let object = match t {
            ChecksumType::FullObject => Checksum::of(a, data),
            ChecksumType::Composite => {
                let concat: Vec<u8> = parts.iter().flat_map(|c| c.bytes().to_vec()).collect();
                Checksum::of(a, &concat).with_parts(Some(parts.len() as u32))
            }
        };
        (parts, object)
    }

    #[test]
    fn what_s3_refuses_is_refused_when_the_hasher_is_made() {
        assert_eq!(
            MultipartHasher::with_checksums(8, &[Algorithm::Crc64Nvme], ChecksumType::Composite).unwrap_err(),
            SetupError::Unsupported(Unsupported::CompositeCrc64Nvme)
        );
        for sha in [Algorithm::Sha1, Algorithm::Sha256] {
            let e = MultipartHasher::with_checksums(8, &[Algorithm::Crc32, sha], ChecksumType::FullObject)
                .unwrap_err();
            assert_eq!(e, SetupError::Unsupported(Unsupported::FullObjectSha(sha)));
            assert!(e.to_string().contains("multipart upload"), "{e}");
        }
        assert_eq!(
            MultipartHasher::with_checksums(0, &[Algorithm::Crc32], ChecksumType::FullObject).unwrap_err(),
            SetupError::Layout(LayoutError::ZeroPartSize)
        );
        let e = MultipartHasher::with_checksums(
            8,
            &[Algorithm::Crc32, Algorithm::Crc32],
            ChecksumType::Composite,
        )
        .unwrap_err();
        assert_eq!(e, SetupError::Repeated(Algorithm::Crc32));
        assert!(e.to_string().contains("CRC32 checksum is asked for twice"), "{e}");
        // Everything S3 accepts on a multipart upload is made.
        for a in Algorithm::ALL {
            for t in [ChecksumType::FullObject, ChecksumType::Composite] {
                let multi = Layout::uniform(8).unwrap();
                assert_eq!(
                    MultipartHasher::with_checksums(8, &[a], t).is_ok(),
                    s3_accepts(a, t, &multi).is_ok(),
                    "{a} {t}"
                );
            }
        }
    }

    #[test]
    fn without_checksums_there_are_none_and_the_etag_is_the_same() {
        let mut plain = MultipartHasher::new(3).unwrap();
        let mut none = MultipartHasher::with_checksums(3, &[], ChecksumType::Composite).unwrap();
        plain.update(b"abcdefg").unwrap();
        none.update(b"abcdefg").unwrap();
        assert_eq!(none.last_part_checksums(), &[]);
        let done = none.finish_with_checksums();
        assert!(done.checksums.is_empty() && done.last_part.checksums.is_empty());
        assert_eq!(done.etag, plain.finish());
        assert_eq!(done.last_part.len, 1);
    }

    #[test]
    fn empty_object_has_one_empty_part_with_its_checksums() {
        let h = MultipartHasher::with_checksums(
            8,
            &[Algorithm::Crc32c, Algorithm::Sha1],
            ChecksumType::Composite,
        )
        .unwrap();
        let done = h.finish_with_checksums();
        assert_eq!(done.last_part.number, 1);
        assert_eq!(done.last_part.len, 0);
        for (i, a) in [Algorithm::Crc32c, Algorithm::Sha1].into_iter().enumerate() {
            let (parts, object) = direct(a, ChecksumType::Composite, b"", 8);
            assert_eq!(done.last_part.checksums[i], parts[0]);
            assert_eq!(done.checksums[i], object);
            assert_eq!(done.checksums[i].parts(), Some(1));
        }
    }

    proptest::proptest! {
        /// However the bytes are split into writes, each part's checksums (as the part closes and
        /// at the end) and the object's are those computed directly from the bytes.
        #[test]
        fn checksums_are_independent_of_write_sizes(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..700),
            part in 1usize..90,
            splits in proptest::collection::vec(0usize..200, 1..40),
            composite in proptest::bool::ANY,
        ) {
            let t = if composite { ChecksumType::Composite } else { ChecksumType::FullObject };
            let algorithms: Vec<Algorithm> = Algorithm::ALL
                .into_iter()
                .filter(|&a| s3_accepts(a, t, &Layout::uniform(8).unwrap()).is_ok())
                .collect();
            let want: Vec<(Vec<Checksum>, Checksum)> =
                algorithms.iter().map(|&a| direct(a, t, &data, part)).collect();
            let mut h = MultipartHasher::with_checksums(part as u64, &algorithms, t).unwrap();
            let mut closed = Vec::new();
            let mut rest = &data[..];
            let mut i = 0;
            while !rest.is_empty() {
                // Empty writes are part of the property, but a run of them must still move on:
                // after a whole round of `splits`, write at least one byte.
                let n = splits[i % splits.len()].min(rest.len());
                let n = if n == 0 && i % splits.len() == splits.len() - 1 { 1 } else { n };
                i += 1;
                match i % 3 {
                    0 => h.update_parts_with_checksums(&rest[..n], |p| closed.push(p.clone())).unwrap(),
                    1 => h.update(&rest[..n]).unwrap(),
                    _ => h.update_parts(&rest[..n], |_, _| {}).unwrap(),
                }
                rest = &rest[n..];
                if let Some(last) = h.last_part() {
                    let k = last.number as usize - 1;
                    proptest::prop_assert_eq!(last.len as usize, part);
                    proptest::prop_assert_eq!(h.last_part_checksums(), &last.checksums[..]);
                    for (j, (parts, _)) in want.iter().enumerate() {
                        proptest::prop_assert_eq!(last.checksums[j], parts[k]);
                    }
                }
            }
            for p in &closed {
                let k = p.number as usize - 1;
                proptest::prop_assert_eq!(p.md5, Md5Digest::of(&data[k * part..(k + 1) * part]));
                for (j, (parts, _)) in want.iter().enumerate() {
                    proptest::prop_assert_eq!(p.checksums[j], parts[k]);
                }
            }
            let done = h.finish_with_checksums();
            let count = want.first().map_or(data.len().div_ceil(part).max(1), |w| w.0.len());
            proptest::prop_assert_eq!(done.etag.parts(), Some(count as u32));
            proptest::prop_assert_eq!(done.last_part.number as usize, count);
            proptest::prop_assert_eq!(done.last_part.len as usize, data.len() - (count - 1) * part);
            for (j, (parts, object)) in want.iter().enumerate() {
                proptest::prop_assert_eq!(done.last_part.checksums[j], parts[count - 1]);
                proptest::prop_assert_eq!(done.checksums[j], *object, "{}", algorithms[j]);
            }
        }
    }
}
