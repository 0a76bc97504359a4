//! `hash --checksum` and `verify --checksum` from the command line: the values as S3 shows them,
//! the refusals, the exit statuses, the JSON fields, and hostile values.

mod common;

use common::{etagsum, Dir};
use predicates::prelude::*;
use serde_json::Value;

/// The check values of s3-facts.md §5 for "123456789", as S3 shows them (base64, big-endian).
const CHECK: [(&str, &str); 5] = [
    ("CRC32", "y/Q5Jg=="),
    ("CRC32C", "4waSgw=="),
    ("CRC64NVME", "rosUhgp5mIg="),
    ("SHA1", "98O8HYCOBHMq32eZZczDTKeuNEE="),
    ("SHA256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="),
];

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn hash_prints_every_algorithm_after_the_etag_from_one_read() {
    let d = Dir::new();
    d.file("check", b"123456789");
    let mut want = "25f9e794323b453885f5181f1b624d0b  check\n".to_string();
    for (name, value) in CHECK {
        want.push_str(&format!("{name} (check) = {value}\n"));
    }
    etagsum(&d)
        .args([
            "hash",
            "--checksum",
            "crc32,CRC32C",
            "--checksum",
            "crc64nvme",
            "--checksum",
            "Sha1,sha256",
            "check",
        ])
        .assert()
        .success()
        .stdout(want);
    // Only the checksums, in the order asked.
    etagsum(&d)
        .args(["hash", "--no-etag", "--checksum", "sha256,crc32", "-"])
        .write_stdin("123456789")
        .assert()
        .success()
        .stdout(format!("SHA256 (-) = {}\nCRC32 (-) = {}\n", CHECK[4].1, CHECK[0].1));
}

