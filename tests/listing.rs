//! Checking listings against local trees: path safety (no key and no symlink opens a file outside
//! the root), the verdict of every kind of object, sharding, order, cancellation and the summary.

mod common;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use etagsum::listing::{
    check, At, BadEntry, CheckError, CheckOptions, CheckSummary, Checked, Entry, FileKind, KeyError, Kind,
    ListingError, OpenError, Outcome, Root, Shard, Sink, Skipped, Source,
};
use etagsum::{engine, Layout, NoProgress, ReadOptions, Reason, Verdict};

/// A listing held in memory.
struct VecSource(Vec<Result<Entry, BadEntry>>);

impl Source for VecSource {
    fn read(self, sink: &mut Sink<'_>) -> Result<Skipped, ListingError> {
        for e in self.0 {
            if sink(e).is_break() {
                break;
            }
        }
        Ok(Skipped::default())
    }
}

/// Deterministic bytes for file `seed`.
fn content(seed: u64, len: usize) -> Vec<u8> {
    common::Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1).bytes(len)
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// The layout the aws cli uses for `size` bytes (8 MiB parts from 8 MiB on).
fn aws_layout(size: u64) -> Layout {
    if size < 8 << 20 {
        Layout::Single
    } else {
        Layout::uniform(8 << 20).unwrap()
    }
}

/// The ETag S3 would give the file at `path`.
fn etag_of(path: &Path) -> String {
    let size = std::fs::metadata(path).unwrap().len();
    let h = engine::hash_path(path, &[aws_layout(size)], &ReadOptions::default(), &NoProgress).unwrap();
    format!("\"{}\"", h.etags[0].as_ref().unwrap())
}

/// A listing entry for `key`, made from the file at `path`, as list-objects-v2 gives it.
fn listed(key: &[u8], path: &Path) -> Entry {
    let mut e = Entry::new(key);
    e.size = Some(std::fs::metadata(path).unwrap().len());
    e.etag = Some(etag_of(path));
    e
}

/// An entry with a given ETag and size.
fn entry(key: &[u8], etag: &str, size: u64) -> Entry {
    let mut e = Entry::new(key);
    e.size = Some(size);
    e.etag = Some(etag.to_string());
    e
}

fn opts(root: &Path) -> CheckOptions {
    let mut o = CheckOptions::default();
    o.root = Some(Root::open(root).unwrap());
    o
}

fn run_with(entries: Vec<Result<Entry, BadEntry>>, o: &CheckOptions) -> (Vec<Checked>, CheckSummary) {
    let mut out = Vec::new();
    let summary = check(VecSource(entries), o, &ReadOptions::default(), &NoProgress, &mut |c| {
        out.push(c);
        ControlFlow::Continue(())
    })
    .unwrap();
    (out, summary)
}

fn run(entries: Vec<Entry>, o: &CheckOptions) -> (Vec<Checked>, CheckSummary) {
    run_with(entries.into_iter().map(Ok).collect(), o)
}

fn kinds(out: &[Checked]) -> Vec<(String, Kind)> {
    out.iter().map(|c| (String::from_utf8_lossy(&c.key).into_owned(), c.outcome.kind())).collect()
}

/// A tree with a root and a directory beside it ("outside") holding a secret file.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    write(&outside.join("secret"), b"outside the root");
    write(&root.join("inside.bin"), b"inside the root");
    Fixture { _dir: dir, root, outside }
}

fn key_error(c: &Checked) -> &KeyError {
    match &c.outcome {
        Outcome::Error(CheckError::Key(k)) => k,
        o => panic!("{:?}: expected a key error, got {o:?}", String::from_utf8_lossy(&c.key)),
    }
}

fn open_error(c: &Checked) -> &OpenError {
    match &c.outcome {
        Outcome::Error(CheckError::Open(e)) => e,
        o => panic!("{:?}: expected an open error, got {o:?}", String::from_utf8_lossy(&c.key)),
    }
}

