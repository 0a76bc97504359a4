//! s3:// arguments from the command line, where no server is needed: the refusals (exit 2, a
//! message that says what was expected), a store that cannot be reached, and the build without
//! the `s3` feature. The answers of a real server are tested by the S3 harness (tests/s3/live.py).

mod common;

use common::{etagsum, Dir};
use predicates::prelude::*;

/// A secret that must never appear in any output.
const SECRET: &str = "etagsumTestSecretKeyThatMustNotLeak0123456";

/// The binary with credentials and a region in its environment, and nothing that could make the
/// SDK look beyond 127.0.0.1 (no instance metadata, no config files).
fn isolated(d: &Dir) -> assert_cmd::Command {
    let mut c = etagsum(d);
    c.env("AWS_ACCESS_KEY_ID", "AKIAETAGSUMTEST")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", d.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", d.path().join("no-credentials"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    c
}

/// A port on 127.0.0.1 that nothing listens on.
#[cfg(feature = "s3")]
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[cfg(feature = "s3")]
#[test]
fn malformed_s3_arguments_are_refused_saying_what_was_expected() {
    let d = Dir::new();
    d.file("f", b"hello");
    d.file("tree/a", b"a");
    let cases: &[(&[&str], &str)] = &[
        (&["verify", "f", "s3://"], "no bucket; expected s3://BUCKET/KEY"),
        (&["verify", "f", "s3:///key"], "no bucket; expected s3://BUCKET/KEY"),
        (&["verify", "f", "s3://bucket"], "no key; expected s3://BUCKET/KEY"),
        (&["verify", "f", "s3://bucket/"], "no key; expected s3://BUCKET/KEY"),
        (&["verify", "f", "5d41402abc4b2a76b9719d911017c592", "--version-id", "v1"], "give s3://BUCKET/KEY"),
        (&["verify", "f", "s3://b/k", "--size", "5"], "--size gives a fact that is read from S3"),
        (&["verify", "f", "s3://b/k", "--sse", "kms"], "--sse gives a fact that is read from S3"),
        (&["verify", "f", "s3://b/k", "--part-size", "8MiB"], "--part-size gives a fact"),
        (&["verify", "f", "s3://b/k", "--checksum", "crc32=AAAAAA=="], "--checksum gives a fact"),
        (&["verify", "f", "s3://b/k", "--timeout", "0"], "a number of seconds greater than 0"),
        (&["verify", "f", "s3://b/k", "--timeout", "1e400"], "a number of seconds greater than 0"),
        (&["verify", "f", "s3://b/k", "--max-attempts", "0"], "0 is not in 1..=100"),
        (&["check", "s3://b/p"], "give --root DIR"),
        (&["check", "--root", "tree", "s3://b/p", "other.md5"], "is checked alone"),
        (&["check", "--root", "tree", "sums.md5"], "give --listing FILE, or s3://BUCKET/PREFIX"),
        (&["check", "--root", "tree", "s3://"], "no bucket; expected s3://BUCKET/PREFIX"),
        (&["check", "--root", "tree", "s3://b/p", "--jobs", "0"], "0 is not in 1..=256"),
        (&["check", "--root", "tree", "s3://b/p", "--jobs", "99999999999999999999"], "--jobs"),
    ];
    for (args, want) in cases {
        isolated(&d)
            .args(*args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(*want).and(predicate::str::contains("panicked").not()));
    }
}

#[cfg(feature = "s3")]
#[test]
fn an_unreachable_store_is_an_error_that_names_the_request_and_the_object_never_the_secret() {
    let d = Dir::new();
    d.file("f", b"hello");
    d.file("tree/a", b"a");
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let runs: [&[&str]; 3] = [
        &["verify", "f", "s3://bucket/some/key"],
        &["verify", "f", "s3://bucket/some/key", "--json", "--version-id", "v1"],
        &["check", "--root", "tree", "s3://bucket/some"],
    ];
    for args in runs {
        let out = isolated(&d)
            .args(args)
            .args(["--endpoint-url", &endpoint, "--path-style", "--max-attempts", "1", "--timeout", "20"])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.is_empty() || args[0] == "check", "{stdout}");
        let request = if args[0] == "verify" {
            "HeadObject s3://bucket/some/key"
        } else {
            "ListObjectsV2 s3://bucket/some/"
        };
        assert!(stderr.contains(request), "{stderr}");
        assert!(!stderr.contains(SECRET) && !stdout.contains(SECRET), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[cfg(feature = "s3")]
#[test]
fn unsigned_requests_need_no_credentials() {
    // No credentials anywhere: signed requests would fail before sending; --no-sign-request
    // sends them, and the error is then the store's (here: nobody listening).
    let d = Dir::new();
    d.file("f", b"hello");
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let out = isolated(&d)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["verify", "f", "s3://public/key", "--no-sign-request", "--endpoint-url", &endpoint])
        .args(["--path-style", "--max-attempts", "1"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HeadObject s3://public/key"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("credential"), "{stderr}");
}

#[cfg(not(feature = "s3"))]
#[test]
fn without_the_s3_feature_s3_arguments_say_so() {
    let d = Dir::new();
    d.file("f", b"hello");
    d.file("tree/a", b"a");
    let runs: [&[&str]; 3] = [
        &["verify", "f", "s3://bucket/key"],
        &["check", "--root", "tree", "s3://bucket/prefix"],
        &["check", "--root", "tree", "--listing", "s3://bucket/inv/manifest.json"],
    ];
    for args in runs {
        isolated(&d).args(args).assert().code(2).stderr(predicate::str::contains("built without S3 support"));
    }
    // Everything offline still works.
    isolated(&d)
        .args(["verify", "f", "5d41402abc4b2a76b9719d911017c592"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("f: OK (single part"));
}
