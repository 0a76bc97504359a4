//! The command line: exact output and exit status for each verdict and each kind of bad input. The
//! real binary runs in a temporary directory.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::str::{contains, starts_with};

mod common;
use common::{etagsum, Dir, HELLO_MD5};

const ZEROS_10MIB_SINGLE: &str = "f1c9645dbc14efddc7d8a322685f26eb";
const ZEROS_10MIB_8MIB: &str = "669fdad9e309b552f1e9cf7b489c1f73-2";
const HELLO_ONE_PART: &str = "62109206880d38a4010a98e11243924a-1";

#[test]
fn hash_prints_etag_two_spaces_path() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    d.file("hello", b"hello");
    d.file("empty", b"");
    etagsum(&d)
        .args(["hash", "zeros", "hello", "empty"])
        .assert()
        .success()
        .stdout(format!(
            "{ZEROS_10MIB_8MIB}  zeros\n{HELLO_MD5}  hello\nd41d8cd98f00b204e9800998ecf8427e  empty\n"
        ))
        .stderr("");
}

#[test]
fn hash_layout_options() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    d.file("hello", b"hello");
    d.file("empty", b"");
    etagsum(&d)
        .args(["hash", "--single", "zeros"])
        .assert()
        .success()
        .stdout(format!("{ZEROS_10MIB_SINGLE}  zeros\n"));
    etagsum(&d)
        .args(["hash", "--part-size", "8MB", "hello", "empty"])
        .assert()
        .success()
        .stdout(format!("{HELLO_ONE_PART}  hello\n59adb24ef3cdbe0297f05b395827453f-1  empty\n"));
    // s3cmd: 15 MiB parts above 15 MiB, so 10 MiB is a single PUT.
    etagsum(&d)
        .args(["hash", "--uploader", "s3cmd", "zeros"])
        .assert()
        .success()
        .stdout(format!("{ZEROS_10MIB_SINGLE}  zeros\n"));
    // Mountpoint uploads everything in parts.
    etagsum(&d)
        .args(["hash", "--uploader", "MOUNTPOINT", "hello"])
        .assert()
        .success()
        .stdout(format!("{HELLO_ONE_PART}  hello\n"));
}

#[test]
fn hash_reads_standard_input() {
    let d = Dir::new();
    etagsum(&d)
        .args(["hash", "-"])
        .write_stdin("hello")
        .assert()
        .success()
        .stdout(format!("{HELLO_MD5}  -\n"));
    etagsum(&d)
        .args(["hash", "-"])
        .write_stdin(vec![0; 10 << 20])
        .assert()
        .success()
        .stdout(format!("{ZEROS_10MIB_8MIB}  -\n"));
    etagsum(&d)
        .args(["hash", "--part-size", "5MiB", "-"])
        .write_stdin(vec![0; 50 << 20])
        .assert()
        .success()
        .stdout("264bd8c2d8d9f3350ef680af6ddc51f2-10  -\n");
}

#[test]
fn hash_json() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    etagsum(&d).args(["hash", "--json", "zeros"]).assert().success().stdout(format!(
        "{{\"checksums\":[],\"etag\":\"{ZEROS_10MIB_8MIB}\",\"layout\":{{\"kind\":\"multipart\",\"part_size\":8388608,\"parts\":2}},\
         \"path\":\"zeros\",\"size\":10485760,\"warnings\":[]}}\n"
    ));
}

#[test]
fn hash_warns_about_layouts_s3_refuses_and_still_computes() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    etagsum(&d)
        .args(["hash", "--part-size", "1MiB", "zeros"])
        .assert()
        .success()
        .stdout("400c1287d381b071d456073ccfc8ebfa-10  zeros\n")
        .stderr(
            "etagsum: warning: zeros: part 1 has 1048576 bytes; S3 requires at least 5 MiB (5242880 bytes) for \
             every part but the last\n",
        );
}