#[test]
fn hostile_keys_are_errors_and_the_run_goes_on() {
    let f = fixture();
    // Every key is given the ETag of the secret outside the root: a key that reached it would match.
    let secret = f.outside.join("secret");
    let (etag, size) = (etag_of(&secret), std::fs::metadata(&secret).unwrap().len());
    let mut o = opts(&f.root);
    o.prefix = b"data/".to_vec();
    let cases: Vec<(&[u8], KeyError)> = vec![
        (b"data/../outside/secret", KeyError::DotDot),
        (b"data/../../outside/secret", KeyError::DotDot),
        (b"data//etc/passwd", KeyError::Absolute),
        (b"data/a/../../outside/secret", KeyError::DotDot),
        (b"data/./inside.bin", KeyError::Dot),
        (b"data/sub//inside.bin", KeyError::EmptySegment),
        (b"data/sub/.", KeyError::Dot),
        (b"data/sub/..", KeyError::DotDot),
        (b"data/in\0side.bin", KeyError::Nul),
        (b"data/", KeyError::Empty),
        (b"data/sub/", KeyError::TrailingSlash),
        (b"data", KeyError::Empty),
    ];
    let mut entries: Vec<Entry> = Vec::new();
    for (key, _) in &cases {
        // Keys ending in '/' are folder markers only when empty: these have bytes.
        entries.push(entry(key, &etag, size));
    }
    // The prefix itself as a key is nothing but `data` without its slash: outside the prefix.
    entries.push(listed(b"data/inside.bin", &f.root.join("inside.bin")));
    // A prefix that does not end in '/' is cut as it is.
    let (out, summary) = run(entries, &o);
    assert_eq!(summary.outside_prefix, 1, "{:?}", kinds(&out));
    assert_eq!(out.len(), cases.len());
    for (c, (key, want)) in out.iter().zip(&cases).filter(|(_, (k, _))| *k != b"data") {
        assert_eq!(c.key, *key);
        assert_eq!(key_error(c), want, "{:?}", String::from_utf8_lossy(key));
        assert_eq!(c.path, None);
    }
    assert_eq!(out.last().unwrap().outcome.kind(), Kind::Match, "the run went on after the hostile keys");

    // Without a prefix: absolute keys and the empty remainder.
    let o = opts(&f.root);
    let (out, _) = run(
        vec![
            entry(b"/etc/passwd", &etag, size),
            entry(b"", &etag, size),
            entry(b"../../etc/passwd", &etag, size),
            entry(b"a/../../x", &etag, size),
            entry(b"./a", &etag, size),
            entry(b"a//b", &etag, size),
            entry(b"a\0b", &etag, size),
        ],
        &o,
    );
    let got: Vec<&KeyError> = out.iter().map(key_error).collect();
    assert_eq!(
        got,
        [
            &KeyError::Absolute,
            &KeyError::Empty,
            &KeyError::DotDot,
            &KeyError::DotDot,
            &KeyError::Dot,
            &KeyError::EmptySegment,
            &KeyError::Nul
        ]
    );
    for c in &out {
        let msg = c.outcome_message();
        assert!(!msg.is_empty());
    }
}

/// The text of an error outcome.
trait Message {
    fn outcome_message(&self) -> String;
}

impl Message for Checked {
    fn outcome_message(&self) -> String {
        match &self.outcome {
            Outcome::Error(e) => e.to_string(),
            o => format!("{o:?}"),
        }
    }
}

#[test]
fn the_prefix_itself_is_a_folder_marker_or_names_nothing() {
    let f = fixture();
    let mut o = opts(&f.root);
    o.prefix = b"data/".to_vec();
    let mut marker = Entry::new(b"data/".to_vec());
    marker.size = Some(0);
    let mut marker2 = Entry::new(b"data/sub/".to_vec());
    marker2.size = Some(0);
    let (out, summary) = run(vec![marker, marker2], &o);
    assert!(out.is_empty(), "{:?}", kinds(&out));
    assert_eq!(summary.folder_markers, 2);

    // A prefix without a trailing slash, and a key equal to it.
    let mut o = opts(&f.root);
    o.prefix = b"inside.bin".to_vec();
    let (out, _) = run(vec![listed(b"inside.bin", &f.root.join("inside.bin"))], &o);
    assert_eq!(key_error(&out[0]), &KeyError::Empty);
    assert!(out[0].outcome_message().contains("prefix"), "{}", out[0].outcome_message());
}

