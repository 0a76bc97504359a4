//! The local tree a listing is checked against, which no key can escape.
//!
//! A key becomes a [`RelPath`] only if it can name a file beneath the root and nothing else: it is
//! not empty, does not start with `/`, has no empty, `.` or `..` segment and no NUL byte
//! ([`KeyError`] says which rule it breaks). The file is then opened relative to the root's open
//! directory, never by a path string:
//!
//! - on Linux with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: a symlink inside the root
//!   that resolves inside it is followed; one that resolves outside it, an absolute symlink, or a
//!   link into `/proc` is refused by the kernel ([`OpenError::Escapes`]);
//! - where `openat2` is missing (Linux before 5.6, a sandbox that forbids it, other unix systems):
//!   one directory at a time with `O_NOFOLLOW`, refusing every symlink ([`OpenError::Symlink`]);
//! - elsewhere (Windows): component by component, refusing any symlink or junction met on the
//!   way, then opened by path. A symlink swapped in between the check and the open is not caught
//!   there; no file system API of the standard library can do better.
//!
//! Files are opened read-only and without blocking (a FIFO under the root must not stop the
//! run), and only regular files are hashed: a directory, a FIFO, a socket or a device is an error
//! ([`OpenError::NotAFile`]). Nothing is ever written.

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a key cannot name a file under a root. The object gets an error verdict; the run goes on.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Nothing is left of the key once the prefix is cut off.
    #[error("nothing is left of the key once the prefix is cut off, so it names no file")]
    Empty,
    /// The key starts with `/`.
    #[error("the key starts with '/', an absolute path, which would leave the root")]
    Absolute,
    /// The key has an empty segment (`a//b`).
    #[error("the key has an empty segment ('//'), which names no file")]
    EmptySegment,
    /// The key ends with `/` but the object has bytes: a folder's name, not a file's.
    #[error("the key ends with '/', which names a folder, not a file")]
    TrailingSlash,
    /// The key has a `.` segment.
    #[error("the key has a '.' segment, which local paths cannot keep apart from the folder itself")]
    Dot,
    /// The key has a `..` segment.
    #[error("the key has a '..' segment, which would leave the root")]
    DotDot,
    /// The key holds a NUL byte.
    #[error("the key holds a NUL byte, which no local file name can hold")]
    Nul,
    /// The key is not UTF-8, and the system names files in Unicode (Windows).
    #[error("the key is not UTF-8, and file names on this system are Unicode")]
    NotUtf8,
    /// The key holds a character that this system reads as a path separator or drive (`\`, `:`
    /// on Windows).
    #[error("the key holds '{0}', which this system reads as part of a path, not of a name")]
    Reserved(char),
}

/// A key (without its prefix) that names a file beneath a root: relative, made of non-empty
/// segments separated by `/`, none of them `.` or `..`, no NUL byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelPath<'a>(&'a [u8]);

impl<'a> RelPath<'a> {
    /// Checks that `key` can name a file beneath a root.
    pub fn new(key: &'a [u8]) -> Result<RelPath<'a>, KeyError> {
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key[0] == b'/' {
            return Err(KeyError::Absolute);
        }
        if key.contains(&0) {
            return Err(KeyError::Nul);
        }
        if key.ends_with(b"/") {
            return Err(KeyError::TrailingSlash);
        }
        for seg in key.split(|&b| b == b'/') {
            match seg {
                b"" => return Err(KeyError::EmptySegment),
                b"." => return Err(KeyError::Dot),
                b".." => return Err(KeyError::DotDot),
                _ => {}
            }
        }
        if cfg!(not(unix)) {
            let text = std::str::from_utf8(key).map_err(|_| KeyError::NotUtf8)?;
            if let Some(c) = text.chars().find(|c| matches!(c, '\\' | ':')) {
                return Err(KeyError::Reserved(c));
            }
        }
        Ok(RelPath(key))
    }

    /// The bytes of the path, segments separated by `/`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    fn segments(&self) -> impl Iterator<Item = &'a [u8]> {
        self.0.split(|&b| b == b'/')
    }
}

/// What a path names when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A unix socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A symlink (not followed).
    Symlink,
    /// Something else.
    Other,
}

