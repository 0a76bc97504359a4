//! `etagsum check` used carelessly or with hostile input: a prefix without its slash, a listing
//! or checkfile that is no listing at all (endless, binary, UTF-16, a key of megabytes). Each
//! must end with a clear message and the right status, never a false alarm, never all memory.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

mod common;
use common::{Dir, EMPTY_MD5, HELLO_MD5};

fn run(dir: &Dir, args: &[&str]) -> Output {
    Command::cargo_bin("etagsum")
        .unwrap()
        .current_dir(dir.path())
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A list-objects-v2 listing of `(key, size, md5)`.
fn listing(objects: &[(&str, u64, &str)]) -> String {
    let contents: Vec<serde_json::Value> = objects
        .iter()
        .map(|(k, s, e)| serde_json::json!({"Key": k, "Size": s, "ETag": format!("\"{e}\"")}))
        .collect();
    serde_json::json!({ "Contents": contents, "RequestCharged": null, "Prefix": "" }).to_string()
}

#[test]
fn a_prefix_without_its_slash_names_the_folder() {
    let d = Dir::new();
    d.file("root/x", b"hello");
    d.file(
        "list.json",
        listing(&[
            ("data/x", 5, HELLO_MD5),
            ("data", 5, HELLO_MD5),
            ("database", 5, HELLO_MD5),
            ("data/", 0, EMPTY_MD5),
        ])
        .as_bytes(),
    );
    // `--prefix data` is the folder `data/`: `data/x` is `root/x`, not the absolute `/x`, and
    // `database` is no `root/base`; nothing is extra.
    for prefix in ["data", "data/"] {
        let out =
            run(&d, &["check", "--listing", "list.json", "--root", "root", "--prefix", prefix, "--extra"]);
        assert_eq!(out.status.code(), Some(0), "{prefix}: {out:?}");
        assert_eq!(text(&out.stdout), "root/x: OK (single part)\n", "{prefix}");
        assert!(text(&out.stderr).contains("skipped 2 keys outside the prefix, 1 folder marker"), "{out:?}");
    }
}

#[test]
fn a_prefix_that_names_no_key_reports_no_extra_files() {
    let d = Dir::new();
    d.file("root/x", b"hello");
    d.file("list.json", listing(&[("data/x", 5, HELLO_MD5)]).as_bytes());
    for prefix in ["dat", "daat/", "data//"] {
        let out =
            run(&d, &["check", "--listing", "list.json", "--root", "root", "--prefix", prefix, "--extra"]);
        assert_eq!(out.status.code(), Some(2), "{prefix}: {out:?}");
        assert_eq!(text(&out.stdout), "", "{prefix}: every file would be a false EXTRA");
        assert!(text(&out.stderr).contains("no key of the listing starts with the prefix"), "{out:?}");
    }
    // An empty listing names no key: then every file is extra indeed.
    d.file("empty.json", listing(&[]).as_bytes());
    let out = run(&d, &["check", "--listing", "empty.json", "--root", "root", "--prefix", "data", "--extra"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(text(&out.stdout), "root/x: EXTRA\n");
}

#[test]
fn a_key_of_megabytes_stops_the_listing_without_taking_its_size_in_memory() {
    let d = Dir::new();
    d.file("root/a", b"hello");
    let huge = "k".repeat(4 << 20);
    d.file("key.json", listing(&[("a", 5, HELLO_MD5), (&huge, 5, HELLO_MD5)]).as_bytes());
    let out = run(&d, &["check", "--listing", "key.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "root/a: OK (single part)\n");
    let err = text(&out.stderr);
    assert!(err.contains("key.json:1: an object of \"Contents\" runs over 1048576 bytes of JSON"), "{err}");

    // A field name of megabytes, which the parser would keep whole too.
    let name = format!("{{\"{}\": 1, \"Contents\": []}}", "f".repeat(4 << 20));
    d.file("name.json", name.as_bytes());
    let out = run(&d, &["check", "--listing", "name.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("a field name runs over 1048576 bytes of JSON"), "{out:?}");

    // An ignored field of megabytes is read through, not kept: no error.
    let owner = format!(
        "{{\"Contents\": [{{\"Key\": \"a\", \"Size\": 5, \"ETag\": \"{HELLO_MD5}\"}}], \"Owner\": \"{}\"}}",
        "o".repeat(4 << 20)
    );
    d.file("owner.json", owner.as_bytes());
    let out = run(&d, &["check", "--listing", "owner.json", "--root", "root"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_utf16_checkfile_says_so() {
    let d = Dir::new();
    d.file("hello", b"hello");
    let line = format!("{HELLO_MD5}  hello\r\n");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(line.encode_utf16().flat_map(u16::to_le_bytes));
    d.file("sums.txt", &utf16);
    d.file("good.txt", line.as_bytes());
    let out = run(&d, &["check", "sums.txt", "good.txt"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(text(&out.stdout), "hello: OK (single part)\n");
    assert!(text(&out.stderr).contains("sums.txt:1: the file is UTF-16"), "{out:?}");
}

#[cfg(unix)]
#[test]
fn endless_and_binary_checkfiles_end_and_the_next_checkfile_is_checked() {
    let d = Dir::new();
    d.file("hello", b"hello");
    d.file("good.txt", format!("{HELLO_MD5}  hello\n").as_bytes());
    // Binary garbage of 2 MB with a line end every 100 bytes or so.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let garbage: Vec<u8> = (0..2_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(100) {
                b'\n'
            } else {
                x as u8
            }
        })
        .collect();
    d.file("binary.bin", &garbage);
    let out = run(&d, &["check", "/dev/zero", "binary.bin", "/dev/urandom", "good.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("/dev/zero:1: the line runs on for more than 1073741824 bytes"), "{err}");
    assert!(err.contains("lines are not checksum lines"), "{err}");
    assert!(err.contains("binary.bin:"), "{err}");
    assert!(err.contains("/dev/urandom:"), "{err}");
    assert!(text(&out.stdout).ends_with("\nhello: OK (single part)\n"), "{}", text(&out.stdout));
}

/// `--listing <(aws s3api list-objects-v2 ...)`: the listing is a pipe, which can be read once.
#[cfg(unix)]
#[test]
fn a_listing_from_a_pipe_is_read_once_and_whole() {
    let d = Dir::new();
    d.file("root/a", b"hello");
    // Longer than the 4 KiB that telling the formats apart would read ahead.
    let mut objects = vec![("a", 5, HELLO_MD5)];
    let names: Vec<String> = (0..200).map(|i| format!("gone/{i:04}")).collect();
    objects.extend(names.iter().map(|n| (n.as_str(), 5, HELLO_MD5)));
    d.file("list.json", listing(&objects).as_bytes());
    let script = "exec \"$0\" check --listing <(cat list.json) --root root --quiet";
    let out = std::process::Command::new("bash")
        .current_dir(d.path())
        .args(["-c", script, assert_cmd::cargo::cargo_bin("etagsum").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("etagsum: 1 OK, 200 MISSING"), "{}", text(&out.stderr));
}

#[test]
fn a_listing_that_is_no_json_says_what_was_expected() {
    let d = Dir::new();
    std::fs::create_dir(d.path().join("root")).unwrap();
    d.file("garbage.bin", b"\x00\x01PK\x03\x04 not json");
    let out = run(&d, &["check", "--listing", "garbage.bin", "--root", "root"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("garbage.bin:1: column 1: expected value: expected the JSON object that aws s3api list-objects-v2 prints"),
        "{}",
        text(&out.stderr)
    );
}

/// `etagsum check <(...)` on a terminal: the progress bar's count ahead must not read the pipe
/// too, taking lines that the check would then never see (lines of 64 bytes split evenly
/// between the two readers: half the files unchecked, and the run said all OK).
#[cfg(target_os = "linux")]
#[test]
fn a_checkfile_from_a_pipe_on_a_terminal_is_checked_whole() {
    let d = Dir::new();
    let mut sums = String::new();
    for i in 0..3000 {
        // `HEX  ` + 29 bytes of name + newline: 64 bytes a line.
        let name = format!("files/f{i:022}");
        let content = format!("{i}");
        d.file(&name, content.as_bytes());
        let md5 = etagsum::Md5Digest::of(content.as_bytes()).to_string();
        sums.push_str(&format!("{md5}  {name}\n"));
    }
    assert_eq!(sums.len(), 3000 * 64);
    d.file("sums.txt", sums.as_bytes());
    let bin = assert_cmd::cargo::cargo_bin("etagsum");
    // `script` gives the run a terminal, so that the bar is drawn.
    let inner = format!("{} check <(cat sums.txt) --quiet", bin.display());
    let out = std::process::Command::new("script")
        .current_dir(d.path())
        .args(["-qec", &format!("bash -c '{inner}'"), "/dev/null"])
        .output()
        .expect("`script` (util-linux) runs the check on a terminal");
    let all = text(&out.stdout);
    assert!(all.contains("etagsum: 3,000 OK;"), "{}", &all[all.len().saturating_sub(500)..]);
    assert_eq!(out.status.code(), Some(0), "{}", &all[all.len().saturating_sub(500)..]);
}