#[test]
fn verify_ok_names_layout_and_uploaders() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    d.file("hello", b"hello");
    etagsum(&d)
        .args(["verify", "zeros", ZEROS_10MIB_8MIB])
        .assert()
        .code(0)
        .stdout("zeros: OK (part size 8 MiB (2 parts); uploaders: aws-cli, aws-crt, aws-crt-legacy, java-v2, mountpoint)\n");
    etagsum(&d)
        .args(["verify", "hello", &format!("\"{}\"", HELLO_MD5.to_uppercase())])
        .assert()
        .code(0)
        .stdout(starts_with("hello: OK (single part; uploaders: aws-cli, "));
    etagsum(&d)
        .args(["verify", "hello", HELLO_ONE_PART])
        .assert()
        .code(0)
        .stdout("hello: OK (part size 8 MiB (1 part); uploaders: mountpoint)\n");
    etagsum(&d)
        .args(["verify", "zeros", ZEROS_10MIB_8MIB, "--part-size", "8388608", "--size", "10485760"])
        .assert()
        .code(0)
        .stdout("zeros: OK (part size 8 MiB (2 parts))\n");
}

#[test]
fn verify_mismatch_exit_1() {
    let d = Dir::new();
    d.file("hello", b"hellp");
    d.file("zeros", &vec![0; 10 << 20]);
    etagsum(&d).args(["verify", "hello", HELLO_MD5]).assert().code(1).stdout(starts_with(format!(
        "hello: MISMATCH (the MD5 of the file is c983190483df167d2a3841463c2a9341, not {HELLO_MD5}; if the object is encrypted with \
         SSE-KMS or SSE-C, its ETag is not an MD5 of the content; check with: aws s3api head-object"
    )));
    etagsum(&d)
        .args(["verify", "zeros", ZEROS_10MIB_8MIB, "--size", "10485761"])
        .assert()
        .code(1)
        .stdout("zeros: MISMATCH (the remote object has 10485761 bytes, the local file 10485760)\n");
    // A part size that gives another part count than the ETag's is the caller's mistake, not
    // evidence about the bytes.
    etagsum(&d).args(["verify", "zeros", ZEROS_10MIB_8MIB, "--part-size", "3MiB"]).assert().code(3).stdout(
        starts_with(
            "zeros: INCONCLUSIVE (part size 3 MiB gives 4 parts for 10485760 bytes, but the remote ETag has 2 parts",
        ),
    );
    // One that gives the same count but another digest is overruled by the bytes: 8 MiB reproduces it.
    etagsum(&d)
        .args(["verify", "zeros", ZEROS_10MIB_8MIB, "--part-size", "5MiB"])
        .assert()
        .code(0)
        .stderr(contains("the layout given (part size 5 MiB (2 parts)) does not reproduce the ETag"));
    // With the count agreeing and no layout reproducing the ETag, the digest is the evidence.
    d.file("ones", &vec![1; 10 << 20]);
    etagsum(&d)
        .args(["verify", "ones", ZEROS_10MIB_8MIB, "--part-size", "8MiB"])
        .assert()
        .code(1)
        .stdout(starts_with("ones: MISMATCH (part size 8 MiB (2 parts) gives "));
    // 5 bytes in 3 parts is no upload S3 accepts, but other stores may: no evidence.
    etagsum(&d).args(["verify", "hello", "62109206880d38a4010a98e11243924a-3"]).assert().code(3);
}