impl FileKind {
    fn of(t: std::fs::FileType) -> FileKind {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return FileKind::Fifo;
            }
            if t.is_socket() {
                return FileKind::Socket;
            }
            if t.is_char_device() {
                return FileKind::CharDevice;
            }
            if t.is_block_device() {
                return FileKind::BlockDevice;
            }
        }
        if t.is_dir() {
            FileKind::Directory
        } else if t.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::Other
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Symlink => "a symlink",
            FileKind::Other => "a socket or a device",
        })
    }
}

/// Why a file could not be opened for checking.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No file of that name: it, or a folder on its way, does not exist (or a folder on its way is
    /// a file).
    #[error("no such file")]
    Missing,
    /// The path names something that is not a regular file.
    #[error("{0}, not a regular file")]
    NotAFile(FileKind),
    /// A symlink on the way resolves outside the root (or is absolute, or a link into `/proc`):
    /// the kernel refused to follow it.
    #[error("a symlink on its path leads outside the root, so it is not followed")]
    Escapes,
    /// A symlink on the way, which this system cannot follow while staying beneath the root.
    #[error("a symlink is on its path, and symlinks are not followed on this system, which cannot keep them beneath the root")]
    Symlink,
    /// Any other failure (permissions, a name too long...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A regular file opened for checking.
#[derive(Debug)]
#[non_exhaustive]
pub struct LocalFile {
    /// The open file.
    pub file: File,
    /// The size the file reports.
    pub len: u64,
    /// The size to hash it with: `len` when it can be trusted, `None` for files whose sizes are
    /// made up (procfs, sysfs), which are read to their end.
    pub size: Option<u64>,
}

impl LocalFile {
    /// Checks that `file` is a regular file and reads its size.
    fn new(file: File) -> Result<LocalFile, OpenError> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(OpenError::NotAFile(FileKind::of(meta.file_type())));
        }
        #[cfg(unix)]
        {
            // Opened without blocking so that a FIFO cannot stop the run; a regular file is read
            // as usual (some FUSE file systems would pass the flag on). F_SETFL sets only the
            // status flags (append, async, direct, noatime, nonblock), none of which is wanted.
            let _ = rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty());
        }
        let len = meta.len();
        let size = crate::engine::trusted_size(&file, len).map_err(|e| match e {
            crate::engine::EngineError::Io(e) => OpenError::Io(e),
            e => OpenError::Io(io::Error::other(e.to_string())),
        })?;
        Ok(LocalFile { file, len, size })
    }
}

/// Opens `path` as `md5sum` would (relative to the working directory, symlinks followed, no
/// confinement), but without blocking, and only a regular file: for checkfiles.
pub fn open_plain(path: &Path) -> Result<LocalFile, OpenError> {
    let file = imp::open_plain(path).map_err(|e| io_to_open(e, false))?;
    LocalFile::new(file)
}

fn io_to_open(e: io::Error, escapes_on_xdev: bool) -> OpenError {
    #[cfg(unix)]
    if let Some(code) = e.raw_os_error() {
        let errno = rustix::io::Errno::from_raw_os_error(code);
        if errno == rustix::io::Errno::NOENT || errno == rustix::io::Errno::NOTDIR {
            return OpenError::Missing;
        }
        if escapes_on_xdev && errno == rustix::io::Errno::XDEV {
            return OpenError::Escapes;
        }
        // open(2) refuses a socket (and a device without a driver) with ENXIO, before any fstat.
        if errno == rustix::io::Errno::NXIO {
            return OpenError::NotAFile(FileKind::Other);
        }
    }
    if e.kind() == io::ErrorKind::NotFound {
        return OpenError::Missing;
    }
    OpenError::Io(e)
}

/// A directory opened once; files are opened beneath it only.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    inner: imp::Dir,
}

/// What a walk of the root finds: a regular file or a symlink, by its path relative to the root,
/// or a directory that cannot be read.
#[derive(Debug)]
pub(crate) struct Found {
    /// The path relative to the root, segments separated by `/`.
    pub(crate) rel: Vec<u8>,
    /// What it is.
    pub(crate) what: FoundKind,
}

#[derive(Debug)]
pub(crate) enum FoundKind {
    /// A regular file of this size.
    File(u64),
    /// A symlink (not followed).
    Symlink,
    /// A directory that cannot be read.
    Unreadable(io::Error),
}

impl Root {
    /// Opens the directory at `path` (a symlink there is followed: the caller chose it).
    pub fn open(path: &Path) -> io::Result<Root> {
        Ok(Root { path: path.to_path_buf(), inner: imp::Dir::open(path)? })
    }