#[test]
fn long_keys() {
    let f = fixture();
    // 1024 bytes in segments of 200: a valid key S3 accepts, and a path the system can open.
    let mut key = Vec::new();
    while key.len() < 1024 - 201 {
        key.extend_from_slice(&[b'd'; 200]);
        key.push(b'/');
    }
    key.resize(1024, b'f');
    assert_eq!(key.len(), 1024);
    let path = f.root.join(std::str::from_utf8(&key).unwrap());
    write(&path, b"deep");
    // One segment of 1024 bytes: no file system holds such a name.
    let long = vec![b'x'; 1024];
    let o = opts(&f.root);
    let (out, _) = run(vec![listed(&key, &path), entry(&long, &etag_of(&path), 4)], &o);
    assert_eq!(out[0].outcome.kind(), Kind::Match);
    assert_eq!(out[0].path.as_deref(), Some(path.as_path()));
    match open_error(&out[1]) {
        OpenError::Io(e) => assert!(e.to_string().to_lowercase().contains("too long"), "{e}"),
        e => panic!("{e:?}"),
    }
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Symlinks to the secret: absolute, relative up and out, and a directory that leads out.
    fn links(f: &Fixture) {
        symlink(f.outside.join("secret"), f.root.join("abs")).unwrap();
        symlink("../outside/secret", f.root.join("rel")).unwrap();
        symlink("../../outside/secret", f.root.join("sub/rel2")).unwrap();
        symlink(&f.outside, f.root.join("dirlink")).unwrap();
        symlink("../outside", f.root.join("dirlink_rel")).unwrap();
        // Inside: followed where the system can keep it beneath the root.
        symlink("inside.bin", f.root.join("in")).unwrap();
        symlink("../inside.bin", f.root.join("sub/in_up")).unwrap();
        symlink("sub", f.root.join("subdir_link")).unwrap();
        write(&f.root.join("sub/x.bin"), b"in sub");
        // A link into /proc: a magic link.
        symlink("/proc/self/root/etc/hostname", f.root.join("magic")).unwrap();
    }

    fn outside_entries(f: &Fixture) -> Vec<Entry> {
        let secret = f.outside.join("secret");
        ["abs", "rel", "sub/rel2", "dirlink/secret", "dirlink_rel/secret", "magic"]
            .iter()
            .map(|k| listed(k.as_bytes(), &secret))
            .collect()
    }

    fn inside_entries(f: &Fixture) -> Vec<Entry> {
        let inside = f.root.join("inside.bin");
        vec![
            listed(b"in", &inside),
            listed(b"sub/in_up", &inside),
            listed(b"subdir_link/x.bin", &f.root.join("sub/x.bin")),
        ]
    }

    #[test]
    fn symlinks_that_leave_the_root_are_refused() {
        let f = fixture();
        links(&f);
        let (out, _) = run(outside_entries(&f), &opts(&f.root));
        for c in &out {
            // Each entry carries the secret's own ETag and size: had the file been opened, it
            // would match. An error says it was not.
            let e = open_error(c);
            let key = String::from_utf8_lossy(&c.key);
            if key == "magic" {
                // /proc/self/root is a magic link; the absolute target is refused first.
                assert!(matches!(e, OpenError::Escapes | OpenError::Io(_)), "{key}: {e:?}");
            } else {
                assert!(matches!(e, OpenError::Escapes), "{key}: {e:?}");
            }
            assert!(c.local_size.is_none());
        }
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn symlinks_that_stay_inside_are_followed() {
        let f = fixture();
        links(&f);
        let (out, _) = run(inside_entries(&f), &opts(&f.root));
        assert_eq!(kinds(&out).iter().map(|k| k.1).collect::<Vec<_>>(), [Kind::Match; 3], "{:?}", out);
    }

    #[test]
    fn without_openat2_every_symlink_is_refused() {
        let f = fixture();
        links(&f);
        let mut o = CheckOptions::default();
        o.root = Some(Root::open_walking(&f.root).unwrap());
        let mut entries = outside_entries(&f);
        entries.extend(inside_entries(&f));
        entries.push(listed(b"sub/x.bin", &f.root.join("sub/x.bin")));
        entries.push(entry(b"sub/nothing", "d41d8cd98f00b204e9800998ecf8427e", 0));
        entries.push(entry(b"inside.bin/below", "d41d8cd98f00b204e9800998ecf8427e", 0));
        let (out, _) = run(entries, &o);
        let n = out.len();
        for c in &out[..n - 3] {
            assert!(matches!(open_error(c), OpenError::Symlink), "{:?}", String::from_utf8_lossy(&c.key));
        }
        assert_eq!(out[n - 3].outcome.kind(), Kind::Match);
        assert_eq!(out[n - 2].outcome.kind(), Kind::Missing);
        assert_eq!(out[n - 1].outcome.kind(), Kind::Missing, "a file where a folder is expected");
    }

    #[test]
    fn a_fifo_under_the_root_does_not_block() {
        let f = fixture();
        let dir =
            rustix::fs::open(&f.root, rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty()).unwrap();
        rustix::fs::mkfifoat(&dir, "fifo", rustix::fs::Mode::from_raw_mode(0o644)).unwrap();
        let root = f.root.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let entries = vec![entry(b"fifo", "d41d8cd98f00b204e9800998ecf8427e", 0)];
            let (out, _) = run(entries, &opts(&root));
            let walked = {
                let mut o = CheckOptions::default();
                o.root = Some(Root::open_walking(&root).unwrap());
                run(vec![entry(b"fifo", "d41d8cd98f00b204e9800998ecf8427e", 0)], &o).0
            };
            let _ = tx.send((out, walked));
        });
        let (out, walked) =
            rx.recv_timeout(std::time::Duration::from_secs(20)).expect("checking a FIFO hung");
        for c in [&out[0], &walked[0]] {
            assert!(matches!(open_error(c), OpenError::NotAFile(FileKind::Fifo)), "{:?}", c.outcome);
            assert!(c.outcome_message().contains("FIFO"), "{}", c.outcome_message());
        }
    }
}