#[test]
fn verify_inconclusive_exit_3_with_advice() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 20 << 20]);
    etagsum(&d)
        .args(["verify", "zeros", "00000000000000000000000000000000-3"])
        .assert()
        .code(3)
        .stdout(starts_with("zeros: INCONCLUSIVE (none of the "))
        .stdout(contains("part sizes from 6990507 to 10485759 bytes give 3 parts"))
        .stdout(contains("aws s3api head-object --bucket BUCKET --key KEY --part-number 1"))
        .stdout(contains(
            "etagsum verify zeros 00000000000000000000000000000000-3 --part-size <ContentLength>",
        ))
        .stdout(contains(
            "aws s3api get-object-attributes --bucket BUCKET --key KEY --object-attributes ObjectParts",
        ));
    etagsum(&d)
        .args(["verify", "zeros", &"ab".repeat(32)])
        .assert()
        .code(3)
        .stdout(starts_with("zeros: INCONCLUSIVE (the remote ETag is 64 hex digits, not the 32 of an MD5"));
    etagsum(&d)
        .args(["verify", "zeros", "00000000000000000000000000000000", "--sse", "kms"])
        .assert()
        .code(3)
        .stdout(starts_with("zeros: INCONCLUSIVE (the object is encrypted with SSE-KMS"))
        .stdout(contains("--checksum-mode ENABLED"));
}

