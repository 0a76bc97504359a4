//! The verdict rules through the real binary: exit statuses, the words of reasons, and advice that
//! is safe to paste into a shell.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

fn etagsum(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("etagsum").unwrap();
    c.current_dir(dir);
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    etagsum(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn data(dir: &Path, name: &str, len: usize) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The ETag `hash` prints for `file` with these layout options.
fn hash(dir: &Path, file: &str, layout: &[&str]) -> String {
    let mut args = vec!["hash"];
    args.extend_from_slice(layout);
    args.push(file);
    let o = run(dir, &args);
    assert!(o.status.success(), "{o:?}");
    stdout(&o).split_whitespace().next().unwrap().to_string()
}

#[test]
fn hash_then_verify_is_never_a_mismatch() {
    let d = tempfile::tempdir().unwrap();
    for (len, part) in
        [(100, "7"), (64, "21"), (1, "1"), (20_000_000, "3300000"), (12, "2"), (8 << 20, "2MiB")]
    {
        data(d.path(), "f", len);
        let etag = hash(d.path(), "f", &["--part-size", part]);
        let o = run(d.path(), &["verify", "f", &etag]);
        let code = o.status.code().unwrap();
        assert!(code == 0 || code == 3, "{len} {part}: {o:?}");
        // With the part size given, it is OK.
        let o = run(d.path(), &["verify", "f", &etag, "--part-size", part]);
        assert_eq!(o.status.code(), Some(0), "{len} {part}: {o:?}");
    }
}

#[test]
fn callers_facts_that_contradict_the_etag_are_inconclusive_or_errors() {
    let d = tempfile::tempdir().unwrap();
    data(d.path(), "data.bin", 20_000_000);
    let etag = hash(d.path(), "data.bin", &[]);
    assert!(etag.ends_with("-3"));
    for extra in [
        vec!["--part-size", "16MiB"],
        vec!["--part-size", "5MiB", "--size", "20000000"],
        vec!["--single"],
        vec!["--part-sizes", "8MiB,8MiB,1"],
    ] {
        let mut args = vec!["verify", "data.bin", &etag];
        args.extend_from_slice(&extra);
        let o = run(d.path(), &args);
        assert_eq!(o.status.code(), Some(3), "{extra:?}: {o:?}");
        assert!(stdout(&o).starts_with("data.bin: INCONCLUSIVE ("), "{o:?}");
    }
    // Part sizes that do not add up to the size given: a usage error, naming both.
    let o =
        run(d.path(), &["verify", "data.bin", &etag, "--part-sizes", "8MiB,8MiB,1", "--size", "20000000"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "etagsum: data.bin: the part sizes given add up to 16777217 bytes, but the remote size given is 20000000 \
         bytes\n"
    );
}

#[test]
fn known_encryption_drops_the_caveat() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("hello"), "hello").unwrap();
    let wrong = "5d41402abc4b2a76b9719d911017c593";
    let o = run(d.path(), &["verify", "hello", wrong]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("--query '[ServerSideEncryption,SSECustomerAlgorithm]'"), "{o:?}");
    for sse in ["none", "s3"] {
        let o = run(d.path(), &["verify", "hello", wrong, "--sse", sse]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stdout(&o),
            "hello: MISMATCH (the MD5 of the file is 5d41402abc4b2a76b9719d911017c592, not \
             5d41402abc4b2a76b9719d911017c593)\n"
        );
    }
    let o = run(d.path(), &["verify", "hello", wrong, "--sse", "kms"]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn json_names_the_reason_and_the_needs() {
    let d = tempfile::tempdir().unwrap();
    data(d.path(), "f", 1000);
    let o = run(d.path(), &["verify", "--json", "f", "0123456789abcdef0123456789abcdef-3", "--sse", "none"]);
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(v["reason_code"], "not_reproduced");
    assert_eq!(v["needs"], serde_json::json!(["part_size", "part_sizes", "remote_size"]));
    assert!(v["advice"].as_str().unwrap().contains("--part-number 1"));
}

#[test]
fn guess_without_a_match_is_inconclusive_never_a_mismatch() {
    let d = tempfile::tempdir().unwrap();
    data(d.path(), "f", 1000);
    for etag in ["0123456789abcdef0123456789abcdef-3", "0123456789abcdef0123456789abcdef-3000"] {
        let o = run(d.path(), &["guess", "f", etag]);
        assert_eq!(o.status.code(), Some(3), "{o:?}");
    }
    let o = run(d.path(), &["guess", "f", &"ab".repeat(32)]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    // A truncated MD5 is refused alike by verify and guess.
    let truncated = "0123456789abcdef0123456789abcde";
    let v = run(d.path(), &["verify", "f", truncated]);
    let g = run(d.path(), &["guess", "f", truncated]);
    assert_eq!(v.status.code(), Some(2));
    assert_eq!(g.status.code(), Some(2));
    assert_eq!(v.stderr, g.stderr);
    assert!(String::from_utf8_lossy(&v.stderr).contains("31 hex digits, not 32"), "{v:?}");
}

/// Advice is pasted into shells: a hostile file name must come out of the shell as one argument,
/// and run nothing.
#[cfg(unix)]
#[test]
fn advice_quotes_names_for_a_shell() {
    let d = tempfile::tempdir().unwrap();
    let names = ["x'; touch PWNED; '", "$(touch PWNED)", "a b\nc", "-n", "`touch PWNED`"];
    for name in names {
        std::fs::write(d.path().join(name), "hello world!").unwrap();
        let o = run(d.path(), &["verify", "--json", "--", name, "b6c1a422427d71fb1665045ae4761619-3"]);
        assert_eq!(o.status.code(), Some(3), "{o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let advice = v["advice"].as_str().unwrap().to_string();
        let commands: Vec<&str> = advice.split("etagsum verify ").skip(1).collect();
        assert_eq!(commands.len(), 5, "{advice}");
        for c in commands {
            // The name and the ETag, as the shell reads them.
            let args = c.split(" --").next().unwrap();
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s\\0' {args}"))
                .current_dir(d.path())
                .output()
                .unwrap();
            assert!(o.status.success(), "{o:?}");
            let words: Vec<&[u8]> = o.stdout.split(|&b| b == 0).filter(|w| !w.is_empty()).collect();
            let want_name = if name.starts_with('-') { format!("./{name}") } else { name.to_string() };
            assert_eq!(words, vec![want_name.as_bytes(), b"b6c1a422427d71fb1665045ae4761619-3"], "{args}");
        }
        assert!(!d.path().join("PWNED").exists(), "{name}: the advice ran a command");
    }
}

/// A name that is not UTF-8 comes back byte for byte from the advice's `printf`.
#[cfg(target_os = "linux")]
#[test]
fn advice_rebuilds_names_that_are_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"caf\xe9 'x'");
    std::fs::write(d.path().join(name), "hello world!").unwrap();
    let o = etagsum(d.path())
        .arg("verify")
        .arg("--json")
        .arg(name)
        .arg("b6c1a422427d71fb1665045ae4761619-3")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let advice = v["advice"].as_str().unwrap();
    let c = advice.split("etagsum verify ").nth(1).unwrap();
    let arg = c.split(" b6c1").next().unwrap();
    let o = std::process::Command::new("sh").arg("-c").arg(format!("printf '%s' {arg}")).output().unwrap();
    assert_eq!(o.stdout, name.as_bytes(), "{arg}");
}