    /// Opens the directory at `path` as on a system without `openat2`: every symlink under it is
    /// refused. For tests of that path.
    #[doc(hidden)]
    pub fn open_walking(path: &Path) -> io::Result<Root> {
        Ok(Root { path: path.to_path_buf(), inner: imp::Dir::open_walking(path)? })
    }

    /// The directory's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `rel` for messages: the root's path joined with it.
    pub fn local_path(&self, rel: RelPath<'_>) -> PathBuf {
        self.path.join(bytes_to_path(rel.as_bytes()))
    }

    /// Opens the regular file `rel` names beneath the root, never a file outside it.
    pub fn open_file(&self, rel: RelPath<'_>) -> Result<LocalFile, OpenError> {
        LocalFile::new(self.inner.open_beneath(rel)?)
    }

    /// Walks the tree, not following symlinks, in name order (bytes), depth first: a directory's
    /// entries are read and sorted when the walk enters it. Regular files and symlinks for which
    /// `skip` says true are passed over before anything more is asked of the system about them.
    /// Stops when `on` breaks.
    pub(crate) fn walk(
        &self,
        skip: &dyn Fn(&[u8]) -> bool,
        on: &mut dyn FnMut(Found) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        self.inner.walk(skip, on)
    }

    /// Whether the symlink at `rel` resolves, beneath the root, to a directory.
    pub(crate) fn is_dir_link(&self, rel: &[u8]) -> bool {
        self.inner.is_dir_link(rel)
    }
}

/// A path from the bytes of a key (unix) or its text (elsewhere: keys were checked to be UTF-8).
pub(crate) fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).replace('/', "\\"))
    }
}

#[cfg(unix)]
mod imp {
    use std::fs::File;
    use std::io;
    use std::ops::ControlFlow;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::path::Path;