#[test]
fn a_directory_where_a_file_is_expected() {
    let f = fixture();
    let (out, _) = run(vec![entry(b"sub", "d41d8cd98f00b204e9800998ecf8427e", 0)], &opts(&f.root));
    assert!(matches!(open_error(&out[0]), OpenError::NotAFile(FileKind::Directory)));
    assert_eq!(out[0].outcome_message(), "a directory, not a regular file");
}

#[cfg(unix)]
#[test]
fn a_socket_where_a_file_is_expected() {
    let f = fixture();
    let _listener = std::os::unix::net::UnixListener::bind(f.root.join("sock")).unwrap();
    let (out, _) = run(vec![entry(b"sock", "d41d8cd98f00b204e9800998ecf8427e", 0)], &opts(&f.root));
    assert!(matches!(open_error(&out[0]), OpenError::NotAFile(FileKind::Other)), "{:?}", out[0].outcome);
    assert_eq!(out[0].outcome_message(), "a socket or a device, not a regular file");
}

#[test]
fn missing_files_and_missing_folders() {
    let f = fixture();
    let e = "d41d8cd98f00b204e9800998ecf8427e";
    let (out, _) = run(
        vec![entry(b"nothing", e, 0), entry(b"no/such/dir", e, 0), entry(b"inside.bin/x", e, 0)],
        &opts(&f.root),
    );
    assert_eq!(kinds(&out).iter().map(|k| k.1).collect::<Vec<_>>(), [Kind::Missing; 3]);
    assert_eq!(out[1].path.as_deref(), Some(f.root.join("no/such/dir").as_path()));
}

/// A tree of files of mixed sizes, some multipart.
fn tree(root: &Path, n: usize) -> Vec<(String, PathBuf)> {
    let sizes = [0usize, 1, 63, 64, 100, 4096, 65536, 70_000, (1 << 20) + 1, 300_000];
    let mut files = Vec::new();
    for i in 0..n {
        let key = format!("d{}/f{i:04}.bin", i % 7);
        let len = if i == 3 { (9 << 20) + 5 } else { sizes[i % sizes.len()] };
        let path = root.join(&key);
        write(&path, &content(i as u64, len));
        files.push((key, path));
    }
    files
}

fn listing(files: &[(String, PathBuf)], prefix: &str) -> Vec<Entry> {
    files.iter().map(|(k, p)| listed(format!("{prefix}{k}").as_bytes(), p)).collect()
}

