//! `etagsum check`: exact lines and exit statuses for every verdict, checkfiles made by `hash`
//! read back, hostile checkfile lines, listings, shards, JSON and a broken pipe. The real binary
//! runs in a temporary directory.

use std::path::PathBuf;
use std::process::Output;

use serde_json::{json, Value};

mod common;
use common::{etagsum, Dir, EMPTY_MD5, HELLO_MD5};

fn run(dir: &Dir, args: &[&str]) -> Output {
    etagsum(dir).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The summary line's counts: what comes before `; ` and the bytes.
fn summary(out: &Output) -> String {
    let err = text(&out.stderr);
    let last = err.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("etagsum: "), "{err}");
    last
}

fn counts(out: &Output) -> String {
    summary(out).split(';').next().unwrap().to_string()
}

fn hash_to(dir: &Dir, args: &[&str], file: &str) {
    let out = etagsum(dir).arg("hash").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::write(dir.path().join(file), &out.stdout).unwrap();
}

#[test]
fn hash_output_checks_ok_whatever_the_names() {
    let d = Dir::new();
    let mut names: Vec<PathBuf> = [
        "plain",
        "with space",
        " leading space",
        "trailing space ",
        "new\nline",
        "back\\slash",
        "tab\there",
        "*star",
        "cr\rx",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        names.push(PathBuf::from(std::ffi::OsStr::from_bytes(b"caf\xe9")));
    }
    for (i, n) in names.iter().enumerate() {
        d.file(n, format!("content {i}").as_bytes());
    }
    d.file("sub/big", &vec![7u8; (8 << 20) + 3]);
    names.push("sub/big".into());
    let args: Vec<&std::ffi::OsStr> = names.iter().map(|n| n.as_os_str()).collect();
    for tag in [false, true] {
        let mut c = etagsum(&d);
        c.arg("hash");
        if tag {
            c.arg("--tag");
        }
        let out = c.args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        std::fs::write(d.path().join("sums"), &out.stdout).unwrap();
        let out = run(&d, &["check", "sums"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let mut want = String::new();
        for n in &names[..names.len() - 1] {
            let raw = text(n.as_os_str().as_encoded_bytes());
            if raw.contains(['\\', '\n', '\r']) {
                want.push_str(&format!(
                    "\\{}: OK (single part)\n",
                    raw.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r")
                ));
            } else {
                want.push_str(&format!("{raw}: OK (single part)\n"));
            }
        }
        want.push_str("sub/big: OK (part size 8 MiB (2 parts))\n");
        assert_eq!(text(&out.stdout), want, "tag: {tag}");
        assert_eq!(counts(&out), format!("etagsum: {} OK", names.len()));
        assert!(summary(&out).contains("8.4 MB read in "), "{}", summary(&out));
    }
}

#[test]
fn every_verdict_and_its_exit_status() {
    let d = Dir::new();
    d.file("hello", b"hello");
    d.file("grown", b"hello");
    d.file("flipped", b"hello");
    std::fs::create_dir(d.path().join("dir")).unwrap();
    hash_to(&d, &["--tag", "hello", "grown", "flipped"], "tagged");
    d.file("grown", b"hello!");
    d.file("flipped", b"jello");
    let cases: Vec<(&str, String, i32, String)> = vec![
        ("ok", format!("{HELLO_MD5}  hello\n"), 0, "hello: OK (single part)\n".into()),
        (
            "size",
            text(&std::fs::read(d.path().join("tagged")).unwrap()).lines().nth(1).unwrap().to_string() + "\n",
            1,
            "grown: MISMATCH (the remote object has 5 bytes, the local file 6)\n".into(),
        ),
        ("digest", format!("{HELLO_MD5}  flipped\n"), 1, "flipped: MISMATCH (the MD5 of the file is ".into()),
        (
            "inconclusive",
            format!("{HELLO_MD5}-7  hello\n"),
            3,
            "hello: INCONCLUSIVE (no part size splits 5 bytes into 7 parts".into(),
        ),
        ("missing", format!("{HELLO_MD5}  gone\n"), 1, "gone: MISSING\n".into()),
        (
            "directory",
            format!("{HELLO_MD5}  dir\n"),
            2,
            "dir: FAILED (a directory, not a regular file)\n".into(),
        ),
        ("bad line", "garbage\n".into(), 2, "sums:1: FAILED (no separator after `garbage`".into()),
        ("bad etag", "0123  hello\n".into(), 2, "hello: FAILED (invalid ETag '0123': ".into()),
    ];
    for (what, line, code, want) in &cases {
        d.file("sums", line.as_bytes());
        let out = run(&d, &["check", "sums"]);
        assert_eq!(out.status.code(), Some(*code), "{what}: {out:?}");
        assert!(text(&out.stdout).starts_with(want.as_str()), "{what}: {}", text(&out.stdout));
        assert_eq!(text(&out.stdout).lines().count(), 1, "{what}");
    }
    // The worst verdict decides: error over mismatch over inconclusive over OK.
    let all: Vec<&str> = cases.iter().map(|c| c.1.as_str()).collect();
    for (lines, code, tally) in [
        (vec![0, 3], 3, "etagsum: 1 OK, 1 INCONCLUSIVE"),
        (vec![0, 3, 4], 1, "etagsum: 1 OK, 1 INCONCLUSIVE, 1 MISSING"),
        (vec![3, 1, 2], 1, "etagsum: 2 MISMATCH, 1 INCONCLUSIVE"),
        (vec![0, 1, 3, 4, 6], 2, "etagsum: 1 OK, 1 MISMATCH, 1 INCONCLUSIVE, 1 MISSING, 1 FAILED"),
    ] {
        let body: String = lines.iter().map(|&i| all[i]).collect();
        d.file("sums", body.as_bytes());
        let out = run(&d, &["check", "sums"]);
        assert_eq!(out.status.code(), Some(code), "{lines:?}: {out:?}");
        assert_eq!(counts(&out), tally);
        assert_eq!(text(&out.stdout).lines().count(), lines.len());
    }
}

#[test]
fn quiet_hides_ok_lines_only() {
    let d = Dir::new();
    d.file("hello", b"hello");
    d.file("sums", format!("{HELLO_MD5}  hello\n{HELLO_MD5}  gone\n{HELLO_MD5}  hello\n").as_bytes());
    let out = run(&d, &["check", "--quiet", "sums"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "gone: MISSING\n");
    assert_eq!(counts(&out), "etagsum: 2 OK, 1 MISSING");
}

#[test]
fn hostile_checkfile_lines_fail_alone() {
    let d = Dir::new();
    d.file("hello", b"hello");
    let mut body = Vec::new();
    body.extend_from_slice(b"\n   \n# a comment\n");
    body.extend_from_slice(b"garbage\n");
    body.extend_from_slice(format!("{HELLO_MD5}  hel\0lo\n").as_bytes());
    body.extend_from_slice(b"\0\0\0\0\n");
    body.extend_from_slice(format!("{HELLO_MD5}  hello\n").as_bytes());
    body.extend_from_slice(format!("{HELLO_MD5}  \n").as_bytes());
    body.extend_from_slice(format!("{HELLO_MD5}  missing file\n").as_bytes());
    body.extend_from_slice(&[0xff, 0xfe, b' ', b' ', b'x', b'\n']);
    body.extend_from_slice(format!("{HELLO_MD5}  hello").as_bytes());
    d.file("sums", &body);
    let out = run(&d, &["check", "sums"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(lines[0].starts_with("sums:4: FAILED ("), "{stdout}");
    assert!(lines[1].starts_with("sums:5: FAILED ("), "{stdout}");
    assert!(lines[2].starts_with("sums:6: FAILED ("), "{stdout}");
    assert_eq!(lines[3], "hello: OK (single part)");
    assert!(lines[4].starts_with("sums:8: FAILED ("), "{stdout}");
    assert_eq!(lines[5], "missing file: MISSING");
    assert!(
        lines[6].starts_with("x: FAILED (invalid ETag") || lines[6].starts_with("sums:10: FAILED ("),
        "{stdout}"
    );
    assert_eq!(lines[7], "hello: OK (single part)");
    assert!(!stdout.contains('\0'), "a NUL byte reached the output");
    assert_eq!(counts(&out), "etagsum: 2 OK, 1 MISSING, 5 FAILED");
    assert!(summary(&out).ends_with("; skipped 3 blank or comment lines"), "{}", summary(&out));
}

#[test]
fn checkfiles_that_cannot_be_read() {
    let d = Dir::new();
    d.file("hello", b"hello");
    d.file("good", format!("{HELLO_MD5}  hello\n").as_bytes());
    d.file("empty", b"");
    std::fs::create_dir(d.path().join("dir")).unwrap();
    let out = run(&d, &["check", "nonexistent", "good", "empty", "dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "hello: OK (single part)\n");
    let err = text(&out.stderr);
    assert!(err.contains("etagsum: nonexistent: No such file or directory"), "{err}");
    assert!(err.contains("etagsum: empty: no checksum lines found"), "{err}");
    assert!(err.contains("etagsum: dir: is a directory, not a checkfile"), "{err}");
    // Standard input.
    let out = etagsum(&d).args(["check", "-"]).write_stdin(format!("{HELLO_MD5}  hello\n")).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "hello: OK (single part)\n");
}

#[test]
fn json_lines_have_every_field() {
    let d = Dir::new();
    d.file("hello", b"hello");
    #[cfg(unix)]
    d.file(
        PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"caf\xe9")),
        b"hello",
    );
    let mut raw = format!("{HELLO_MD5}  hello\n{HELLO_MD5}  gone\nbad line\n").into_bytes();
    #[cfg(unix)]
    raw.extend_from_slice(&[HELLO_MD5.as_bytes(), b"  caf\xe9\n"].concat());
    d.file("sums", &raw);
    let out = run(&d, &["check", "--json", "sums"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let keys = [
        "key",
        "path",
        "size",
        "local_size",
        "remote_etag",
        "computed_etag",
        "verdict",
        "layout",
        "reason",
        "reason_code",
        "needs",
        "advice",
        "error",
        "at",
    ];
    for l in &lines {
        for k in keys {
            assert!(l.get(k).is_some(), "{k} missing from {l}");
        }
    }
    let ok = &lines[0];
    assert_eq!(ok["key"], "hello");
    assert_eq!(ok["path"], "hello");
    assert_eq!(ok["size"], Value::Null);
    assert_eq!(ok["local_size"], 5);
    assert_eq!(ok["remote_etag"], HELLO_MD5);
    assert_eq!(ok["computed_etag"], HELLO_MD5);
    assert_eq!(ok["verdict"], "match");
    assert_eq!(ok["layout"], json!({"kind": "single"}));
    assert_eq!(ok["reason_code"], "md5_equal");
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(ok["at"], "sums:1");
    assert_eq!(lines[1]["verdict"], "missing");
    assert_eq!(lines[1]["local_size"], Value::Null);
    assert_eq!(lines[2]["verdict"], "error");
    assert_eq!(lines[2]["reason_code"], "bad_entry");
    assert!(lines[2]["error"].as_str().unwrap().contains("`bad`"), "{}", lines[2]);
    assert_eq!(lines[2]["at"], "sums:3");
    #[cfg(unix)]
    {
        assert_eq!(lines[3]["verdict"], "match");
        assert_eq!(lines[3]["path_bytes"], "Y2Fm6Q==");
        assert_eq!(lines[3]["key_bytes"], "Y2Fm6Q==");
        assert_eq!(lines[3]["key"], "caf\u{fffd}");
    }
    assert!(!text(&out.stderr).contains('{'), "JSON on standard error");
}

#[cfg(unix)]
#[test]
fn broken_stdout_pipe_dies_of_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let d = Dir::new();
    d.file("hello", b"hello");
    let body: String = (0..2000).map(|_| format!("{HELLO_MD5}  hello\n")).collect();
    d.file("sums", body.as_bytes());
    for args in [&["check", "sums"][..], &["check", "--json", "sums"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("etagsum"))
            .current_dir(d.path())
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(13), "{args:?}: {out:?}");
        assert_eq!(text(&out.stderr), "", "quietly");
    }
}

#[test]
fn usage_errors() {
    let d = Dir::new();
    for (args, want) in [
        (&["check"][..], "required"),
        (&["check", "--listing", "x"], "--root"),
        (&["check", "--root", "x", "sums"], "--root"),
        (&["check", "--shard", "0/3", "sums"], "expected K/N"),
        (&["check", "--shard", "3", "sums"], "expected K/N"),
        (&["check", "--extra", "sums"], "--root"),
        (&["check", "--listing", "l", "--root", "r", "sums"], "cannot be used"),
    ] {
        let out = run(&d, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
    }
    let out = run(&d, &["check", "--help"]);
    let help = text(&out.stdout);
    for word in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "1-based"] {
        assert!(help.contains(word), "--help lacks {word}");
    }
}

/// A list-objects-v2 JSON listing of `(key, size, etag)`.
fn listing(objects: &[(&str, u64, &str)]) -> String {
    let contents: Vec<Value> = objects
        .iter()
        .map(|(k, s, e)| {
            json!({"Key": k, "LastModified": "2024-01-01T00:00:00.000Z", "ETag": format!("\"{e}\""), "Size": s, "StorageClass": "STANDARD"})
        })
        .collect();
    serde_json::to_string_pretty(&json!({"Contents": contents, "RequestCharged": null, "Prefix": ""}))
        .unwrap()
}

#[test]
fn a_listing_checked_against_a_tree() {
    let d = Dir::new();
    d.file("root/a/hello", b"hello");
    d.file("root/a/grown", b"hello!");
    d.file("root/extra", b"x");
    d.file("outside", b"hello");
    std::fs::create_dir_all(d.path().join("root/a/folder")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../../outside", d.path().join("root/a/escape")).unwrap();
    let objects = [
        ("data/a/", 0, EMPTY_MD5),
        ("data/a/hello", 5, HELLO_MD5),
        ("data/a/grown", 5, HELLO_MD5),
        ("data/a/gone", 5, HELLO_MD5),
        ("data/../outside", 5, HELLO_MD5),
        ("other/x", 5, HELLO_MD5),
    ];
    d.file("list.json", listing(&objects).as_bytes());
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root", "--prefix", "data/", "--extra"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        "root/a/hello: OK (single part)\n\
         root/a/grown: MISMATCH (the remote object has 5 bytes, the local file 6)\n\
         root/a/gone: MISSING\n\
         data/../outside: FAILED (the key has a '..' segment, which would leave the root)\n\
         root/a/escape: EXTRA\n\
         root/extra: EXTRA\n"
    );
    assert_eq!(counts(&out), "etagsum: 1 OK, 1 MISMATCH, 1 MISSING, 2 EXTRA, 1 FAILED");
    assert!(
        summary(&out).ends_with("; skipped 1 key outside the prefix, 1 folder marker"),
        "{}",
        summary(&out)
    );

    // The symlink that leads out, named by a key: refused, though its target would match.
    #[cfg(unix)]
    {
        d.file("list.json", listing(&[("a/escape", 5, HELLO_MD5), ("a/hello", 5, HELLO_MD5)]).as_bytes());
        let out = run(&d, &["check", "--listing", "list.json", "--root", "root"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_eq!(
            text(&out.stdout),
            "root/a/escape: FAILED (a symlink on its path leads outside the root, so it is not followed)\n\
             root/a/hello: OK (single part)\n"
        );
    }

    // Without the hostile key and the extra files: a mismatch and a missing file are status 1.
    d.file("list.json", listing(&objects[1..4]).as_bytes());
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root", "--prefix", "data/", "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        "root/a/grown: MISMATCH (the remote object has 5 bytes, the local file 6)\nroot/a/gone: MISSING\n"
    );

    // A prefix that no key has: nothing checked is an error, not a success.
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root", "--prefix", "nope/"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("no key of the listing starts with the prefix nope/"), "{out:?}");
}

#[cfg(unix)]
#[test]
fn a_fifo_in_the_tree_does_not_hang_the_run() {
    let d = Dir::new();
    d.file("root/hello", b"hello");
    let status = std::process::Command::new("mkfifo").arg(d.path().join("root/fifo")).status().unwrap();
    assert!(status.success());
    d.file("list.json", listing(&[("fifo", 5, HELLO_MD5), ("hello", 5, HELLO_MD5)]).as_bytes());
    let out = etagsum(&d)
        .args(["check", "--listing", "list.json", "--root", "root"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        "root/fifo: FAILED (a FIFO (named pipe), not a regular file)\nroot/hello: OK (single part)\n"
    );
}

#[test]
fn a_bad_listing_stops_with_its_name() {
    let d = Dir::new();
    d.file("root/hello", b"hello");
    let full = listing(&[("hello", 5, HELLO_MD5), ("hello", 5, HELLO_MD5)]);
    d.file("list.json", &full.as_bytes()[..full.len() - 40]);
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = text(&out.stderr);
    assert!(err.starts_with("etagsum: list.json:"), "{err}");
    let out = run(&d, &["check", "--listing", "nonexistent.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).starts_with("etagsum: nonexistent.json: "), "{out:?}");
    let out = run(&d, &["check", "--listing", "list.json", "--root", "no-root"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).starts_with("etagsum: no-root: cannot open the root directory"), "{out:?}");
}

#[test]
fn shard_outputs_concatenate_into_the_whole_run() {
    let d = Dir::new();
    let mut objects = Vec::new();
    let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        if i % 9 != 0 {
            d.file(format!("root/{n}"), b"hello");
        }
        objects.push((n.as_str(), 5u64, HELLO_MD5));
    }
    d.file("root/zz-extra", b"e");
    d.file("list.json", listing(&objects).as_bytes());
    let base = ["check", "--listing", "list.json", "--root", "root", "--extra", "--json"];
    let whole = run(&d, &base);
    assert_eq!(whole.status.code(), Some(1));
    let sorted = |s: String| {
        let mut v: Vec<String> = s.lines().map(String::from).collect();
        v.sort();
        v
    };
    let want = sorted(text(&whole.stdout));
    assert_eq!(want.len(), 41);
    for n in [2, 3, 7] {
        let mut all = String::new();
        for k in 1..=n {
            let shard = format!("{k}/{n}");
            let out = run(&d, &[&base[..], &["--shard", &shard]].concat());
            assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
            all.push_str(&text(&out.stdout));
        }
        assert_eq!(sorted(all), want, "{n} shards");
    }
}

#[test]
fn one_page_of_a_longer_listing() {
    let d = Dir::new();
    d.file("root/hello", b"hello");
    d.file("root/other", b"not listed");
    let mut page: Value = serde_json::from_str(&listing(&[("hello", 5, HELLO_MD5)])).unwrap();
    page["IsTruncated"] = json!(true);
    page["NextContinuationToken"] = json!("token");
    d.file("page.json", page.to_string().as_bytes());
    let out = run(&d, &["check", "--listing", "page.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "root/hello: OK (single part)\n");
    assert!(text(&out.stderr).contains("page.json: the listing is one page of a longer one"), "{out:?}");
    // Files the page does not name may be on the next page: no EXTRA, and the run says it could not look.
    let out = run(&d, &["check", "--listing", "page.json", "--root", "root", "--extra"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(text(&out.stdout), "root/hello: OK (single part)\n");
    assert!(text(&out.stderr).contains("--extra needs the whole listing"), "{out:?}");
}

#[test]
fn url_encoded_keys_when_told() {
    let d = Dir::new();
    d.file("root/a b!", b"hello");
    d.file("list.json", listing(&[("a+b%21", 5, HELLO_MD5)]).as_bytes());
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root", "--encoding-type", "url"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "root/a b!: OK (single part)\n");
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(text(&out.stdout), "root/a+b%21: MISSING\n");
}

#[test]
fn advice_names_the_listed_key_and_quiet_json_keeps_what_is_not_ok() {
    let d = Dir::new();
    d.file("root/odd name", b"hello");
    d.file("root/fine", b"hello");
    let seven = format!("{HELLO_MD5}-7");
    d.file("list.json", listing(&[("p/odd name", 5, &seven), ("p/fine", 5, HELLO_MD5)]).as_bytes());
    let out = run(&d, &["check", "--listing", "list.json", "--root", "root", "--prefix", "p/"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("root/odd name: INCONCLUSIVE (no part size splits 5 bytes into 7 parts"),
        "{stdout}"
    );
    assert!(stdout.contains("head-object --bucket BUCKET --key 'p/odd name' --part-number 1"), "{stdout}");
    assert!(!stdout.contains("--key KEY"), "{stdout}");
    let out = run(
        &d,
        &["check", "--listing", "list.json", "--root", "root", "--prefix", "p/", "--json", "--quiet"],
    );
    let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["verdict"], "inconclusive");
    assert_eq!(lines[0]["key"], "p/odd name");
    assert_eq!(lines[0]["path"], "root/odd name");
    assert!(lines[0]["advice"].as_str().unwrap().contains("--key 'p/odd name'"), "{}", lines[0]);
    // A checkfile names local files, not keys: the advice keeps the placeholder.
    d.file("sums", format!("{seven}  root/fine\n").as_bytes());
    let out = run(&d, &["check", "sums"]);
    assert!(text(&out.stdout).contains("--key KEY"), "{out:?}");
}

/// An S3 Inventory report as AWS writes it (gzip CSV without a header, URL-encoded keys with `+`
/// for a space), laid out as `aws s3 sync` puts it: `inv/TS/manifest.json`, `inv/data/x.csv.gz`.
/// The manifest's MD5 of the data file is computed by `etagsum hash --single`.
#[cfg(unix)]
fn inventory(d: &Dir, rows: &[[&str; 8]]) -> PathBuf {
    let csv: String = rows
        .iter()
        .map(|r| r.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let data = d.file("inv/data/x.csv", csv.as_bytes());
    let status = std::process::Command::new("gzip").arg("-n").arg(&data).status().unwrap();
    assert!(status.success());
    let out = etagsum(d).args(["hash", "--single", "inv/data/x.csv.gz"]).output().unwrap();
    let md5 = text(&out.stdout).split_whitespace().next().unwrap().to_string();
    let size = std::fs::metadata(d.path().join("inv/data/x.csv.gz")).unwrap().len();
    let manifest = json!({
        "sourceBucket": "bkt",
        "destinationBucket": "arn:aws:s3:::dest",
        "version": "2016-11-30",
        "creationTimestamp": "1514944800000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ETag, EncryptionStatus",
        "files": [{"key": "inv/bkt/cfg/data/x.csv.gz", "size": size, "MD5checksum": md5}],
    });
    d.file("inv/2024-01-01T00-00Z/manifest.json", manifest.to_string().as_bytes())
}

#[cfg(unix)]
#[test]
fn an_s3_inventory_report_checked_against_a_tree() {
    let d = Dir::new();
    d.file("root/a b.txt", b"hello");
    d.file("root/enc", b"hello");
    d.file("root/changed", b"hello!");
    let sha = "9b2cf535f27731c974343645a3985328";
    inventory(
        &d,
        &[
            ["bkt", "a+b.txt", "v1", "true", "false", "5", HELLO_MD5, "NOT-SSE"],
            ["bkt", "enc", "v1", "true", "false", "5", sha, "SSE-KMS"],
            ["bkt", "changed", "v1", "true", "false", "5", HELLO_MD5, "SSE-S3"],
            ["bkt", "gone", "v2", "true", "true", "", "", ""],
            ["bkt", "a+b.txt", "v0", "false", "false", "5", HELLO_MD5, "NOT-SSE"],
        ],
    );
    let out = run(&d, &["check", "--listing", "inv/2024-01-01T00-00Z/manifest.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], "root/a b.txt: OK (single part)");
    assert!(lines[1].starts_with("root/enc: INCONCLUSIVE (the object is encrypted with SSE-KMS"), "{stdout}");
    assert_eq!(lines[2], "root/changed: MISMATCH (the remote object has 5 bytes, the local file 6)");
    assert_eq!(counts(&out), "etagsum: 1 OK, 1 MISMATCH, 1 INCONCLUSIVE");
    assert!(summary(&out).ends_with("; skipped 1 delete marker, 1 old version"), "{}", summary(&out));
    // Only `a b.txt` was read: the encrypted object and the one whose size differs were not.
    assert!(summary(&out).contains("; 5 bytes read in "), "{}", summary(&out));

    // A data file that is not the one the manifest names: the run stops, naming it.
    std::fs::write(d.path().join("inv/data/x.csv.gz"), b"damaged").unwrap();
    let out = run(&d, &["check", "--listing", "inv/2024-01-01T00-00Z/manifest.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("inv/data/x.csv.gz"), "{out:?}");
}

#[test]
fn a_listing_from_standard_input() {
    let d = Dir::new();
    d.file("root/hello", b"hello");
    let out = etagsum(&d)
        .args(["check", "--listing", "-", "--root", "root"])
        .write_stdin(listing(&[("hello", 5, HELLO_MD5), ("gone", 5, HELLO_MD5)]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(text(&out.stdout), "root/hello: OK (single part)\nroot/gone: MISSING\n");
    let out = etagsum(&d)
        .args(["check", "--listing", "-", "--root", "root"])
        .write_stdin("{\"Contents\": [")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).starts_with("etagsum: -:"), "{out:?}");
}