    use rustix::fs::{openat, statat, AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{io_to_open, Found, FoundKind, OpenError, RelPath};

    /// Flags of every file opened for checking: read-only, never blocking (a FIFO), never taking
    /// a terminal.
    fn file_flags() -> OFlags {
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY
    }

    fn dir_flags() -> OFlags {
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY | OFlags::NOFOLLOW
    }

    pub(super) fn open_plain(path: &Path) -> io::Result<File> {
        Ok(File::from(rustix::fs::open(path, file_flags(), Mode::empty())?))
    }

    #[derive(Debug)]
    pub(super) struct Dir {
        fd: OwnedFd,
        /// `openat2` returned ENOSYS once: the kernel or a sandbox lacks it; walk from then on.
        #[cfg(target_os = "linux")]
        no_openat2: std::sync::atomic::AtomicBool,
    }

    impl Dir {
        pub(super) fn open(path: &Path) -> io::Result<Dir> {
            let fd =
                rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY, Mode::empty())?;
            Ok(Dir {
                fd,
                #[cfg(target_os = "linux")]
                no_openat2: std::sync::atomic::AtomicBool::new(false),
            })
        }

        /// As where `openat2` is missing: every open walks.
        pub(super) fn open_walking(path: &Path) -> io::Result<Dir> {
            let dir = Dir::open(path)?;
            #[cfg(target_os = "linux")]
            dir.no_openat2.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(dir)
        }

        pub(super) fn open_beneath(&self, rel: RelPath<'_>) -> Result<File, OpenError> {
            #[cfg(target_os = "linux")]
            if let Some(r) = self.openat2(rel.as_bytes(), file_flags()) {
                return r.map(File::from);
            }
            self.walk_open(rel).map(File::from)
        }

        /// `openat2` beneath the root, or `None` when the system lacks it (then walk).
        #[cfg(target_os = "linux")]
        fn openat2(&self, rel: &[u8], flags: OFlags) -> Option<Result<OwnedFd, OpenError>> {
            use rustix::fs::ResolveFlags;
            use std::sync::atomic::Ordering;
            if self.no_openat2.load(Ordering::Relaxed) {
                return None;
            }
            let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            // EAGAIN: a rename or mount raced with the lookup; the kernel asks to try again.
            for _ in 0..8 {
                match rustix::fs::openat2(&self.fd, rel, flags, Mode::empty(), how) {
                    Ok(fd) => return Some(Ok(fd)),
                    Err(Errno::AGAIN) => continue,
                    Err(Errno::NOSYS) => {
                        self.no_openat2.store(true, Ordering::Relaxed);
                        return None;
                    }
                    // A sandbox that forbids the call (older seccomp profiles say EPERM): the
                    // walk gives its own answer, which is right for a real EPERM too.
                    Err(Errno::PERM) => return None,
                    Err(e) => return Some(Err(io_to_open(e.into(), true))),
                }
            }
            None
        }

        /// One directory at a time, refusing every symlink.
        fn walk_open(&self, rel: RelPath<'_>) -> Result<OwnedFd, OpenError> {
            let segs: Vec<&[u8]> = rel.segments().collect();
            let (last, dirs) = segs.split_last().ok_or(OpenError::Missing)?;
            let mut held: Option<OwnedFd> = None;
            for seg in dirs {
                let at = held.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
                match openat(at, *seg, dir_flags(), Mode::empty()) {
                    Ok(fd) => held = Some(fd),
                    Err(e) => return Err(refused(at, seg, e)),
                }
            }
            let at = held.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            openat(at, *last, file_flags() | OFlags::NOFOLLOW, Mode::empty())
                .map_err(|e| refused(at, last, e))
        }

        pub(super) fn is_dir_link(&self, rel: &[u8]) -> bool {
            #[cfg(target_os = "linux")]
            if let Some(r) = self.openat2(rel, OFlags::PATH | OFlags::CLOEXEC) {
                return r.is_ok_and(|fd| {
                    rustix::fs::fstat(&fd)
                        .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory)
                });
            }
            // Without openat2 the target is only looked at, never opened: a symlink to a
            // directory is left out of the extra files either way.
            statat(&self.fd, rel, AtFlags::empty())
                .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory)
        }

        pub(super) fn walk(
            &self,
            skip: &dyn Fn(&[u8]) -> bool,
            on: &mut dyn FnMut(Found) -> ControlFlow<()>,
        ) -> ControlFlow<()> {
            struct Level {
                fd: OwnedFd,
                names: std::vec::IntoIter<(Vec<u8>, FileType)>,
                /// Length of the relative path of this directory, with its trailing `/`.
                base: usize,
            }
            let root = match self.fd.try_clone() {
                Ok(fd) => fd,
                Err(e) => return on(Found { rel: Vec::new(), what: FoundKind::Unreadable(e) }),
            };
            let mut rel: Vec<u8> = Vec::new();
            let mut stack = match read_sorted(root.as_fd()) {
                Ok(names) => vec![Level { fd: root, names: names.into_iter(), base: 0 }],
                Err(e) => return on(Found { rel: Vec::new(), what: FoundKind::Unreadable(e) }),
            };
            while let Some(level) = stack.last_mut() {
                let Some((name, mut kind)) = level.names.next() else {
                    stack.pop();
                    continue;
                };
                rel.truncate(level.base);
                rel.extend_from_slice(&name);
                let at = level.fd.as_fd();
                if kind == FileType::Unknown {
                    match statat(at, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(s) => kind = FileType::from_raw_mode(s.st_mode),
                        // Gone since the directory was read.
                        Err(Errno::NOENT) => continue,
                        Err(e) => {
                            on(Found { rel: rel.clone(), what: FoundKind::Unreadable(e.into()) })?;
                            continue;
                        }
                    }
                }
                match kind {
                    FileType::Directory => {
                        let opened = openat(at, name.as_slice(), dir_flags(), Mode::empty())
                            .map_err(io::Error::from)
                            .and_then(|fd| Ok((read_sorted(fd.as_fd())?, fd)));
                        match opened {
                            Ok((names, fd)) => {
                                rel.push(b'/');
                                let base = rel.len();
                                stack.push(Level { fd, names: names.into_iter(), base });
                            }
                            // Replaced by something else since it was listed.
                            Err(e)
                                if matches!(
                                    Errno::from_io_error(&e),
                                    Some(Errno::NOENT | Errno::LOOP | Errno::NOTDIR)
                                ) => {}
                            Err(e) => on(Found { rel: rel.clone(), what: FoundKind::Unreadable(e) })?,
                        }
                    }
                    FileType::RegularFile | FileType::Symlink if skip(&rel) => {}
                    FileType::RegularFile => match statat(at, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(s) => on(Found { rel: rel.clone(), what: FoundKind::File(s.st_size as u64) })?,
                        Err(Errno::NOENT) => {}
                        Err(e) => on(Found { rel: rel.clone(), what: FoundKind::Unreadable(e.into()) })?,
                    },
                    FileType::Symlink => on(Found { rel: rel.clone(), what: FoundKind::Symlink })?,
                    // FIFOs, sockets and devices are no objects.
                    _ => {}
                }
            }
            ControlFlow::Continue(())
        }
    }

    /// Why an `openat` of `seg` in `at` failed: a symlink (refused), or the error as it is.
    fn refused(at: BorrowedFd<'_>, seg: &[u8], e: Errno) -> OpenError {
        if matches!(e, Errno::LOOP | Errno::MLINK | Errno::NOTDIR)
            && statat(at, seg, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink)
        {
            return OpenError::Symlink;
        }
        io_to_open(e.into(), false)
    }

    /// The entries of a directory (without `.` and `..`), sorted by name.
    fn read_sorted(fd: BorrowedFd<'_>) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            names.push((name.to_vec(), entry.file_type()));
        }
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(names)
    }
}