#[test]
fn a_tree_checked_against_its_own_listing_matches_then_each_change_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let files = tree(dir.path(), 40);
    let entries = listing(&files, "pre/");
    let mut o = opts(dir.path());
    o.prefix = b"pre/".to_vec();
    o.extra = true;
    let (out, summary) = run(entries.clone(), &o);
    assert!(out.iter().all(|c| c.outcome.kind() == Kind::Match), "{:?}", kinds(&out));
    assert_eq!(summary.counts.matched, 40);
    assert_eq!(summary.counts.total(), 40);
    let total: u64 = entries.iter().map(|e| e.size.unwrap()).sum();
    assert_eq!(summary.bytes_hashed, total);
    let multipart = out.iter().find(|c| c.key == b"pre/d3/f0003.bin").unwrap();
    match &multipart.outcome {
        Outcome::Verified(r) => {
            assert_eq!(r.reason, Reason::Reproduced);
            assert_eq!(r.layout, Some(Layout::uniform(8 << 20).unwrap()));
        }
        o => panic!("{o:?}"),
    }

    // One byte changed (same size), one file deleted, one added, one grown.
    let changed = &files[5].1;
    let mut data = std::fs::read(changed).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 1;
    std::fs::write(changed, &data).unwrap();
    std::fs::remove_file(&files[8].1).unwrap();
    write(&dir.path().join("d2/new.bin"), b"new");
    let grown = &files[9].1;
    let mut g = std::fs::read(grown).unwrap();
    g.push(0);
    std::fs::write(grown, &g).unwrap();
    let (out, summary) = run(entries, &o);
    let by_key: BTreeMap<String, Kind> = kinds(&out).into_iter().collect();
    for (k, kind) in &by_key {
        let want = match k.as_str() {
            "pre/d5/f0005.bin" | "pre/d2/f0009.bin" => Kind::Mismatch,
            "pre/d1/f0008.bin" => Kind::Missing,
            "pre/d2/new.bin" => Kind::Extra,
            _ => Kind::Match,
        };
        assert_eq!(*kind, want, "{k}");
    }
    assert_eq!(out.len(), 41);
    assert_eq!(kinds(&out).last().unwrap().0, "pre/d2/new.bin", "extras come after the listed objects");
    let grown_out = out.iter().find(|c| c.key == b"pre/d2/f0009.bin").unwrap();
    match &grown_out.outcome {
        Outcome::Verified(r) => assert!(matches!(r.reason, Reason::SizeDiffers { .. })),
        o => panic!("{o:?}"),
    }
    assert_eq!(grown_out.local_size, Some(g.len() as u64));
    let changed_out = out.iter().find(|c| c.key == b"pre/d5/f0005.bin").unwrap();
    match &changed_out.outcome {
        Outcome::Verified(r) => assert_eq!(r.reason, Reason::DigestDiffers),
        o => panic!("{o:?}"),
    }
    // The grown file was not hashed: its size differs. The deleted one has no bytes.
    let hashed: u64 = files
        .iter()
        .enumerate()
        .filter(|(i, _)| ![8, 9].contains(i))
        .map(|(_, (_, p))| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(summary.bytes_hashed, hashed);
    let extra = out.last().unwrap();
    assert_eq!(extra.local_size, Some(3));
    assert_eq!(extra.path.as_deref(), Some(dir.path().join("d2/new.bin").as_path()));
}

#[cfg(unix)]
#[test]
fn extra_reports_files_and_symlinks_not_fifos_or_links_to_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a/listed"), b"x");
    write(&root.join("a/unlisted"), b"y");
    write(&root.join("b/c/deep"), b"z");
    std::os::unix::fs::symlink("listed", root.join("a/link")).unwrap();
    std::os::unix::fs::symlink("../b", root.join("a/dirlink")).unwrap();
    std::os::unix::fs::symlink("/nowhere", root.join("dangling")).unwrap();
    let d = rustix::fs::open(root, rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty()).unwrap();
    rustix::fs::mkfifoat(&d, "a/fifo", rustix::fs::Mode::from_raw_mode(0o644)).unwrap();
    let mut o = opts(root);
    o.extra = true;
    let (out, _) = run(vec![listed(b"a/listed", &root.join("a/listed"))], &o);
    let got: Vec<(String, Kind)> = kinds(&out);
    assert_eq!(
        got,
        [
            ("a/listed".to_string(), Kind::Match),
            ("a/link".to_string(), Kind::Extra),
            ("a/unlisted".to_string(), Kind::Extra),
            ("b/c/deep".to_string(), Kind::Extra),
            ("dangling".to_string(), Kind::Extra),
        ]
    );
    // Where symlinks are not followed, the same files are extra.
    let mut o = CheckOptions::default();
    o.root = Some(Root::open_walking(root).unwrap());
    o.extra = true;
    let (walked, _) = run(vec![listed(b"a/listed", &root.join("a/listed"))], &o);
    assert_eq!(kinds(&walked), got);
    // With a prefix, the extra files' keys carry it.
    let mut o = opts(&root.join("b"));
    o.extra = true;
    o.prefix = b"p/".to_vec();
    let (out, _) = run(vec![], &o);
    assert_eq!(kinds(&out), [("p/c/deep".to_string(), Kind::Extra)]);
}