#[test]
fn verify_json_has_the_contract_keys() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 10 << 20]);
    let out = etagsum(&d)
        .args(["verify", "--json", "zeros", ZEROS_10MIB_8MIB])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["path"], "zeros");
    assert_eq!(v["size"], 10485760);
    assert_eq!(v["remote_etag"], ZEROS_10MIB_8MIB);
    assert_eq!(v["computed_etag"], ZEROS_10MIB_8MIB);
    assert_eq!(v["verdict"], "match");
    assert_eq!(v["layout"], serde_json::json!({"kind": "multipart", "part_size": 8388608, "parts": 2}));
    assert!(v["uploaders"].as_array().unwrap().contains(&"aws-cli".into()));
    assert!(v.get("reason").is_some() && v.get("advice").is_some());
    let out = etagsum(&d)
        .args(["verify", "--json", "zeros", "00000000000000000000000000000000-2"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(v["layout"], serde_json::Value::Null);
    assert_eq!(v["computed_etag"], serde_json::Value::Null);
    assert!(v["advice"].as_str().unwrap().contains("aws s3api head-object"));
}

#[test]
fn hash_then_verify_round_trip_then_one_changed_byte() {
    let d = Dir::new();
    let mut data: Vec<u8> =
        (0..(17 << 20) + 3).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let p = d.file("data", &data);
    let out =
        etagsum(&d).args(["hash", "--part-size", "5MiB", "data"]).assert().success().get_output().clone();
    let etag = String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(etag.ends_with("-4"), "{etag}");
    etagsum(&d)
        .args(["verify", "data", &etag])
        .assert()
        .code(0)
        .stdout(starts_with("data: OK (part size 5 MiB (4 parts)"));
    data[12_345_678] ^= 1;
    std::fs::write(&p, &data).unwrap();
    etagsum(&d).args(["verify", "data", &etag]).assert().code(3).stdout(starts_with("data: INCONCLUSIVE"));
    etagsum(&d)
        .args(["verify", "data", &etag, "--part-size", "5MiB"])
        .assert()
        .code(1)
        .stdout(starts_with("data: MISMATCH"));
}

#[test]
fn guess_lists_layouts_that_reproduce() {
    let d = Dir::new();
    d.file("zeros", &vec![0; 20_000_000]);
    let out =
        etagsum(&d).args(["hash", "--part-size", "7000000", "zeros"]).assert().success().get_output().clone();
    let etag = String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    etagsum(&d)
        .args(["guess", "zeros", &etag])
        .assert()
        .code(0)
        .stdout(contains(format!("zeros: 20000000 bytes, {etag}: 1 of ")))
        .stdout(contains("part sizes from 6666667 to 9999999 bytes give 3 parts"))
        .stdout(contains("\n  part size 7000000 B (3 parts)  (no catalog uploader)\n"));
    // verify tries the uploaders' layouts first, then the rest of the candidates.
    etagsum(&d)
        .args(["verify", "zeros", &etag])
        .assert()
        .code(0)
        .stdout("zeros: OK (part size 7000000 B (3 parts))\n");
}

#[test]
fn uploaders_prints_the_catalog() {
    let d = Dir::new();
    etagsum(&d)
        .arg("uploaders")
        .assert()
        .success()
        .stdout(starts_with("NAME "))
        .stdout(contains("aws-cli "))
        .stdout(contains("rclone "))
        .stdout(contains("s3cmd "));
}

#[test]
fn bad_etag_bad_size_are_errors_that_say_what_was_expected() {
    let d = Dir::new();
    d.file("hello", b"hello");
    etagsum(&d).args(["verify", "hello", "xyz"]).assert().code(2).stdout("").stderr(starts_with(
        "etagsum: invalid ETag 'xyz': character 1 of the digest, 'x', is not a hex digit (0-9, a-f); expected 32 \
         hex digits",
    ));
    etagsum(&d)
        .args(["verify", "hello", &format!("{HELLO_MD5}-0")])
        .assert()
        .code(2)
        .stderr(contains("'-0' never exists"));
    etagsum(&d)
        .args(["hash", "--part-size", "8QB", "hello"])
        .assert()
        .code(2)
        .stderr(starts_with("etagsum: invalid value '8QB' for '--part-size <SIZE>': invalid size '8QB'"));
    etagsum(&d)
        .args(["hash", "--part-size", "99999999999999999999", "hello"])
        .assert()
        .code(2)
        .stderr(contains("does not fit in 64 bits"));
    etagsum(&d)
        .args(["hash", "--part-size", "0", "hello"])
        .assert()
        .code(2)
        .stderr(contains("a part size of 0 bytes cannot split anything"));
    etagsum(&d)
        .args(["hash", "--uploader", "nope", "hello"])
        .assert()
        .code(2)
        .stderr(starts_with("etagsum: unknown uploader 'nope'; expected one of: aws-cli"));
    etagsum(&d).args(["frobnicate"]).assert().code(2).stderr(starts_with("etagsum: unrecognized subcommand"));
}

#[test]
fn unreadable_inputs_are_errors_for_that_file_and_the_run_goes_on() {
    let d = Dir::new();
    d.file("hello", b"hello");
    std::fs::create_dir(d.path().join("adir")).unwrap();
    etagsum(&d)
        .args(["hash", "missing", "hello", "adir", "hello"])
        .assert()
        .code(2)
        .stdout(format!("{HELLO_MD5}  hello\n{HELLO_MD5}  hello\n"))
        .stderr(
            "etagsum: missing: No such file or directory (os error 2)\netagsum: adir: is a directory, not a file\n",
        );
    etagsum(&d)
        .args(["verify", "adir", HELLO_MD5])
        .assert()
        .code(2)
        .stdout("")
        .stderr("etagsum: adir: is a directory, not a file\n");
}

/// A file without read permission. Root reads everything, so as root the binary runs as `nobody`.
#[cfg(unix)]
#[test]
fn file_without_read_permission() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().tempdir_in(std::env::temp_dir()).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::write(&locked, b"secret").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("etagsum");
    let is_root = std::process::Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    cmd.arg("hash").arg(&locked).arg("/dev/null");
    cmd.assert()
        .code(2)
        .stdout("d41d8cd98f00b204e9800998ecf8427e  /dev/null\n")
        .stderr(format!("etagsum: {}: Permission denied (os error 13)\n", locked.display()));
}

// Truth under hostile input: what the command line does when its standard streams, its numbers and
// its file names are not what a polite caller gives.

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("etagsum")
}

/// The binary as a plain process, for tests that wire its standard streams themselves.
fn process(dir: &Dir) -> std::process::Command {
    let mut c = std::process::Command::new(bin());
    c.current_dir(dir.path());
    c
}