#[test]
fn a_multipart_upload_gets_the_type_s3_stores_by_default() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    let out = etagsum(&d)
        .args(["hash", "--json", "--checksum", "crc32,crc64nvme,sha256", "zeros"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = &json_lines(&out.stdout)[0];
    let sums = v["checksums"].as_array().unwrap();
    // The aws cli's 8 MiB parts: composite CRC32 and SHA256 with -2, full-object CRC64NVME.
    assert_eq!(sums[0]["type"], "COMPOSITE");
    assert!(sums[0]["value"].as_str().unwrap().ends_with("-2"), "{v}");
    assert_eq!(sums[1]["type"], "FULL_OBJECT");
    assert!(!sums[1]["value"].as_str().unwrap().contains('-'), "{v}");
    assert_eq!(sums[2]["type"], "COMPOSITE");
    // The full-object CRC64NVME does not depend on the layout: the same for a single PUT.
    let single = etagsum(&d)
        .args(["hash", "--json", "--single", "--checksum", "crc64nvme", "zeros"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&single.stdout)[0]["checksums"][0]["value"], sums[1]["value"]);
    // Asked for full-object, CRC32 is too.
    let full = etagsum(&d)
        .args([
            "hash",
            "--json",
            "--checksum",
            "crc32",
            "--checksum-type",
            "full",
            "--part-size",
            "1MiB",
            "zeros",
        ])
        .output()
        .unwrap();
    let full_single =
        etagsum(&d).args(["hash", "--json", "--single", "--checksum", "crc32", "zeros"]).output().unwrap();
    assert_eq!(
        json_lines(&full.stdout)[0]["checksums"][0]["value"],
        json_lines(&full_single.stdout)[0]["checksums"][0]["value"]
    );
}

#[test]
fn combinations_s3_refuses_are_errors_for_that_file_only() {
    let d = Dir::new();
    d.file("big", &vec![1; 9 << 20]);
    d.file("small", b"abc");
    etagsum(&d)
        .args(["hash", "--checksum", "sha256", "--checksum-type", "full", "big", "small"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no full-object SHA256 for a multipart upload"))
        .stdout(predicate::str::contains("SHA256 (small) = ").and(predicate::str::contains("(big)").not()));
    etagsum(&d)
        .args(["hash", "--checksum", "crc64nvme", "--checksum-type", "composite", "big"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no composite CRC64NVME"));
    etagsum(&d)
        .args(["hash", "--single", "--checksum", "crc32", "--checksum-type", "composite", "small"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a single-part upload has no parts"));
    etagsum(&d).args(["hash", "--no-etag", "small"]).assert().code(2);
    etagsum(&d)
        .args(["hash", "--checksum", "md5", "small"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the MD5 is the ETag"));
}

#[test]
fn verify_by_checksum_alone_with_the_etag_and_when_they_disagree() {
    let d = Dir::new();
    d.file("check", b"123456789");
    let crc = format!("crc64nvme={}", CHECK[2].1);
    etagsum(&d)
        .args(["verify", "check", "--checksum", &crc])
        .assert()
        .code(0)
        .stdout("check: OK (the CRC64NVME checksum (full-object) equals the remote one)\n");
    etagsum(&d)
        .args(["verify", "check", "25f9e794323b453885f5181f1b624d0b", "--checksum", &crc])
        .assert()
        .code(0)
        .stdout(
            predicate::str::starts_with("check: OK (")
                .and(predicate::str::contains("CRC64NVME full-object OK")),
        );
    // An encrypted object: its ETag says nothing, its checksum decides.
    etagsum(&d)
        .args(["verify", "check", "0123456789abcdef0123456789abcdef", "--sse", "kms", "--checksum", &crc])
        .assert()
        .code(0);
    etagsum(&d)
        .args(["verify", "check", "--sse", "kms", "--checksum", "crc64nvme=AAAAAAAAAAA="])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "MISMATCH (the CRC64NVME checksum of the file (full-object) is rosUhgp5mIg=, not AAAAAAAAAAA=)",
        ));
    // The ETag matches, the checksum does not: never OK, and the reason says which.
    etagsum(&d)
        .args(["verify", "check", "25f9e794323b453885f5181f1b624d0b", "--checksum", "crc32=AAAAAA=="])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("the ETag matches but the CRC32 checksum does not"));
    // The same algorithm twice, with two values.
    etagsum(&d)
        .args(["verify", "check", "--checksum", "crc32=y/Q5Jg==", "--checksum", "crc32=AAAAAA=="])
        .args(["--checksum-type", "full"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("one CRC32 checksum matches but another does not"));
}

#[test]
fn verify_json_reports_each_checksum() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    let hashed = etagsum(&d).args(["hash", "--json", "--checksum", "crc32,sha1", "zeros"]).output().unwrap();
    let v = &json_lines(&hashed.stdout)[0];
    let crc32 = v["checksums"][0]["value"].as_str().unwrap().to_string();
    let sha1 = v["checksums"][1]["value"].as_str().unwrap().to_string();
    // As GetObjectAttributes shows them: without the -2.
    let bare = crc32.rsplit_once('-').unwrap().0.to_string();
    let out = etagsum(&d)
        .args(["verify", "--json", "zeros", v["etag"].as_str().unwrap()])
        .args(["--checksum", &format!("crc32={bare}"), "--checksum", &format!("sha1=\"{sha1}\"")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = &json_lines(&out.stdout)[0];
    assert_eq!(r["verdict"], "match");
    assert_eq!(r["checksums"][0]["algorithm"], "CRC32");
    assert_eq!(r["checksums"][0]["remote"], bare);
    assert_eq!(r["checksums"][0]["computed"], crc32);
    assert_eq!(r["checksums"][0]["verdict"], "match");
    assert_eq!(r["checksums"][0]["type"], "COMPOSITE");
    assert_eq!(r["checksums"][0]["layout"]["parts"], 2);
    assert_eq!(r["checksums"][1]["verdict"], "match");
    // Without the ETag: the checksum alone; remote_etag is null.
    let out = etagsum(&d)
        .args(["verify", "--json", "zeros", "--checksum", &format!("sha1={sha1}")])
        .output()
        .unwrap();
    let r = &json_lines(&out.stdout)[0];
    assert_eq!(
        (r["verdict"].as_str(), r["reason_code"].as_str(), &r["remote_etag"]),
        (Some("match"), Some("checksum_equal"), &Value::Null)
    );
}

#[test]
fn hostile_checksum_values_are_refused_with_the_reason() {
    let d = Dir::new();
    d.file("f", b"123456789");
    for (value, says) in [
        ("crc32=AAAA", "holds 3 bytes"),
        ("crc32=AAAAAAAAAAA=", "holds 8 bytes, as a CRC64NVME does"),
        ("crc32=!!!!", "not base64"),
        ("crc32=y/Q5Jg==-0", "'-0' never exists"),
        ("crc32=y/Q5Jg==-99999999999", "larger than 4294967295"),
        ("crc32=y/Q5Jg==-", "part count"),
        ("crc32=", "empty"),
        ("crc32", "is not ALG=VALUE"),
        ("blake3=AAAA", "unknown checksum algorithm"),
        ("sha256=".repeat(100).as_str(), "longer than any checksum"),
    ] {
        etagsum(&d)
            .args(["verify", "f", "--checksum", value])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says).and(predicate::str::contains("panicked").not()));
    }
    // Neither an ETag nor a checksum.
    etagsum(&d).args(["verify", "f"]).assert().code(2);
    // A huge -N that parses is no crash: no layout gives it.
    etagsum(&d).args(["verify", "f", "--checksum", "crc32=y/Q5Jg==-4294967295"]).assert().code(3);
}

#[test]
fn check_reads_the_checksum_lines_hash_writes() {
    let d = Dir::new();
    d.file("big", &(0..(9u32 << 20)).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    d.file("small", b"123456789");
    d.file("odd name\\x", b"abc");
    for tag in [false, true] {
        let mut args = vec!["hash", "--checksum", "crc32,crc64nvme,sha256"];
        if tag {
            args.push("--tag");
        }
        let out = etagsum(&d).args(&args).args(["big", "small", "odd name\\x"]).output().unwrap();
        assert!(out.status.success());
        std::fs::write(d.path().join("sums"), &out.stdout).unwrap();
        // 3 files × (the ETag and 3 checksums).
        etagsum(&d)
            .args(["check", "--quiet", "sums"])
            .assert()
            .code(0)
            .stdout("")
            .stderr(predicate::str::contains("12 OK"));
    }
    // One byte changed: the ETag line and every checksum line of that file are a mismatch (the
    // tagged lines record the layout, so the composite values are definitive).
    d.file("small", b"123456780");
    etagsum(&d)
        .args(["check", "--quiet", "sums"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("small: MISMATCH (the CRC32 checksum of the file (full-object)"))
        .stderr(predicate::str::contains("8 OK, 4 MISMATCH"));
    // A bad value is that line's failure; the others are still checked.
    std::fs::write(d.path().join("bad"), "CRC32 (big) = !!!\nSHA256 (odd name\\x) = ungA/r8D8KBw==\n")
        .unwrap();
    etagsum(&d)
        .args(["check", "bad"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("big: FAILED (invalid CRC32 checksum"))
        .stdout(predicate::str::contains("odd name"));
}