#[test]
fn shards_together_are_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let files = tree(dir.path(), 60);
    let mut entries = listing(&files, "");
    entries.push(entry(b"../escape", "d41d8cd98f00b204e9800998ecf8427e", 0));
    entries.push(entry(b"gone", "d41d8cd98f00b204e9800998ecf8427e", 0));
    std::fs::write(&files[1].1, b"changed").unwrap();
    write(&dir.path().join("zz/extra1"), b"1");
    write(&dir.path().join("zz/extra2"), b"2");
    let mut o = opts(dir.path());
    o.extra = true;
    let (whole, summary) = run(entries.clone(), &o);
    assert_eq!(summary.other_shards, 0);
    let mut want = kinds(&whole);
    want.sort();
    assert!(want.iter().any(|k| k.1 == Kind::Extra) && want.iter().any(|k| k.1 == Kind::Error));
    assert!(want.iter().any(|k| k.1 == Kind::Missing) && want.iter().any(|k| k.1 == Kind::Mismatch));
    for n in [1u64, 2, 3, 5, 8] {
        let mut union = Vec::new();
        let mut skipped = 0;
        for k in 1..=n {
            let mut o = opts(dir.path());
            o.extra = true;
            o.shard = Some(Shard::new(k, n).unwrap());
            let (out, summary) = run(entries.clone(), &o);
            for c in &out {
                assert!(Shard::new(k, n).unwrap().contains(&c.key));
            }
            skipped += summary.other_shards;
            union.extend(kinds(&out));
        }
        union.sort();
        assert_eq!(union, want, "{n} shards");
        assert_eq!(skipped, (n - 1) * entries.len() as u64, "{n} shards");
    }
}