/// Runs `sh -c script` with `$0` set to the binary, in `dir`: for what only a shell does to
/// descriptors (`<&-`, `>&-`).
fn sh(dir: &Dir, script: &str) -> Command {
    let mut c = Command::new("sh");
    c.current_dir(dir.path()).arg("-c").arg(script).arg(bin());
    c
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn stderr_that_cannot_be_written_never_aborts() {
    let d = Dir::new();
    d.file("hello", b"hello");
    let out = process(&d).args(["hash", "missing"]).stderr(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(out.stdout, b"");
    // A warning alone on standard error: the ETag is still printed, and the run is OK.
    let out = process(&d).args(["hash", "--part-size", "5", "hello"]).stderr(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, format!("{HELLO_ONE_PART_5B}  hello\n").as_bytes());
}

/// `hello` in parts of 5 bytes: one part, the MD5 of its MD5.
const HELLO_ONE_PART_5B: &str = HELLO_ONE_PART;

/// Runs the binary with standard output on a pipe whose reader is already gone.
#[cfg(unix)]
fn with_reader_gone(dir: &Dir, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    process(dir).args(args).stdout(writer).output().unwrap()
}

#[cfg(unix)]
#[test]
fn broken_stdout_pipe_dies_of_sigpipe_never_exit_0() {
    use std::os::unix::process::ExitStatusExt;
    let d = Dir::new();
    d.file("hello", b"hello");
    for args in [
        &["verify", "hello", "00000000000000000000000000000000"][..],
        &["verify", "hello", HELLO_MD5],
        &["hash", "missing", "hello", "hello"],
        &["hash", "--json", "hello"],
        &["guess", "hello", HELLO_ONE_PART],
        &["uploaders"],
    ] {
        let out = with_reader_gone(&d, args);
        assert_eq!(out.status.signal(), Some(libc_sigpipe()), "{args:?}: {out:?}");
    }
    // Quietly: only the error about the missing file, written before the pipe broke.
    let out = with_reader_gone(&d, &["hash", "missing", "hello"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "etagsum: missing: No such file or directory (os error 2)\n"
    );
}

#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13
}

#[cfg(target_os = "linux")]
#[test]
fn full_stdout_is_an_error_that_says_so() {
    let d = Dir::new();
    d.file("hello", b"hello");
    let out = process(&d).args(["hash", "hello"]).stdout(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "etagsum: cannot write to standard output: No space left on device (os error 28)\n"
    );
}

#[cfg(unix)]
#[test]
fn closed_stdin_and_stdout_are_errors_not_empty_files() {
    let d = Dir::new();
    d.file("hello", b"hello");
    let empty = "d41d8cd98f00b204e9800998ecf8427e";
    sh(&d, &format!("exec \"$0\" verify - {empty} <&-"))
        .assert()
        .code(2)
        .stdout("")
        .stderr("etagsum: -: standard input is closed\n");
    sh(&d, "exec \"$0\" hash hello - hello <&-")
        .assert()
        .code(2)
        .stdout(format!("{HELLO_MD5}  hello\n{HELLO_MD5}  hello\n"))
        .stderr("etagsum: -: standard input is closed\n");
    sh(&d, &format!("exec \"$0\" guess - {empty} --size 0 <&-"))
        .assert()
        .code(2)
        .stderr("etagsum: -: standard input is closed\n");
    // A stdin that is really /dev/null is an empty input, and a closed stdin matters only to `-`.
    sh(&d, &format!("exec \"$0\" verify - {empty} </dev/null"))
        .assert()
        .code(0)
        .stdout("-: OK (single part)\n");
    sh(&d, "exec \"$0\" hash hello <&-").assert().code(0).stdout(format!("{HELLO_MD5}  hello\n"));
    // Standard error is not needed to say it: the status does.
    sh(&d, "exec \"$0\" hash hello >&-").assert().code(2).stderr("etagsum: standard output is closed\n");
    sh(&d, "exec \"$0\" hash hello >&- 2>&-").assert().code(2);
    sh(&d, "exec \"$0\" hash hello >/dev/null").assert().code(0).stderr("");
    // /dev/null opened read-write on purpose (a shell's `<>`, Python's subprocess.DEVNULL, systemd's
    // StandardOutput=null) is a real output and input, not a closed descriptor.
    #[cfg(target_os = "linux")]
    {
        sh(&d, "exec \"$0\" hash hello 1<>/dev/null").assert().code(0).stderr("");
        sh(&d, &format!("exec \"$0\" verify - {empty} 0<>/dev/null"))
            .assert()
            .code(0)
            .stdout("-: OK (single part)\n");
    }
}

#[test]
fn threads_are_bounded_with_a_usage_error() {
    let d = Dir::new();
    d.file("hello", b"hello");
    for n in ["0", "257", "100000", "99999999999", "99999999999999999999999", "four", "1k"] {
        etagsum(&d).args(["--threads", n, "hash", "hello"]).assert().code(2).stdout("").stderr(starts_with(
            format!(
            "etagsum: invalid value '{n}' for '--threads <N>': expected a number of threads from 1 to 256\n"
        ),
        ));
    }
    for n in ["1", "256"] {
        etagsum(&d)
            .args(["--threads", n, "hash", "hello"])
            .assert()
            .code(0)
            .stdout(format!("{HELLO_MD5}  hello\n"));
    }
}

/// A process limit of 1 as an unprivileged user: no worker thread can start. The error is said once.
#[cfg(target_os = "linux")]
#[test]
fn failed_thread_start_is_one_error_said_once() {
    let d = Dir::new();
    let is_root = std::process::Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut c = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "prlimit", "--nproc=1"]);
        c
    } else {
        let mut c = Command::new("prlimit");
        c.arg("--nproc=1");
        c
    };
    c.current_dir(d.path()).arg(bin()).args(["--threads", "4", "hash", "/dev/null"]);
    c.assert()
        .code(2)
        .stdout("")
        .stderr("etagsum: cannot start 4 worker threads: Resource temporarily unavailable (os error 11)\n");
}

