//! What the process learns from its operating system, and how it dies: standard descriptors that
//! were closed before it started, and SIGPIPE.

use std::io;

/// Whether standard input was closed when the process started.
pub(crate) fn stdin_was_closed() -> bool {
    imp::was_closed(&io::stdin())
}

/// Whether standard output was closed when the process started.
pub(crate) fn stdout_was_closed() -> bool {
    imp::was_closed(&io::stdout())
}

/// Ends the process as md5sum does when the reader of its output went away: killed by SIGPIPE
/// (status 141 in a shell), so that no pipeline sees 0 for files that were never checked. Where
/// signals do not exist, status 2.
pub(crate) fn die_of_broken_pipe() -> ! {
    imp::raise_sigpipe();
    std::process::exit(2)
}

#[cfg(unix)]
mod imp {
    use std::os::fd::{AsFd, AsRawFd};

    /// Rust's runtime reopens a standard descriptor that is closed at startup (0, 1 or 2) as
    /// /dev/null before `main`, so that no later `open` can take its number. A closed standard
    /// input then reads as an empty file and a closed standard output swallows every line, so
    /// `etagsum verify - d41d…27e <&-` would say OK about nothing.
    ///
    /// On Linux a function in `.init_array` runs before the runtime's own start, while the
    /// descriptors are still as the parent left them, and records which were closed: exact, so
    /// that a /dev/null opened read-write on purpose (Python's `subprocess.DEVNULL`, systemd's
    /// `StandardOutput=null`) is never mistaken for a closed descriptor. Elsewhere the runtime's
    /// trace is the only one left: it opens /dev/null read-write, while a shell's `</dev/null`
    /// opens it read-only and `>/dev/null` write-only, so /dev/null open read-write is taken for
    /// a closed descriptor.
    #[cfg(target_os = "linux")]
    pub(super) fn was_closed(stream: &impl AsFd) -> bool {
        let fd = stream.as_fd().as_raw_fd();
        (0..3).contains(&fd) && startup::CLOSED.load(std::sync::atomic::Ordering::Relaxed) & (1 << fd) != 0
    }

    #[cfg(target_os = "linux")]
    mod startup {
        use std::sync::atomic::{AtomicU8, Ordering};

        /// Bit `fd` is set when descriptor `fd` (0, 1, 2) was closed when the process started.
        pub(super) static CLOSED: AtomicU8 = AtomicU8::new(0);

        extern "C" fn record() {
            for fd in 0..3 {
                // SAFETY: F_GETFD takes no pointer and only reads the descriptor table.
                if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
                    CLOSED.fetch_or(1 << fd, Ordering::Relaxed);
                }
            }
        }

        // Hand-written because no crate does this one thing for a binary: run before the runtime's
        // start (the `ctor` crate does it in general, with far more than two lines of need here).
        #[used]
        #[link_section = ".init_array"]
        static RECORD: extern "C" fn() = record;
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn was_closed(stream: &impl AsFd) -> bool {
        use std::fs::File;
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let fd = stream.as_fd();
        let (Ok(null), Ok(dup)) = (std::fs::metadata("/dev/null"), fd.try_clone_to_owned()) else {
            return false;
        };
        let Ok(meta) = File::from(dup).metadata() else { return false };
        if !meta.file_type().is_char_device() || meta.rdev() != null.rdev() {
            return false;
        }
        // SAFETY: F_GETFL only reads the status flags of a descriptor that `fd` borrows, so it is open.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        flags != -1 && flags & libc::O_ACCMODE == libc::O_RDWR
    }

    pub(super) fn raise_sigpipe() {
        // SAFETY: these calls take no pointers but to the local signal set, which sigemptyset
        // initialises. Rust's runtime ignores SIGPIPE; the default disposition is restored, and the
        // signal unblocked in case the parent blocked it, so that raising it kills the process.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(libc::SIGPIPE);
        }
    }
}

#[cfg(not(unix))]
mod imp {
    /// Elsewhere the runtime leaves closed descriptors alone: a read or write on one fails.
    pub(super) fn was_closed<T>(_: &T) -> bool {
        false
    }

    pub(super) fn raise_sigpipe() {}
}