#[test]
fn outcomes_come_in_listing_order() {
    let dir = tempfile::tempdir().unwrap();
    // More entries than a batch, sizes mixed so that large files go alone and small ones together.
    let mut entries = Vec::new();
    let n = 1300;
    for i in 0..n {
        let key = format!("k{:04}", (i * 7919) % n);
        let len = match i % 50 {
            0 => (1 << 20) + 7,
            1 => 3 << 20,
            _ => (i * 37) % 5000,
        };
        let path = dir.path().join(&key);
        write(&path, &content(i as u64, len));
        if i % 97 == 5 {
            entries.push(Ok(entry(format!("missing{i}").as_bytes(), "d41d8cd98f00b204e9800998ecf8427e", 0)));
        }
        if i % 101 == 7 {
            entries.push(Err(BadEntry {
                at: At { file: "listing".into(), line: Some(i as u64) },
                what: "garbled".into(),
            }));
        }
        entries.push(Ok(listed(key.as_bytes(), &path)));
    }
    let want: Vec<Vec<u8>> =
        entries.iter().map(|e| e.as_ref().map(|e| e.key.clone()).unwrap_or_default()).collect();
    let (out, summary) = run_with(entries, &opts(dir.path()));
    let got: Vec<Vec<u8>> = out.iter().map(|c| c.key.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(summary.counts.matched, n as u64);
    assert_eq!(summary.counts.missing, (0..n).filter(|i| i % 97 == 5).count() as u64);
    let bad: Vec<&Checked> = out.iter().filter(|c| c.outcome.kind() == Kind::Error).collect();
    assert_eq!(bad.len(), (0..n).filter(|i| i % 101 == 7).count());
    assert_eq!(bad[0].outcome_message(), "garbled");
    assert_eq!(bad[0].at.as_ref().unwrap().to_string(), "listing:7");
}

#[test]
fn the_callback_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let files = tree(dir.path(), 30);
    let mut entries = listing(&files, "");
    // Many more entries than a batch: stopping must not read them all.
    for i in 0..5000 {
        entries.push(entry(format!("none{i}").as_bytes(), "d41d8cd98f00b204e9800998ecf8427e", 0));
    }
    let mut o = opts(dir.path());
    o.extra = true;
    let mut seen = 0;
    let summary = check(
        VecSource(entries.into_iter().map(Ok).collect()),
        &o,
        &ReadOptions::default(),
        &NoProgress,
        &mut |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    assert_eq!(seen, 3);
    assert!(summary.stopped);
    assert_eq!(summary.counts.total(), 3);

    // A raised cancel flag stops it too, before anything is hashed.
    let read = ReadOptions::default();
    read.cancel.cancel();
    let mut seen = 0;
    let summary = check(
        VecSource(listing(&files, "").into_iter().map(Ok).collect()),
        &o,
        &read,
        &NoProgress,
        &mut |_| {
            seen += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert!(summary.stopped);
    assert_eq!(seen, 0);
    assert_eq!(summary.bytes_hashed, 0);
}

#[test]
fn entries_without_etags_bad_etags_and_unreadable_records() {
    let f = fixture();
    let inside = f.root.join("inside.bin");
    let size = std::fs::metadata(&inside).unwrap().len();
    let mut same = Entry::new(b"inside.bin".to_vec());
    same.size = Some(size);
    let mut differs = Entry::new(b"inside.bin".to_vec());
    differs.size = Some(size + 1);
    let unsized_ = Entry::new(b"inside.bin".to_vec());
    let missing = Entry::new(b"gone".to_vec());
    let bad = entry(b"inside.bin", "not-an-etag", size);
    let opaque =
        entry(b"inside.bin", "\"9b2cf535f27731c974343645a3985328a3b3f4e7a5a0b3a9c6b1fbf0c2a5f6d1\"", size);
    let (out, summary) = run_with(
        vec![
            Ok(same),
            Ok(differs),
            Ok(unsized_),
            Ok(missing),
            Ok(bad),
            Ok(opaque),
            Err(BadEntry { at: At { file: "sums".into(), line: Some(3) }, what: "no ETag".into() }),
        ],
        &opts(&f.root),
    );
    assert!(matches!(out[0].outcome, Outcome::NoEtag { size_differs: false }));
    assert_eq!(out[0].outcome.kind(), Kind::Inconclusive);
    assert!(matches!(out[1].outcome, Outcome::NoEtag { size_differs: true }));
    assert_eq!(out[1].outcome.kind(), Kind::Mismatch);
    assert_eq!(out[2].outcome.kind(), Kind::Inconclusive);
    assert_eq!(out[3].outcome.kind(), Kind::Missing);
    assert!(matches!(out[4].outcome, Outcome::Error(CheckError::Etag(_))));
    assert!(out[4].outcome_message().contains("not-an-etag"));
    match &out[5].outcome {
        Outcome::Verified(r) => assert_eq!(r.verdict, Verdict::Inconclusive),
        o => panic!("{o:?}"),
    }
    assert!(matches!(out[6].outcome, Outcome::Error(CheckError::BadEntry(_))));
    assert_eq!(summary.bytes_hashed, 0, "nothing here needed hashing");
    assert_eq!(summary.counts.errors, 2);
    assert_eq!(summary.counts.inconclusive, 3);
}

#[test]
fn without_a_root_keys_are_paths_as_md5sum_reads_them() {
    let f = fixture();
    let inside = f.root.join("inside.bin");
    let abs = inside.to_str().unwrap().as_bytes().to_vec();
    let mut e = listed(&abs, &inside);
    e.size = None;
    let (out, _) = run(
        vec![
            e,
            entry(b"", "d41d8cd98f00b204e9800998ecf8427e", 0),
            entry(b"a\0b", "d41d8cd98f00b204e9800998ecf8427e", 0),
            entry(f.root.join("none").to_str().unwrap().as_bytes(), "d41d8cd98f00b204e9800998ecf8427e", 0),
            entry(f.root.join("sub").to_str().unwrap().as_bytes(), "d41d8cd98f00b204e9800998ecf8427e", 0),
        ],
        &CheckOptions::default(),
    );
    assert_eq!(out[0].outcome.kind(), Kind::Match);
    assert_eq!(out[0].path.as_deref(), Some(inside.as_path()));
    assert_eq!(key_error(&out[1]), &KeyError::Empty);
    assert_eq!(key_error(&out[2]), &KeyError::Nul);
    assert_eq!(out[3].outcome.kind(), Kind::Missing);
    assert!(matches!(open_error(&out[4]), OpenError::NotAFile(FileKind::Directory)));
}

#[test]
fn selects_tells_what_check_skips() {
    let mut o = CheckOptions::default();
    o.prefix = b"p/".to_vec();
    o.shard = Some(Shard::new(1, 2).unwrap());
    let mut marker = Entry::new(b"p/dir/".to_vec());
    marker.size = Some(0);
    assert!(!o.selects(&marker));
    assert!(!o.selects(&Entry::new(b"q/x".to_vec())));
    let keys: Vec<Entry> = (0..100).map(|i| Entry::new(format!("p/{i}").into_bytes())).collect();
    let n = keys.iter().filter(|e| o.selects(e)).count();
    assert!(n > 20 && n < 80, "{n}");
    assert!(keys.iter().filter(|e| o.selects(e)).all(|e| Shard::new(1, 2).unwrap().contains(&e.key)));
}

/// The ETag and layout `hash` would print for the file at `path` (the aws cli's layout).
fn hashed(path: &Path) -> (u64, Layout, etagsum::Etag) {
    let size = std::fs::metadata(path).unwrap().len();
    let layout = aws_layout(size);
    let h =
        engine::hash_path(path, std::slice::from_ref(&layout), &ReadOptions::default(), &NoProgress).unwrap();
    (size, layout, *h.etags[0].as_ref().unwrap())
}

#[cfg(unix)]
#[test]
fn checkfiles_written_by_the_checkfile_module_read_back_to_matches() {
    use etagsum::listing::checkfile::{plain_line, tagged_line, Checkfile};
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let mut files = tree(dir.path(), 25);
    for (i, name) in
        [&b"with space"[..], b"new\nline", b"back\\slash", b"caf\xe9", b"cr\r"].iter().enumerate()
    {
        let path = dir.path().join(std::ffi::OsStr::from_bytes(name));
        write(&path, &content(100 + i as u64, 1000 * i));
        files.push((String::new(), path));
    }
    for tagged in [false, true] {
        let mut text = Vec::new();
        for (_, path) in &files {
            let (size, layout, etag) = hashed(path);
            let name = path.as_os_str().as_bytes();
            text.extend(if tagged {
                tagged_line(name, size, &layout, &etag)
            } else {
                plain_line(name, &etag)
            });
        }
        let check_text = |text: &[u8]| {
            let mut out = Vec::new();
            let source = Checkfile::new(text, "sums");
            let summary =
                check(source, &CheckOptions::default(), &ReadOptions::default(), &NoProgress, &mut |c| {
                    out.push(c);
                    ControlFlow::Continue(())
                })
                .unwrap();
            (out, summary)
        };
        let (out, _) = check_text(&text);
        assert_eq!(out.len(), files.len());
        for (c, (_, path)) in out.iter().zip(&files) {
            assert_eq!(c.path.as_deref(), Some(path.as_path()));
            assert_eq!(c.outcome.kind(), Kind::Match, "{}: {:?}", path.display(), c.outcome);
        }
        // The multipart file: reproduced with its layout, recorded (tagged) or guessed (plain).
        let big = out.iter().find(|c| c.path.as_deref() == Some(files[3].1.as_path())).unwrap();
        match &big.outcome {
            Outcome::Verified(r) => {
                assert_eq!(r.reason, Reason::Reproduced);
                assert_eq!(r.layout, Some(Layout::uniform(8 << 20).unwrap()));
                assert!(r.warnings.is_empty(), "{:?}", r.warnings);
            }
            o => panic!("{o:?}"),
        }
        // One byte changed, one file deleted: exactly those two.
        let changed = &files[2].1;
        let saved = std::fs::read(changed).unwrap();
        let mut data = saved.clone();
        data[0] ^= 0x80;
        std::fs::write(changed, &data).unwrap();
        let deleted = &files[4].1;
        let kept = std::fs::read(deleted).unwrap();
        std::fs::remove_file(deleted).unwrap();
        let (out, _) = check_text(&text);
        for (c, (_, path)) in out.iter().zip(&files) {
            let want = if path == changed {
                Kind::Mismatch
            } else if path == deleted {
                Kind::Missing
            } else {
                Kind::Match
            };
            assert_eq!(c.outcome.kind(), want, "{}", path.display());
        }
        std::fs::write(changed, &saved).unwrap();
        std::fs::write(deleted, &kept).unwrap();
    }
}

#[test]
fn a_list_objects_v2_listing_of_a_tree_checks_against_it() {
    use etagsum::listing::s3api::ListObjectsV2;
    let dir = tempfile::tempdir().unwrap();
    let files = tree(dir.path(), 30);
    let contents: Vec<serde_json::Value> = files
        .iter()
        .map(|(key, path)| {
            let (size, _, etag) = hashed(path);
            serde_json::json!({"Key": format!("backup/{key}"), "ETag": format!("\"{etag}\""), "Size": size, "StorageClass": "STANDARD"})
        })
        .collect();
    let json = serde_json::to_vec_pretty(
        &serde_json::json!({"Contents": contents, "RequestCharged": null, "Prefix": ""}),
    )
    .unwrap();
    let mut o = opts(dir.path());
    o.prefix = b"backup/".to_vec();
    o.extra = true;
    let run_json = |o: &CheckOptions| {
        let mut out = Vec::new();
        check(
            ListObjectsV2::new(&json[..], "listing.json"),
            o,
            &ReadOptions::default(),
            &NoProgress,
            &mut |c| {
                out.push(c);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        out
    };
    let out = run_json(&o);
    assert_eq!(out.len(), 30);
    assert!(out.iter().all(|c| c.outcome.kind() == Kind::Match), "{:?}", kinds(&out));
    assert_eq!(out[0].at.as_ref().unwrap().file, PathBuf::from("listing.json"));
    write(&dir.path().join("d0/added"), b"added");
    std::fs::remove_file(&files[7].1).unwrap();
    let out = run_json(&o);
    let got: Vec<(String, Kind)> = kinds(&out).into_iter().filter(|k| k.1 != Kind::Match).collect();
    assert_eq!(
        got,
        [("backup/d0/f0007.bin".to_string(), Kind::Missing), ("backup/d0/added".to_string(), Kind::Extra)]
    );
}