#[test]
fn size_is_a_plain_byte_count_part_sizes_keep_suffixes() {
    let d = Dir::new();
    d.file("eight", &vec![7; 8_000_000]);
    let out = etagsum(&d).args(["hash", "eight"]).assert().success().get_output().clone();
    let etag = String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    etagsum(&d)
        .args(["verify", "eight", &etag, "--size", "8000000"])
        .assert()
        .code(0)
        .stdout(starts_with("eight: OK (single part"));
    for size in ["8MB", "8M", "8MiB", "8000000B", " 8000000", "", "+1", "8e6", "0x10", "٣"] {
        etagsum(&d).args(["verify", "eight", &etag, "--size", size]).assert().code(2).stdout("").stderr(
            format!(
                "etagsum: invalid value '{size}' for '--size <BYTES>': a ContentLength is a plain number of \
             bytes, e.g. 8000000\n\nFor more information, try '--help'.\n"
            ),
        );
    }
    etagsum(&d).args(["verify", "eight", &etag, "--size", "99999999999999999999"]).assert().code(2).stderr(
        starts_with(
            "etagsum: invalid value '99999999999999999999' for '--size <BYTES>': the number does not fit in \
             64 bits; a ContentLength is a plain number of bytes, e.g. 8000000\n",
        ),
    );
    etagsum(&d)
        .args(["verify", "eight", "00000000000000000000000000000000-2", "--part-sizes", "5MiB,3000000"])
        .assert()
        .code(3);
}

#[cfg(unix)]
fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes)
}

