"""The conditional-writes guide run for real: examples/conditional-write.sh and the commands of
docs/conditional-writes.md, against the harness's moto server.

The script runs with its aws cli and etagsum behind tests/s3/guide_shim.py, which records every
call and makes the races happen: another writer that replaces the object between the script's
verify and its write, a write whose response was "lost" and that was retried (the benign 412), a
file that changes during its upload. Each scenario then checks the script's exit status, the
writes it made and their conditions, and what the bucket holds: the object's bytes and, in a
versioned bucket, its list of versions (a write that should not happen would add one).

The guide's console blocks are run as one shell session (aws and etagsum on PATH, AWS_ENDPOINT_URL
set, etagsum given --path-style for moto) and each command's output must be the one printed in the
guide; the session as it ran is written to guide/session.txt in the work directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from datafiles import MIB, Layout, etag_for_layout
from server import client_environment

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "conditional-write.sh"
GUIDE = REPO / "docs" / "conditional-writes.md"
README = REPO / "README.md"
# The README's sections whose commands are run, from the first heading to the next one after them.
README_FROM = "### S3: asking S3 for what only S3 knows"
README_TO = "## Library\n"
SHIM = Path(__file__).resolve().parent / "guide_shim.py"
BUCKET = "guide"  # versioned: a write that should not happen adds a version
DOC_BUCKET = "my-bucket"  # the bucket the guide's commands name
SCRIPT_TIMEOUT = 180
MARK = "@@guide-command@@"


def run_guide_tests(harness) -> None:
    """Every guide check; each reports its own line, and a harness error fails only its part."""
    tests = []
    harness._guarded("guide: setup", lambda: tests.append(GuideTests(harness)))
    if tests:
        tests[0].run()


@dataclass
class ScriptRun:
    rc: int
    stdout: str
    stderr: str
    calls: list[dict]  # what the shim recorded, in order
    cmd: list[str]

    def describe(self) -> str:
        calls = "\n".join(f"  {c['tool']} {shlex.join(c['args'])} -> {c['status']}"
                          + (f" ({c['action']}, {c['runs']} run(s))" if c.get("action") else "")
                          for c in self.calls)
        return "\n".join([f"command: {shlex.join(self.cmd)}", f"exit status: {self.rc}",
                          f"stdout: {self.stdout.rstrip() or '(empty)'}",
                          f"stderr: {self.stderr.rstrip() or '(empty)'}", f"calls:\n{calls or '  (none)'}"])

    def aws(self, operation: str) -> list[dict]:
        return [c for c in self.calls if c["tool"] == "aws" and operation in c["args"]]

    def verifies(self) -> list[dict]:
        return [c for c in self.calls if c["tool"] == "etagsum" and c["args"][:1] == ["verify"]]


def condition(call: dict) -> str:
    """The precondition of a recorded write: `If-None-Match: *`, `If-Match: <etag>` or `none`."""
    a = call["args"]
    if "--if-none-match" in a:
        return f"If-None-Match: {a[a.index('--if-none-match') + 1]}"
    if "--if-match" in a:
        return f"If-Match: {a[a.index('--if-match') + 1].strip(chr(34))}"
    return "none"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class GuideTests:
    def __init__(self, harness):
        self.h = harness
        self.report = harness.report
        self.etagsum = harness.args.etagsum.resolve()
        self.aws = harness.args.venv / "bin" / "aws"
        self.python = sys.executable
        self.url = harness.server.url
        self.work = harness.workdir / "guide"
        self.work.mkdir()
        self.home = self.work / "home"
        self.home.mkdir()
        self.s3 = harness.s3
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.n = 0

    def run(self) -> None:
        g = self.h._guarded
        g("guide: script syntax", self.test_syntax)
        for jq in ("jq", ""):
            variant = "jq" if jq else "python3"
            g(f"guide: single PUT life cycle ({variant})", self.test_life_cycle, jq)
            g(f"guide: concurrent writer ({variant})", self.test_concurrent_writer, jq)
        g("guide: concurrent writer on a missing key", self.test_concurrent_create)
        g("guide: a writer that keeps writing", self.test_gives_up)
        g("guide: benign 412 on If-None-Match", self.test_benign_create)
        g("guide: benign 412 on If-Match", self.test_benign_replace)
        g("guide: another writer wrote the same bytes", self.test_same_bytes)
        g("guide: --if-match with the ETag known", self.test_known_etag)
        g("guide: file changed during the upload", self.test_changed_during_upload)
        g("guide: inconclusive", self.test_inconclusive)
        g("guide: multipart", self.test_multipart)
        g("guide: usage errors", self.test_usage)
        g("guide: the guide's commands", self.test_document)
        g("guide: the README's commands", self.test_readme)

    # ---- helpers -------------------------------------------------------------------------------

    def file(self, name: str, data: bytes) -> Path:
        path = self.work / name
        path.write_bytes(data)
        return path

    def data(self, label: str, size: int) -> bytes:
        return hashlib.shake_256(f"{self.h.args.seed}:guide:{label}".encode()).digest(size)

    def key(self, name: str) -> str:
        return f"guide/{name}"

    def run_script(self, path: Path, key: str, *options: str, plan: dict | None = None,
                   jq: str = "jq") -> ScriptRun:
        self.n += 1
        log = self.work / f"calls-{self.n}.jsonl"
        extra = {
            "AWS_ENDPOINT_URL": self.url,
            "ETAGSUM": f"{self.python} {SHIM} {self.etagsum}",
            "AWSCLI": f"{self.python} {SHIM} {self.aws}",
            "ETAGSUM_S3_OPTS": "--path-style",
            "JQ": jq,
            "GUIDE_LOG": str(log),
        }
        if plan is not None:
            plan_file = self.work / f"plan-{self.n}.json"
            plan_file.write_text(json.dumps(plan))
            extra["GUIDE_PLAN"] = str(plan_file)
        cmd = ["bash", str(SCRIPT), "--backoff", "0", *options, str(path), f"s3://{BUCKET}/{key}"]
        try:
            p = subprocess.run(cmd, env=client_environment(self.home, extra), stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, cwd=self.work)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = -1, str(e.stdout or ""), f"(timed out after {SCRIPT_TIMEOUT} s)"
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return ScriptRun(rc, out, err, calls, cmd)

    def versions(self, key: str) -> list[tuple[str, str]]:
        """(VersionId, ETag) of every version of the key, newest first (no delete markers here)."""
        r = self.s3.list_object_versions(Bucket=BUCKET, Prefix=key)
        vs = [v for v in r.get("Versions", []) if v["Key"] == key]
        vs.sort(key=lambda v: (v["IsLatest"], v["LastModified"]), reverse=True)
        return [(v["VersionId"], v["ETag"].strip('"')) for v in vs]

    def content(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def open_uploads(self, key: str) -> list[str]:
        r = self.s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key)
        return [u["UploadId"] for u in r.get("Uploads", []) if u["Key"] == key]

    def judge(self, subject: str, run: ScriptRun, problems: list[str], detail: str) -> None:
        if problems:
            self.report.fail("guide", subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok("guide", subject, detail)

    @staticmethod
    def expect_writes(run: ScriptRun, operation: str, conditions: list[str]) -> list[str]:
        got = [condition(c) for c in run.aws(operation)]
        return [] if got == conditions else [f"{operation} conditions {got}, expected {conditions}"]

    # ---- the script ----------------------------------------------------------------------------

    def test_syntax(self) -> None:
        p = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
        if p.returncode != 0 or not os.access(SCRIPT, os.X_OK):
            self.report.fail("guide", "bash -n", f"exit {p.returncode}, executable: "
                             f"{os.access(SCRIPT, os.X_OK)}\n{p.stderr}")
        else:
            self.report.ok("guide", "bash -n", str(SCRIPT.relative_to(REPO)))

    def test_life_cycle(self, jq: str) -> None:
        """Missing: created with If-None-Match: *; the same file: no write; a new file: If-Match."""
        variant = "jq" if jq else "python3"
        key = self.key(f"life-{variant}")
        first = self.data(f"life-{variant}-1", 3000)
        path = self.file(f"life-{variant}.csv", first)

        run = self.run_script(path, key, jq=jq)
        vs = self.versions(key)
        problems = self.expect_writes(run, "put-object", ["If-None-Match: *"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if [e for _, e in vs] != [md5(first)]:
            problems.append(f"versions {vs}, expected one with ETag {md5(first)}")
        if f"S3 assigned ETag {md5(first)}, as predicted" not in run.stdout:
            problems.append("no line saying S3 assigned the predicted ETag " + md5(first))
        if self.content(key) != first:
            problems.append("the object's bytes are not the file's")
        self.judge(f"first write ({variant})", run, problems, f"If-None-Match: * created ETag {md5(first)}")

        again = self.run_script(path, key, jq=jq)
        problems = self.expect_writes(again, "put-object", [])
        if again.rc != 0:
            problems.append(f"exit status {again.rc}, expected 0")
        if self.versions(key) != vs:
            problems.append(f"versions changed from {vs} to {self.versions(key)}")
        if len(again.verifies()) != 1 or "nothing written" not in again.stdout:
            problems.append("expected one verify and 'nothing written'")
        self.judge(f"same file again ({variant})", again, problems, f"no write, version {vs[0][0]} kept")

        second = self.data(f"life-{variant}-2", 4000)
        path.write_bytes(second)
        changed = self.run_script(path, key, jq=jq)
        problems = self.expect_writes(changed, "put-object", [f"If-Match: {md5(first)}"])
        if changed.rc != 0:
            problems.append(f"exit status {changed.rc}, expected 0")
        if [e for _, e in self.versions(key)] != [md5(second), md5(first)]:
            problems.append(f"versions {self.versions(key)}, expected ETags {md5(second)}, {md5(first)}")
        if self.content(key) != second:
            problems.append("the object's bytes are not the changed file's")
        self.judge(f"changed file ({variant})", changed, problems,
                   f"If-Match: {md5(first)} replaced it with {md5(second)}")

    def test_concurrent_writer(self, jq: str) -> None:
        """Another writer replaces the object between verify and write: 412, re-read, retry."""
        variant = "jq" if jq else "python3"
        key = self.key(f"race-{variant}")
        old, ours, theirs = (self.data(f"race-{variant}-{n}", 2000 + n) for n in range(3))
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=old)
        path = self.file(f"race-{variant}.bin", ours)
        other = self.file(f"race-{variant}-theirs.bin", theirs)
        run = self.run_script(path, key, jq=jq,
                              plan={"on": "put-object", "action": "other-writer", "times": 1,
                                    "bodies": [str(other)]})
        problems = self.expect_writes(run, "put-object",
                                      [f"If-Match: {md5(old)}", f"If-Match: {md5(theirs)}"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if len(run.verifies()) != 2:
            problems.append(f"{len(run.verifies())} verify calls, expected 2 (before each write)")
        if "refused (412 Precondition Failed)" not in run.stdout:
            problems.append("no line saying the write was refused with 412")
        if [e for _, e in self.versions(key)] != [md5(ours), md5(theirs), md5(old)]:
            problems.append(f"versions {self.versions(key)}, expected ours, theirs, the old one")
        if self.content(key) != ours:
            problems.append("the object does not end with our bytes")
        self.judge(f"412, real conflict, retry ({variant})", run, problems,
                   "If-Match refused after the other write, retried against its ETag, ours is on top")

    def test_concurrent_create(self) -> None:
        key = self.key("race-create")
        ours, theirs = self.data("create-ours", 1500), self.data("create-theirs", 1600)
        path = self.file("create-ours.bin", ours)
        other = self.file("create-theirs.bin", theirs)
        run = self.run_script(path, key, plan={"on": "put-object", "action": "other-writer", "times": 1,
                                               "bodies": [str(other)]})
        problems = self.expect_writes(run, "put-object", ["If-None-Match: *", f"If-Match: {md5(theirs)}"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if [e for _, e in self.versions(key)] != [md5(ours), md5(theirs)]:
            problems.append(f"versions {self.versions(key)}, expected ours over theirs")
        self.judge("If-None-Match 412, real conflict", run, problems,
                   "the key was created meanwhile; retried with If-Match on the other writer's ETag")

    def test_gives_up(self) -> None:
        key = self.key("race-forever")
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=self.data("forever-old", 100))
        ours = self.data("forever-ours", 1000)
        path = self.file("forever-ours.bin", ours)
        bodies = [self.file(f"forever-{n}.bin", self.data(f"forever-{n}", 900 + n)) for n in range(2)]
        run = self.run_script(path, key, "--tries", "3",
                              plan={"on": "put-object", "action": "other-writer", "times": -1,
                                    "bodies": [str(b) for b in bodies]})
        problems = []
        if run.rc != 4:
            problems.append(f"exit status {run.rc}, expected 4 (gave up)")
        writes = run.aws("put-object")
        if len(writes) != 3 or any(c["status"] == 0 for c in writes):
            problems.append(f"{len(writes)} writes ({[c['status'] for c in writes]}), expected 3 refused")
        if "giving up after 3" not in run.stderr:
            problems.append("no message saying it gave up after 3 writes")
        last = bodies[(3 - 1) % 2].read_bytes()
        if self.content(key) != last:
            problems.append("the object is not the other writer's last write")
        self.judge("bounded retries: gives up", run, problems, "3 refused writes, exit 4, theirs kept")

    def test_benign_create(self) -> None:
        """Our first write landed but its response was lost; the retry gets 412; verify: equal."""
        key = self.key("benign-create")
        ours = self.data("benign-create", 2500)
        path = self.file("benign-create.bin", ours)
        run = self.run_script(path, key, plan={"on": "put-object", "action": "twice", "times": 1})
        writes = run.aws("put-object")
        problems = self.expect_writes(run, "put-object", ["If-None-Match: *"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if writes and (writes[0]["runs"], writes[0]["status"]) != (2, 255):
            problems.append(f"the retried write ran {writes[0]['runs']} time(s) with status "
                            f"{writes[0]['status']}, expected 2 and the aws cli's 255 (the 412)")
        if len(run.verifies()) != 2:
            problems.append(f"{len(run.verifies())} verify calls, expected 2")
        if "after the 412 Precondition Failed" not in run.stdout:
            problems.append("no line saying the 412 was benign")
        if [e for _, e in self.versions(key)] != [md5(ours)]:
            problems.append(f"versions {self.versions(key)}, expected our one write")
        self.judge("benign 412 (If-None-Match retried)", run, problems,
                   "the retry's 412 judged benign by verify; one version")

    def test_benign_replace(self) -> None:
        key = self.key("benign-replace")
        old, ours = self.data("benign-old", 700), self.data("benign-new", 800)
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=old)
        path = self.file("benign-replace.bin", ours)
        run = self.run_script(path, key, plan={"on": "put-object", "action": "twice", "times": 1})
        problems = self.expect_writes(run, "put-object", [f"If-Match: {md5(old)}"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if "after the 412 Precondition Failed" not in run.stdout:
            problems.append("no line saying the 412 was benign")
        if [e for _, e in self.versions(key)] != [md5(ours), md5(old)]:
            problems.append(f"versions {self.versions(key)}, expected ours over the old one")
        self.judge("benign 412 (If-Match retried)", run, problems, "the retry's 412 judged benign")

    def test_same_bytes(self) -> None:
        key = self.key("same-bytes")
        ours = self.data("same-bytes", 1200)
        path = self.file("same-bytes.bin", ours)
        twin = self.file("same-bytes-theirs.bin", ours)
        run = self.run_script(path, key, plan={"on": "put-object", "action": "other-writer", "times": 1,
                                               "bodies": [str(twin)]})
        problems = self.expect_writes(run, "put-object", ["If-None-Match: *"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        vs = self.versions(key)
        if len(vs) != 1 or vs[0][1] != md5(ours):
            problems.append(f"versions {vs}, expected only the other writer's (same bytes)")
        self.judge("412, the other writer wrote the same bytes", run, problems, "nothing more written")

    def test_known_etag(self) -> None:
        """--if-match ETAG: the first write needs no verify; a stale ETag falls back to verify."""
        key = self.key("known")
        first, second, third = (self.data(f"known-{n}", 600 + n) for n in range(3))
        path = self.file("known.bin", first)
        self.run_script(path, key)
        path.write_bytes(second)
        run = self.run_script(path, key, "--if-match", md5(first))
        problems = self.expect_writes(run, "put-object", [f"If-Match: {md5(first)}"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if run.verifies():
            problems.append(f"{len(run.verifies())} verify calls, expected none")
        if self.content(key) != second:
            problems.append("the object is not the new file")
        self.judge("--if-match with the current ETag", run, problems, "written with no verify first")

        path.write_bytes(third)
        stale = self.run_script(path, key, "--if-match", md5(first))
        problems = self.expect_writes(stale, "put-object",
                                      [f"If-Match: {md5(first)}", f"If-Match: {md5(second)}"])
        if stale.rc != 0:
            problems.append(f"exit status {stale.rc}, expected 0")
        if len(stale.verifies()) != 1:
            problems.append(f"{len(stale.verifies())} verify calls, expected 1 (after the 412)")
        if self.content(key) != third:
            problems.append("the object is not the new file")
        self.judge("--if-match with a stale ETag", stale, problems, "412, verify, If-Match on the new ETag")

    def test_changed_during_upload(self) -> None:
        key = self.key("changing")
        data = self.data("changing", 900)
        path = self.file("changing.bin", data)
        run = self.run_script(path, key, plan={"on": "put-object", "action": "change-file", "times": 1,
                                               "file": str(path)})
        problems = []
        if run.rc != 5:
            problems.append(f"exit status {run.rc}, expected 5 (ETag not the predicted one)")
        if f"not the predicted {md5(data)}" not in run.stderr:
            problems.append("no message naming the predicted ETag")
        if self.content(key) != data + b"+":
            problems.append("the object is not the changed file (the test did not change it as planned)")
        self.judge("ETag after the write checked", run, problems, "a file changed during its upload: exit 5")

    def test_inconclusive(self) -> None:
        """SSE-KMS with no additional checksum: neither equal nor different can be proved."""
        key = self.key("kms")
        theirs = self.data("kms-theirs", 1000)
        plain = boto3.client("s3", endpoint_url=self.url, config=Config(
            s3={"addressing_style": "path"}, request_checksum_calculation="when_required"))
        plain.put_object(Bucket=BUCKET, Key=key, Body=theirs, ServerSideEncryption="aws:kms")
        head = self.s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        stored = sorted(k for k in head if k.startswith("Checksum") and k != "ChecksumType")
        before = self.versions(key)
        path = self.file("kms.bin", self.data("kms-ours", 1000))
        run = self.run_script(path, key)
        problems = self.expect_writes(run, "put-object", [])
        if stored:
            problems.append(f"the object has checksums {stored}; the test needs one without")
        if run.rc != 3:
            problems.append(f"exit status {run.rc}, expected 3")
        if "cannot prove" not in run.stderr:
            problems.append("no message saying nothing could be proved")
        if self.versions(key) != before:
            problems.append("the object was changed")
        self.judge("inconclusive: nothing written", run, problems, "SSE-KMS object: exit 3, no write")

    def test_multipart(self) -> None:
        key = self.key("multipart")
        size = 11 * MIB + 7
        data = self.data("multipart", size)
        path = self.file("multipart.bin", data)
        expected = etag_for_layout(path, Layout.multipart(5 * MIB, 3))
        run = self.run_script(path, key, "--part-size", "5MiB")
        problems = self.expect_writes(run, "complete-multipart-upload", ["If-None-Match: *"])
        if run.rc != 0:
            problems.append(f"exit status {run.rc}, expected 0")
        if len(run.aws("upload-part")) != 3:
            problems.append(f"{len(run.aws('upload-part'))} parts uploaded, expected 3")
        if [e for _, e in self.versions(key)] != [expected]:
            problems.append(f"versions {self.versions(key)}, expected one with ETag {expected}")
        if f"S3 assigned ETag {expected}, as predicted" not in run.stdout:
            problems.append(f"no line saying S3 assigned the predicted {expected}")
        if self.content(key) != data:
            problems.append("the object's bytes are not the file's")
        if self.open_uploads(key):
            problems.append(f"multipart uploads left open: {self.open_uploads(key)}")
        self.judge("multipart: first write", run, problems, f"3 parts, If-None-Match: *, ETag {expected}")

        again = self.run_script(path, key, "--part-size", "5MiB")
        problems = []
        if again.rc != 0 or again.aws("create-multipart-upload"):
            problems.append(f"exit status {again.rc}, {len(again.aws('create-multipart-upload'))} uploads "
                            "started; expected 0 and none")
        self.judge("multipart: same file again", again, problems, "no upload")

        # Someone creates the key between verify and CompleteMultipartUpload: the 412 keeps the
        # upload open (moto, as S3), so the retry completes the same parts with If-Match.
        key = self.key("multipart-race")
        other = self.file("multipart-theirs.bin", self.data("multipart-theirs", 1000))
        race = self.run_script(path, key, "--part-size", "5MiB",
                               plan={"on": "complete-multipart-upload", "action": "other-writer", "times": 1,
                                     "bodies": [str(other)]})
        theirs = md5(other.read_bytes())
        problems = self.expect_writes(race, "complete-multipart-upload",
                                      ["If-None-Match: *", f"If-Match: {theirs}"])
        if race.rc != 0:
            problems.append(f"exit status {race.rc}, expected 0")
        if len(race.aws("create-multipart-upload")) != 1 or len(race.aws("upload-part")) != 3:
            problems.append("the parts were not reused after the 412 (expected one upload of 3 parts)")
        if [e for _, e in self.versions(key)] != [expected, theirs]:
            problems.append(f"versions {self.versions(key)}, expected ours ({expected}) over theirs")
        if self.open_uploads(key):
            problems.append(f"multipart uploads left open: {self.open_uploads(key)}")
        self.judge("multipart: 412 on CompleteMultipartUpload", race, problems,
                   "same upload completed with If-Match after the conflict")

        # Given up after one refused CompleteMultipartUpload: the upload left open is aborted.
        key = self.key("multipart-give-up")
        given_up = self.run_script(path, key, "--part-size", "5MiB", "--tries", "1",
                                   plan={"on": "complete-multipart-upload", "action": "other-writer",
                                         "times": -1, "bodies": [str(other)]})
        problems = self.expect_writes(given_up, "complete-multipart-upload", ["If-None-Match: *"])
        if given_up.rc != 4:
            problems.append(f"exit status {given_up.rc}, expected 4 (gave up)")
        if len(given_up.aws("abort-multipart-upload")) != 1:
            problems.append("the upload was not aborted")
        if self.open_uploads(key):
            problems.append(f"multipart uploads left open: {self.open_uploads(key)}")
        if self.content(key) != other.read_bytes():
            problems.append("the object is not the other writer's")
        self.judge("multipart: gives up, upload aborted", given_up, problems, "exit 4, no upload left open")

    def test_usage(self) -> None:
        path = self.file("usage.bin", b"x")
        problems = []
        for args in (["--tries", "0", str(path), f"s3://{BUCKET}/k"], [str(path), f"{BUCKET}/k"],
                     [str(self.work / "absent"), f"s3://{BUCKET}/k"], [str(path)]):
            p = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                               env=client_environment(self.home, {"AWS_ENDPOINT_URL": self.url}))
            if p.returncode != 2 or not p.stderr.strip():
                problems.append(f"{shlex.join(args)}: exit {p.returncode}, stderr {p.stderr.strip()!r}")
        if problems:
            self.report.fail("guide", "usage errors", "; ".join(problems))
        else:
            self.report.ok("guide", "usage errors", "exit 2 with a message")

    # ---- the guide's commands ------------------------------------------------------------------

    def test_document(self) -> None:
        self._session("docs/conditional-writes.md", GUIDE.read_text(), "doc", "")

    def test_readme(self) -> None:
        """The README's sections on live S3 and conditional writes, run the same way in a
        directory of their own, after a setup that is not shown (the README's data.bin)."""
        text = README.read_text()
        start, end = text.find(README_FROM), text.find(README_TO)
        if start < 0 or end < start:
            self.report.fail("guide", "README.md", f"sections {README_FROM!r} .. {README_TO!r} not found")
            return
        setup = ("python3 -c \"import random; open('data.bin','wb').write(random.Random(7).randbytes(20_000_000))\"\n"
                 "printf 'first notes\\n' > notes.txt\n")
        self._session("README.md", text[start:end], "readme", setup)

    def _session(self, name: str, text: str, label: str, setup: str) -> None:
        steps = parse_session(text)
        if len(steps) < 10:
            self.report.fail("guide", name, f"only {len(steps)} console commands found")
            return
        # Each document starts from an empty bucket of the name its commands use.
        bucket = boto3.resource("s3", endpoint_url=self.url).Bucket(DOC_BUCKET)
        if bucket.creation_date is None:
            self.s3.create_bucket(Bucket=DOC_BUCKET)
        bucket.objects.all().delete()
        cwd = self.work / label
        cwd.mkdir()
        (cwd / "examples").symlink_to(REPO / "examples")
        bindir = self.work / f"{label}-bin"
        bindir.mkdir()
        home = self.work / f"{label}-home"
        home.mkdir()
        (bindir / "aws").symlink_to(self.aws)
        wrapper = bindir / "etagsum"
        real = shlex.quote(str(self.etagsum))
        wrapper.write_text(
            "#!/bin/sh\n# moto needs path-style addressing\n"
            f'case $1 in verify | check) sub=$1; shift; exec {real} "$sub" --path-style "$@" ;; esac\n'
            f'exec {real} "$@"\n')
        wrapper.chmod(0o755)
        # The marker between commands must not hide the last status from `echo $?`.
        script = setup + "__guide_status=0\n" + "".join(
            f"printf '%s\\n' {shlex.quote(MARK)}\n(exit $__guide_status)\n{s.command}\n__guide_status=$?\n"
            for s in steps)
        path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
        env = client_environment(home, {"AWS_ENDPOINT_URL": self.url, "LC_ALL": "C.UTF-8", "PATH": path})
        p = subprocess.run(["bash", "-c", script + "exit 0\n"], cwd=cwd, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=SCRIPT_TIMEOUT)
        outputs = p.stdout.split(MARK + "\n")[1:]
        transcript = self.work / f"{label}-session.txt"
        transcript.write_text("".join(f"$ {s.command}\n{o}" for s, o in zip(steps, outputs)))
        if len(outputs) != len(steps):
            self.report.fail("guide", name, f"{len(outputs)} outputs for {len(steps)} commands\n{p.stdout[-2000:]}")
            return
        differ = 0
        for step, out in zip(steps, outputs):
            got = [line.rstrip() for line in out.rstrip("\n").split("\n")] if out.strip() else []
            if got != step.output:
                differ += 1
                self.report.fail("guide", f"{name} line {step.line}", f"`{step.command.splitlines()[0]}`\n"
                                 f"expected:\n" + "\n".join("  " + x for x in step.output)
                                 + "\ngot:\n" + "\n".join("  " + x for x in got))
        if not differ:
            self.report.ok("guide", name, f"{len(steps)} commands, each with the output shown ({transcript})")
        else:
            self.report.note(f"# the session as it ran: {transcript}")


@dataclass
class Step:
    line: int
    command: str
    output: list[str]


def parse_session(text: str) -> list[Step]:
    """The commands of the ```console blocks, in order: `$ ` starts a command, `> ` continues it,
    other lines are its expected output (standard output and error)."""
    steps: list[Step] = []
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            inside = line.strip() == "```console"
            continue
        if not inside:
            continue
        if line.startswith("$ "):
            steps.append(Step(number, line[2:], []))
        elif line.startswith("> ") and steps and not steps[-1].output:
            steps[-1].command += "\n" + line[2:]
        elif steps:
            steps[-1].output.append(line.rstrip())
    return steps