#[cfg(not(unix))]
mod imp {
    //! Without `openat`: each component is checked for a symlink before the file is opened by its
    //! path. A symlink swapped in between the check and the open is not caught.

    use std::fs::{self, File};
    use std::io;
    use std::ops::ControlFlow;
    use std::path::{Path, PathBuf};

    use super::{io_to_open, Found, FoundKind, OpenError, RelPath};

    pub(super) fn open_plain(path: &Path) -> io::Result<File> {
        File::open(path)
    }

    #[derive(Debug)]
    pub(super) struct Dir {
        path: PathBuf,
    }

    impl Dir {
        pub(super) fn open(path: &Path) -> io::Result<Dir> {
            let path = fs::canonicalize(path)?;
            if !fs::metadata(&path)?.is_dir() {
                return Err(io::Error::other("not a directory"));
            }
            Ok(Dir { path })
        }

        pub(super) fn open_beneath(&self, rel: RelPath<'_>) -> Result<File, OpenError> {
            let mut p = self.path.clone();
            for seg in rel.segments() {
                p.push(String::from_utf8_lossy(seg).as_ref());
                let meta = fs::symlink_metadata(&p).map_err(|e| io_to_open(e, false))?;
                if meta.file_type().is_symlink() {
                    return Err(OpenError::Symlink);
                }
            }
            File::open(&p).map_err(|e| io_to_open(e, false))
        }

        pub(super) fn open_walking(path: &Path) -> io::Result<Dir> {
            Dir::open(path)
        }

        pub(super) fn is_dir_link(&self, _rel: &[u8]) -> bool {
            false
        }

        pub(super) fn walk(
            &self,
            skip: &dyn Fn(&[u8]) -> bool,
            on: &mut dyn FnMut(Found) -> ControlFlow<()>,
        ) -> ControlFlow<()> {
            self.walk_dir(&self.path, Vec::new(), skip, on)
        }

        fn walk_dir(
            &self,
            dir: &Path,
            rel: Vec<u8>,
            skip: &dyn Fn(&[u8]) -> bool,
            on: &mut dyn FnMut(Found) -> ControlFlow<()>,
        ) -> ControlFlow<()> {
            let read = fs::read_dir(dir).and_then(|it| it.collect::<io::Result<Vec<_>>>());
            let mut entries = match read {
                Ok(e) => e,
                Err(e) => return on(Found { rel, what: FoundKind::Unreadable(e) }),
            };
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let mut r = rel.clone();
                if !r.is_empty() {
                    r.push(b'/');
                }
                r.extend_from_slice(e.file_name().to_string_lossy().as_bytes());
                match e.file_type() {
                    Ok(t) if (t.is_symlink() || t.is_file()) && skip(&r) => {}
                    Ok(t) if t.is_symlink() => on(Found { rel: r, what: FoundKind::Symlink })?,
                    Ok(t) if t.is_dir() => self.walk_dir(&e.path(), r, skip, on)?,
                    Ok(t) if t.is_file() => {
                        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                        on(Found { rel: r, what: FoundKind::File(len) })?
                    }
                    Ok(_) => {}
                    Err(err) => on(Found { rel: r, what: FoundKind::Unreadable(err) })?,
                }
            }
            ControlFlow::Continue(())
        }
    }
}