#[cfg(unix)]
#[test]
fn names_with_newline_backslash_cr_are_escaped_as_md5sum_does() {
    let d = Dir::new();
    for name in ["a\nb", "back\\slash", "c\rr", "plain"] {
        d.file(name, b"hello");
    }
    etagsum(&d).args(["hash", "a\nb", "back\\slash", "c\rr", "plain"]).assert().code(0).stdout(format!(
        "\\{HELLO_MD5}  a\\nb\n\\{HELLO_MD5}  back\\\\slash\n\\{HELLO_MD5}  c\\rr\n{HELLO_MD5}  plain\n"
    ));
    etagsum(&d)
        .args(["verify", "a\nb", HELLO_MD5])
        .assert()
        .code(0)
        .stdout(starts_with("\\a\\nb: OK (single part; uploaders: "));
    // The advice quotes the name; its newline is escaped with the rest of the line.
    let out = etagsum(&d).args(["verify", "a\nb", "00000000000000000000000000000000-2"]).assert().code(3);
    let stdout = out.get_output().stdout.clone();
    assert!(stdout.starts_with(b"\\a\\nb: INCONCLUSIVE ("), "{}", String::from_utf8_lossy(&stdout));
    assert_eq!(stdout.iter().filter(|&&b| b == b'\n').count(), 1);
    etagsum(&d)
        .args(["guess", "back\\slash", HELLO_ONE_PART])
        .assert()
        .code(0)
        .stdout(starts_with(format!("\\back\\\\slash: 5 bytes, {HELLO_ONE_PART}: 1 of ")));
    // Errors keep one line too.
    etagsum(&d)
        .args(["hash", "gone\nfile"])
        .assert()
        .code(2)
        .stderr("etagsum: gone\\nfile: No such file or directory (os error 2)\n");
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_round_trip() {
    let d = Dir::new();
    let name = os(b"caf\xe9");
    std::fs::write(d.path().join(name), b"hello").unwrap();
    let out = process(&d).arg("hash").arg(name).output().unwrap();
    assert_eq!(out.stdout, [HELLO_MD5.as_bytes(), b"  caf\xe9\n"].concat());
    let out = process(&d).arg("verify").arg(name).arg(HELLO_MD5).output().unwrap();
    assert!(out.stdout.starts_with(b"caf\xe9: OK (single part"), "{out:?}");
    for args in [&["hash", "--json"][..], &["verify", "--json", "-"], &["guess", "--json", "-"]] {
        let mut c = process(&d);
        let (sub, flag) = (args[0], args[1]);
        c.arg(sub).arg(flag).arg(name);
        if sub != "hash" {
            c.arg(HELLO_MD5);
        }
        let out = c.output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["path"], "caf\u{fffd}", "{sub}");
        assert_eq!(v["path_bytes"], "Y2Fm6Q==", "{sub}");
    }
    // UTF-8 names need no second form.
    let v: serde_json::Value = serde_json::from_slice(
        &etagsum(&d)
            .args(["hash", "--json", "-"])
            .write_stdin("hello")
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["path"], "-");
    assert!(v.get("path_bytes").is_none());
}

#[test]
fn hostile_names_stay_on_their_line_and_never_run() {
    let d = Dir::new();
    let name = "x'; touch PWNED; '";
    d.file(name, &vec![0; 20 << 20]);
    d.file("-dash", b"hello");
    let out = etagsum(&d).args(["verify", name, "00000000000000000000000000000000-3"]).assert().code(3);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.starts_with(&format!("{name}: INCONCLUSIVE (")), "{stdout}");
    assert_eq!(stdout.matches('\n').count(), 1);
    assert!(!d.path().join("PWNED").exists());
    etagsum(&d).args(["hash", "--", "-dash"]).assert().code(0).stdout(format!("{HELLO_MD5}  -dash\n"));
    etagsum(&d)
        .args(["verify", "--", "-dash", HELLO_MD5])
        .assert()
        .code(0)
        .stdout(starts_with("-dash: OK (single part"));
}

/// `/dev/stdin` is a pipe here, given as a file name: it is not called standard input.
#[cfg(target_os = "linux")]
#[test]
fn a_pipe_given_as_a_file_is_not_standard_input() {
    let d = Dir::new();
    etagsum(&d)
        .args(["verify", "/dev/stdin", "00000000000000000000000000000000-2"])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "etagsum: /dev/stdin: not a regular file (a pipe or a device), so its size is not known before \
             reading it; give --size with the object's ContentLength, or the layout with --part-size\n",
        );
    etagsum(&d)
        .args(["verify", "/dev/stdin", HELLO_ONE_PART, "--size", "5"])
        .write_stdin("hello")
        .assert()
        .code(0)
        .stdout(starts_with("/dev/stdin: OK (part size 8 MiB (1 part)"));
    etagsum(&d)
        .args(["verify", "-", "00000000000000000000000000000000-2"])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stderr(
            "etagsum: -: the size of standard input is not known before reading it; give --size with the \
             object's ContentLength, or the layout with --part-size\n",
        );
}

#[test]
fn guess_reads_standard_input_or_a_pipe_when_given_the_size() {
    let d = Dir::new();
    d.file("hello", b"hello");
    for file in ["-", "/dev/stdin"] {
        etagsum(&d)
            .args(["guess", file, HELLO_ONE_PART, "--size", "5"])
            .write_stdin("hello")
            .assert()
            .code(0)
            .stdout(starts_with(format!("{file}: 5 bytes, {HELLO_ONE_PART}: 1 of ")));
    }
    etagsum(&d).args(["guess", "-", HELLO_ONE_PART]).write_stdin("hello").assert().code(2).stdout("").stderr(
        "etagsum: -: the size of standard input is not known before reading it; guessing needs it, because \
         the part sizes to try depend on it: give --size with the object's ContentLength\n",
    );
    etagsum(&d)
        .args(["guess", "/dev/stdin", HELLO_ONE_PART])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stderr(starts_with("etagsum: /dev/stdin: not a regular file (a pipe or a device)"));
    etagsum(&d)
        .args(["guess", "hello", HELLO_ONE_PART, "--size", "6"])
        .assert()
        .code(2)
        .stderr("etagsum: hello: the file has 5 bytes, but --size says 6\n");
    etagsum(&d)
        .args(["guess", "-", HELLO_ONE_PART, "--size", "6"])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stderr(starts_with("etagsum: -: "));
}

#[test]
fn generate_man_page_and_completions() {
    let d = Dir::new();
    let man = etagsum(&d).args(["--generate", "man"]).assert().success().get_output().stdout.clone();
    let man = String::from_utf8(man).unwrap();
    assert!(man.contains(".TH etagsum 1"), "{man}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(man.contains(section), "{section}");
    }
    for sub in ["hash", "verify", "guess", "uploaders"] {
        assert!(man.contains(sub), "{sub}");
    }
    if let Ok(mut groff) = std::process::Command::new("groff")
        .args(["-man", "-Tutf8"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        groff.stdin.take().unwrap().write_all(man.as_bytes()).unwrap();
        let out = groff.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("verify"));
    }
    let bash = d.path().join("etagsum.bash");
    let out =
        etagsum(&d).args(["--generate", "complete-bash"]).assert().success().get_output().stdout.clone();
    std::fs::write(&bash, &out).unwrap();
    if let Ok(status) = std::process::Command::new("bash").arg("-n").arg(&bash).status() {
        assert!(status.success());
    }
    for shell in ["complete-zsh", "complete-fish", "complete-powershell", "complete-elvish"] {
        etagsum(&d).args(["--generate", shell]).assert().success().stdout(contains("verify"));
    }
    etagsum(&d)
        .args(["--generate", "nope"])
        .assert()
        .code(2)
        .stderr(starts_with("etagsum: invalid value 'nope'"));
    etagsum(&d).args(["--help"]).assert().success().stdout(contains("--generate"));
    etagsum(&d).assert().code(2).stderr(starts_with("etagsum: a subcommand is required"));
}
