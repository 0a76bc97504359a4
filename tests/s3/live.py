"""Live S3: `etagsum verify FILE s3://B/K` and `etagsum check --root DIR s3://B/PREFIX` against moto's server.

Every command runs with `--endpoint-url http://127.0.0.1:PORT --path-style` and the harness's dummy
credentials from the environment. What is checked, and what the contract (README, docs/verify-rules.md,
the issue) makes each expectation follow from:

- `verify` on objects uploaded by real clients into `tree/`: single PUTs (boto3 put_object, the aws
  cli, s3cmd, rclone, `aws s3 sync`), multipart uploads by `aws s3 cp` at its defaults (8 MiB parts),
  boto3 with 6 MiB, 10,000,000-byte and 5,300,001-byte parts, s3cmd (15 MiB) and rclone (5 MiB), and
  a hand-made upload with uneven parts (5 MiB, 7 MiB, 6 MiB, 1234 B). Each must be OK with the layout
  used, and `--json` must count the S3 requests: one HeadObject when the layout is guessed locally (a
  single PUT, the aws cli's defaults, any catalog or whole MiB/MB part size); 3 for the odd part size
  (HeadObject, then part 1 and part N); for the uneven one HeadObject, parts 1 and N,
  GetObjectAttributes (which lists no parts on moto), then a HeadObject for each other part: every part
  is read once, 1 + 2 + 1 + (N - 2). A copy with one byte changed must be MISMATCH (exit 1; by the
  MD5 or the CRC32 the uploader sent) after the same requests (3 for any uniform multipart layout); a
  file one byte longer or shorter MISMATCH after one.
- SSE-KMS: an object without a checksum is INCONCLUSIVE (exit 3, reason `encrypted`) whatever the
  local bytes; with a CRC32 checksum it is OK by the checksum when the bytes are the same and MISMATCH
  when they differ. SSE-S3 keeps an MD5 ETag: OK.
- A missing key is MISSING (exit 1, `FILE: MISSING (no object s3://B/K)`, JSON verdict `missing` and
  its request count); a missing bucket, a closed port and a silent server (`--timeout`) are errors
  (exit 2) naming the request, the bucket and the key. The endpoint may come from AWS_ENDPOINT_URL_S3
  or AWS_ENDPOINT_URL; `--no-sign-request` reads a server that lets anyone read. The offline facts
  options are refused with an s3:// object (exit 2).
- `--version-id`: the old version of a versioned key (uploaded with odd multipart parts, so the part
  heads must carry the version too) is OK against the old content, the current one MISMATCH; after a
  delete marker the key is MISSING and the old version still OK.
- Denied requests, on a second moto server that enforces IAM (`/moto-api/reset-auth`): a user
  allowed only s3:ListBucket cannot verify (exit 2, naming s3:GetObject); one allowed only s3:GetObject
  can verify but not check (exit 2, naming s3:ListBucket); a wrong secret and an unsigned request are
  errors too. A check whose mismatch cannot be confirmed (HeadObject denied) never reports it as a
  mismatch. The secret never appears in the output. moto checks GetObjectAttributes as s3:GetObject,
  so a denial of s3:GetObjectAttributes alone cannot be made here.
- `check --root DIR s3://B/tree/` on a copy made by `aws s3 sync`: every object OK, in listing order,
  the odd and uneven ones settled by part-number requests. Then one byte changed, one file deleted and
  one added: exactly MISMATCH (confirmed by one HeadObject), MISSING and EXTRA, exit 1, in JSON and in
  text; `--jobs 1` and `--jobs 8` agree; `--shard K/3` adds up to the unsharded run. A prefix with an
  SSE-KMS object whose local copy differs is INCONCLUSIVE (the HeadObject confirmation), one with a
  KMS object whose CRC32 differs MISMATCH; 1,100 keys (more than one ListObjectsV2 page) are all OK.
- `check --root DIR --listing s3://B/.../manifest.json`: the S3 Inventory reports of inventory.py
  (CSV and Parquet, versions, delete markers, encrypted rows), read straight from their bucket. Its
  encrypted objects carry boto3's CRC32, so where their local copies differ the checksum HeadObject
  shows makes them MISMATCH; one more report adds an SSE-KMS object without a checksum, which must
  stay INCONCLUSIVE. A manifest whose data file is not in the bucket is refused (exit 2) naming it.

Run alone with `.venv/bin/python tests/s3/run.py --etagsum target/release/etagsum --live-only`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

import inventory
from checks import ETAGSUM_TIMEOUT, Reporter, Run, layout_problem, normalize_etag
from clients import CASES, Case, Clients, make_boto3_client, read_remote, upload_parts
from datafiles import MIB, Layout, etag_for_layout
from listings import ODD_CASE, flip_byte, generate, make_aws
from server import HOST, REGION, MotoServer, forwarding_proxy, free_port
from verdicts import Expect, json_lines, judge_failure, judge_json, judge_lines, judge_shards

BUCKET = "etagsum-live"
VERSIONED = "etagsum-live-versions"
NO_SUCH_BUCKET = "etagsum-live-no-such-bucket"
DENIED = "etagsum-live-denied"
INVENTORY_SOURCE = "etagsum-live-inventory-src"
INVENTORY_DEST = "etagsum-live-inventory-dest"
TREE = "tree/"
MANY = 1100
UNEVEN_PARTS = [5 * MIB, 7 * MIB, 6 * MIB, 1234]
EXIT = {"match": 0, "mismatch": 1, "missing": 1, "inconclusive": 3}
WORD = {"match": "OK", "mismatch": "MISMATCH", "missing": "MISSING", "inconclusive": "INCONCLUSIVE"}
CRASH_MARKERS = ("panicked", "Traceback", "RUST_BACKTRACE", "stack backtrace")
# The reasons of a mismatch of the bytes: the MD5 differs, or the additional checksum does (an object
# uploaded by boto3 or the aws cli has a CRC32, which HeadObject shows); either is evidence.
DIFFERS = ("digest_differs", "checksum_differs")

CASE = {c.name: c for c in CASES} | {ODD_CASE.name: ODD_CASE}
CASE["boto3-6MiB"] = Case("boto3-6MiB", "boto3", "TransferConfig(multipart_chunksize=6 MiB)", 8 * MIB, 6 * MIB,
                          transfer={"multipart_chunksize": 6 * MIB})


@dataclass(frozen=True)
class Obj:
    """One object of `tree/`: key below the prefix, size, uploader (a case of clients.py, `sync` for
    `aws s3 sync` at the cli's defaults, `put` for boto3 put_object, `uneven` for UNEVEN_PARTS), and
    the requests `verify` makes for it: when the file is the same, and when one byte differs."""

    name: str
    size: int
    uploader: str
    requests: int
    corrupt_requests: int

    @property
    def key(self) -> str:
        return TREE + self.name

    def layout(self) -> Layout:
        if self.uploader == "put":
            return Layout.single()
        if self.uploader == "uneven":
            return Layout.explicit(UNEVEN_PARTS)
        return CASE["aws-default" if self.uploader == "sync" else self.uploader].expect(self.size)


# A mismatch found with part sizes read from part-number HeadObjects is confirmed with one more
# HeadObject when those answers did not carry the object's ETag (the object may have been replaced
# meanwhile). S3's answers carry it; moto's carry each part's own MD5, so on moto the confirmation
# is always made.
MOTO_CONFIRM = 1

# A one-part object settles with its HeadObject. A multipart one whose part size the local guess finds
# (catalog, whole MiB or MB: docs/verify-rules.md "Guessing the part size") also; with one byte changed
# no guess reproduces the ETag, so part 1 and part N are read: 3. The odd part size is never guessed: 3
# either way. Uneven parts: HeadObject, parts 1 and N, GetObjectAttributes (no parts on moto), then a
# HeadObject for each part not yet read: every part is read once.
UNEVEN_REQUESTS = 1 + 2 + 1 + (len(UNEVEN_PARTS) - 2)
OBJECTS = [
    Obj("sync/hello world.txt", 11, "sync", 1, 1),
    Obj("sync/ünïcödé/файл 1.bin", 1000, "sync", 1, 1),
    Obj("sync/a+b=c&d.bin", 5000, "sync", 1, 1),
    Obj("sync/empty", 0, "sync", 1, 1),
    Obj("aws/small.bin", 2 * MIB + 3, "aws-default", 1, 1),
    Obj("aws/multipart.bin", 17 * MIB + 5, "aws-default", 1, 3 + MOTO_CONFIRM),
    Obj("boto3/put.bin", 3000, "put", 1, 1),
    Obj("boto3/six MiB parts.bin", 13 * MIB + 1, "boto3-6MiB", 1, 3 + MOTO_CONFIRM),
    Obj("boto3/ten MB parts.bin", 21_000_000, "boto3-10MB", 1, 3 + MOTO_CONFIRM),
    Obj("boto3/odd parts.bin", 11_000_000, "boto3-odd", 3, 3 + MOTO_CONFIRM),
    Obj("s3cmd/sixteen.bin", 16 * MIB + 1, "s3cmd-default", 1, 3 + MOTO_CONFIRM),
    Obj("s3cmd/small (1).txt", 100, "s3cmd-default", 1, 1),
    Obj("rclone/seven ~ mib.bin", 7 * MIB, "rclone-5M", 1, 3 + MOTO_CONFIRM),
    Obj("rclone/tiny.txt", 3, "rclone-default", 1, 1),
    Obj("lowlevel/uneven.bin", sum(UNEVEN_PARTS), "uneven", UNEVEN_REQUESTS, UNEVEN_REQUESTS + MOTO_CONFIRM),
]
# The tree check's changes: one byte of a single PUT (a definitive MD5, confirmed by one HeadObject),
# one file deleted, one added.
CHANGED = "sync/hello world.txt"
DELETED = "s3cmd/small (1).txt"
ADDED = "new file.txt"


def run_live_tests(harness, present: set[str]) -> None:
    LiveTests(harness, present).run()


def run_command(binary: Path, args, env: dict[str, str] | None = None) -> tuple[Run, float]:
    """etagsum with these arguments (and environment); the finished run and its wall time."""
    cmd = [str(binary), *map(str, args)]
    started = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                           timeout=ETAGSUM_TIMEOUT)
        run = Run(cmd, p.returncode, p.stdout, p.stderr)
    except subprocess.TimeoutExpired as e:
        run = Run(cmd, -1, _text(e.stdout), f"(timed out after {ETAGSUM_TIMEOUT} s)")
    return run, time.monotonic() - started


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def crash(run: Run) -> str | None:
    text = run.stdout + run.stderr
    return next((m for m in CRASH_MARKERS if m in text), None)


@contextmanager
def inventory_buckets(source: str, dest: str):
    """inventory.py names its buckets in module constants; this run's reports go to buckets of its own,
    so that they never meet the tree checks' buckets on the same server."""
    saved = inventory.SOURCE, inventory.DEST
    inventory.SOURCE, inventory.DEST = source, dest
    try:
        yield
    finally:
        inventory.SOURCE, inventory.DEST = saved


class LiveTests:
    def __init__(self, harness, present: set[str]):
        self.h = harness
        self.report: Reporter = harness.report
        self.binary = harness.args.etagsum.resolve()
        self.url = harness.server.url
        self.s3 = harness.s3
        self.seed = harness.args.seed
        self.present = present
        self.venv_bin = harness.args.venv / "bin"
        self.work = harness.workdir / "live"
        self.work.mkdir()
        self.src = self.work / "src"
        self.aws = make_aws(self.venv_bin, self.url, self.work)
        # A boto3 client that sends no checksum of its own (botocore adds CRC32 by default): for the
        # SSE-KMS objects that must have none.
        self.s3_bare = boto3.client(
            "s3", endpoint_url=self.url, region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                          request_checksum_calculation="when_required"))
        self.remote: dict[str, str] = {}  # key -> ETag (quotes stripped), as the server reports it
        self.requests: list[tuple[str, int]] = []  # what --json counted, for the closing note

    def s3_options(self, url: str | None = None) -> list[str]:
        return ["--endpoint-url", url or self.url, "--path-style"]

    def etagsum(self, *args, env: dict[str, str] | None = None) -> Run:
        return run_command(self.binary, args, env)[0]

    def verify(self, path: Path, bucket: str, key: str, *extra: str, json_out: bool = True,
               env: dict[str, str] | None = None, url: str | None = None) -> Run:
        return self.etagsum("verify", path, f"s3://{bucket}/{key}", *extra, *self.s3_options(url),
                            *(("--json",) if json_out else ()), env=env)

    # ---- the run ---------------------------------------------------------------------------------

    def run(self) -> None:
        g = self.h._guarded
        need = {"aws", "boto3", "s3cmd", "rclone"} - self.present
        if need:
            self.report.fail("live", "setup", f"needs {sorted(need)} (reported missing above)")
            return
        ready = []
        g("live: fill the bucket", lambda: ready.append(self.fill()))
        if ready and ready[0]:
            g("live: verify every upload", self.test_verify_uploads)
            g("live: verify, changed files", self.test_verify_changed)
            g("live: verify, text output", self.test_verify_text)
            g("live: verify a stream (standard input)", self.test_verify_stream)
            g("live: verify, endpoint and signing", self.test_endpoint_options)
        g("live: verify, encryption", self.test_encryption)
        g("live: verify, missing objects and errors", self.test_missing_and_errors)
        g("live: verify, versions", self.test_versions)
        g("live: verify, an object replaced while it is checked", self.test_replaced_meanwhile)
        g("live: denied requests", self.test_denied)
        if ready and ready[0]:
            g("live: check a prefix", self.test_check_tree)
        g("live: check, encrypted objects", self.test_check_encrypted)
        g("live: check, more than one page", self.test_check_many)
        g("live: check an inventory in S3", self.test_inventory)
        if self.requests:
            ones = sum(n == 1 for _, n in self.requests)
            more = [f"{subject} {n}" for subject, n in self.requests if n != 1]
            self.report.note(f"# live requests counted by --json (passed checks): {ones} runs made 1"
                             + (", " + ", ".join(more) if more else ""))

    # ---- the bucket ------------------------------------------------------------------------------

    def fill(self) -> bool:
        """Upload `tree/` with every client, read each object back and check the harness's view of it
        (the layout read back reproduces the server's ETag and is the one asked for)."""
        self.s3.create_bucket(Bucket=BUCKET)
        for o in OBJECTS:
            generate(self.src / o.name, o.size, f"{self.seed}:live:{o.name}")
        sync = self.src / "sync"
        self.aws("s3", "sync", sync, f"s3://{BUCKET}/{TREE}sync/", "--only-show-errors", "--no-progress")
        clients = Clients(self.venv_bin, self.url, BUCKET, self.work / "clients")
        for o in OBJECTS:
            if o.uploader == "put":
                self.s3.put_object(Bucket=BUCKET, Key=o.key, Body=(self.src / o.name).read_bytes())
            elif o.uploader == "uneven":
                upload_parts(self.s3, BUCKET, o.key, self.src / o.name, UNEVEN_PARTS)
            elif o.uploader != "sync":
                clients.upload(CASE[o.uploader], self.src / o.name, o.key)
        problems = []
        for o in OBJECTS:
            remote = read_remote(self.s3, BUCKET, o.key)
            layout = o.layout()
            if o.uploader == "uneven" and remote.layout == Layout.multipart(UNEVEN_PARTS[0], len(UNEVEN_PARTS)):
                remote_layout = layout  # part 1 and the count agree; the ETag below checks the rest
            else:
                remote_layout = remote.layout
            computed = etag_for_layout(self.src / o.name, layout)
            if remote.size != o.size or remote_layout != layout or computed != remote.etag:
                problems.append(f"{o.key} ({o.uploader}): server has {remote.size} bytes, layout "
                                f"{remote.layout}, ETag {remote.etag}; expected {o.size} bytes, layout {layout}, "
                                f"which gives {computed}")
            self.remote[o.key] = remote.etag
        if problems:
            self.report.fail("live-upload", f"{len(OBJECTS)} objects", "; ".join(problems))
            return False
        self.report.ok("live-upload", f"{len(OBJECTS)} objects in s3://{BUCKET}/{TREE}", ", ".join(
            f"{o.uploader} {o.layout()}" for o in OBJECTS if o.layout().kind != "single"))
        return True

    # ---- judging verify --------------------------------------------------------------------------

    def judge_verify(self, check: str, subject: str, run: Run, bucket: str, key: str, verdict: str, *,
                     requests: int | tuple[int, int] | None = None,
                     reason_code: str | tuple[str, ...] | None = None, etag: str | None = None,
                     layout: Layout | None = None, size: int | None = None) -> dict | None:
        """`verify FILE s3://... --json`: one JSON object with this verdict and its exit status, the
        object named, the requests counted (exactly `requests` when given), and for a match the
        computed ETag equal to the server's and the layout used. `requests` is a count or a range."""
        try:
            obj = run.json_line()
        except ValueError as e:
            self.report.fail(check, subject, f"unreadable --json output ({e})\n{run.describe()}")
            return None
        p = []
        if obj.get("verdict") != verdict:
            p.append(f"verdict {obj.get('verdict')!r} ({obj.get('reason')!r}), expected {verdict!r}")
        if run.rc != EXIT[verdict]:
            p.append(f"exit status {run.rc}, expected {EXIT[verdict]}")
        if obj.get("object") != f"s3://{bucket}/{key}":
            p.append(f"object {obj.get('object')!r}, expected {f's3://{bucket}/{key}'!r}")
        n = obj.get("requests")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            p.append(f"requests {n!r}, expected a count of at least 1")
        elif isinstance(requests, int) and n != requests:
            p.append(f"requests {n}, expected {requests}")
        elif isinstance(requests, tuple) and not requests[0] <= n <= requests[1]:
            p.append(f"requests {n}, expected {requests[0]} to {requests[1]}")
        codes = (reason_code,) if isinstance(reason_code, str) else reason_code
        if codes and obj.get("reason_code") not in codes:
            p.append(f"reason_code {obj.get('reason_code')!r}, expected {' or '.join(codes)}")
        if etag is not None and normalize_etag(str(obj.get("remote_etag"))) != normalize_etag(etag):
            p.append(f"remote_etag {obj.get('remote_etag')!r}, the server's is {etag!r}")
        if verdict == "match":
            computed = obj.get("computed_etag")
            if etag is not None and reason_code != "checksum_equal" and \
                    normalize_etag(str(computed)) != normalize_etag(etag):
                p.append(f"computed_etag {computed!r} is not the server's ETag {etag!r}")
            if layout is not None and size is not None:
                problem = layout_problem(obj.get("layout"), layout, size)
                if problem:
                    p.append(problem)
        elif verdict == "mismatch" and etag is not None and obj.get("computed_etag") is not None:
            if normalize_etag(str(obj.get("computed_etag"))) == normalize_etag(etag):
                p.append("computed_etag equals the remote ETag, yet the verdict is mismatch")
        if verdict != "match" and not str(obj.get("reason") or "").strip():
            p.append("empty reason")
        if crash(run):
            p.append(f"crash marker {crash(run)!r} in the output")
        if p:
            self.report.fail(check, subject, "; ".join(p) + "\n" + run.describe())
        else:
            self.requests.append((f"{check}:{subject.split(' (')[0]}", n))
            self.report.ok(check, subject, f"{verdict} ({obj.get('reason_code')}), {n} request(s)"
                           + (f", layout {json.dumps(obj.get('layout'))}" if verdict == "match" else ""))
        return obj

    def judge_text(self, check: str, subject: str, run: Run, path: Path, verdict: str,
                   exact: str | None = None) -> None:
        """The line form: one line `FILE: WORD (...)` (or exactly `exact`) and the verdict's status."""
        lines = run.stdout.splitlines()
        head = f"{path}: {WORD[verdict]}"
        fits = len(lines) == 1 and (lines[0] == exact if exact else
                                    lines[0] == head or lines[0].startswith(head + " "))
        if fits and run.rc == EXIT[verdict]:
            self.report.ok(check, subject, f"{lines[0].removeprefix(f'{path}: ')[:120]}; exit {run.rc}")
        else:
            want = repr(exact) if exact else f"one line starting {head!r}"
            self.report.fail(check, subject, f"expected {want} and exit {EXIT[verdict]}\n{run.describe()}")

    def judge_error(self, check: str, subject: str, run: Run, names: list[str], secret: str | None = None,
                    within: float | None = None, elapsed: float | None = None, first_line: str = "") -> None:
        """A failure that is no verdict: exit 2, no verdict on stdout, a message on stderr naming each
        of `names` (and `first_line` in its first line); never the secret; within `within` seconds."""
        p = []
        if run.rc != 2:
            p.append(f"exit status {run.rc}, expected 2")
        first = next((line for line in run.stderr.splitlines() if line.strip()), "")
        if first_line and first_line not in first:
            p.append(f"the message's first line does not name {first_line!r}")
        said = [w for w in WORD.values() if f": {w}" in run.stdout] + \
               [v for v in EXIT if f'"verdict":"{v}"' in run.stdout.replace(" ", "")]
        if said:
            p.append(f"a verdict on stdout: {said}")
        absent = [n for n in names if n not in run.stderr]
        if absent:
            p.append(f"stderr does not name {absent}")
        if secret and (secret in run.stdout or secret in run.stderr):
            p.append("the secret access key appears in the output")
        if crash(run):
            p.append(f"crash marker {crash(run)!r} in the output")
        if within is not None and elapsed is not None and elapsed > within:
            p.append(f"took {elapsed:.1f} s, expected at most {within:.0f} s")
        if p:
            self.report.fail(check, subject, "; ".join(p) + "\n" + run.describe())
        else:
            took = f" in {elapsed:.1f} s" if elapsed is not None else ""
            self.report.ok(check, subject, f"exit 2{took}: {first.strip()[:200]}")

    # ---- verify ----------------------------------------------------------------------------------

    def test_verify_uploads(self) -> None:
        """Every upload OK, with the layout used and the requests the contract allows."""
        for o in OBJECTS:
            run = self.verify(self.src / o.name, BUCKET, o.key)
            self.judge_verify("live-verify", f"{o.key} ({o.uploader})", run, BUCKET, o.key, "match",
                              requests=o.requests, etag=self.remote[o.key], layout=o.layout(), size=o.size)

    def _variant(self, o: Obj, how: str) -> Path:
        """A changed copy of the object's file: `flip` one byte, `append` one byte, `truncate` one."""
        path = self.work / "changed" / f"{how}-{o.name.replace('/', '_')}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = bytearray((self.src / o.name).read_bytes())
        if how == "flip":
            data[random.Random(f"{self.seed}:live-flip:{o.name}").randrange(len(data))] ^= 0x01
        elif how == "append":
            data.append(0)
        else:
            del data[-1]
        path.write_bytes(data)
        return path

    def test_verify_changed(self) -> None:
        """One byte flipped: MISMATCH (a multipart object after its part-number requests). One byte more
        or less: MISMATCH by the size HeadObject gave."""
        for o in OBJECTS:
            if o.size == 0:
                continue
            run = self.verify(self._variant(o, "flip"), BUCKET, o.key)
            self.judge_verify("live-corrupt", f"{o.key} ({o.uploader}), one byte flipped", run, BUCKET, o.key,
                              "mismatch", requests=o.corrupt_requests, etag=self.remote[o.key],
                              reason_code=DIFFERS)
        for name, how in (("boto3/put.bin", "append"), ("aws/multipart.bin", "truncate"),
                          ("lowlevel/uneven.bin", "append")):
            o = next(x for x in OBJECTS if x.name == name)
            run = self.verify(self._variant(o, how), BUCKET, o.key)
            self.judge_verify("live-size", f"{o.key}, one byte {'more' if how == 'append' else 'less'}", run,
                              BUCKET, o.key, "mismatch", requests=1, reason_code="size_differs",
                              etag=self.remote[o.key])

    def test_verify_stream(self) -> None:
        """`verify - s3://...` reads its input once: the layout of a multipart object is read from S3
        before the stream (HeadObject, then part 1 and part N, and every part for uneven parts), and
        the same file gives the same verdict as by name; one byte flipped is a MISMATCH."""
        for o in OBJECTS:
            if o.size == 0:
                continue
            multipart = "-" in self.remote[o.key]
            uneven = o.uploader == "uneven"
            parts = int(self.remote[o.key].rsplit("-", 1)[1]) if multipart else 1
            want = 1 if not multipart else (parts + 2 if uneven else (2 if parts == 1 else 3))
            for how, verdict in (("same", "match"), ("flip", "mismatch")):
                if how == "flip" and multipart:
                    want += MOTO_CONFIRM
                path = self.src / o.name if how == "same" else self._variant(o, "flip")
                cmd = [str(self.binary), "verify", "-", f"s3://{BUCKET}/{o.key}", *self.s3_options(), "--json"]
                with open(path, "rb") as f:
                    try:
                        p = subprocess.run(cmd, stdin=f, capture_output=True, text=True, timeout=ETAGSUM_TIMEOUT)
                        run = Run(cmd, p.returncode, p.stdout, p.stderr)
                    except subprocess.TimeoutExpired as e:
                        run = Run(cmd, -1, _text(e.stdout), f"(timed out after {ETAGSUM_TIMEOUT} s)")
                self.judge_verify("live-stream", f"{o.key} ({o.uploader}) from standard input, {how}", run,
                                  BUCKET, o.key, verdict, requests=want, etag=self.remote[o.key],
                                  layout=o.layout() if verdict == "match" else None, size=o.size,
                                  reason_code=None if verdict == "match" else DIFFERS)

    def test_verify_text(self) -> None:
        o = next(x for x in OBJECTS if x.name == "aws/multipart.bin")
        run = self.verify(self.src / o.name, BUCKET, o.key, json_out=False)
        self.judge_text("live-text", f"{o.key} OK", run, self.src / o.name, "match")
        path = self._variant(o, "flip")
        run = self.verify(path, BUCKET, o.key, json_out=False)
        self.judge_text("live-text", f"{o.key} one byte flipped", run, path, "mismatch")

    def test_endpoint_options(self) -> None:
        """The endpoint from AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL instead of --endpoint-url;
        --no-sign-request on a server that lets anyone read; the offline facts options refused."""
        o = next(x for x in OBJECTS if x.name == "aws/multipart.bin")
        path = self.src / o.name
        for var in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
            env = dict(os.environ, **{var: self.url})
            run = self.etagsum("verify", path, f"s3://{BUCKET}/{o.key}", "--path-style", "--json", env=env)
            self.judge_verify("live-endpoint", f"{var} in the environment", run, BUCKET, o.key, "match",
                              requests=1, etag=self.remote[o.key], layout=o.layout(), size=o.size)
        run = self.verify(path, BUCKET, o.key, "--no-sign-request")
        self.judge_verify("live-unsigned", "--no-sign-request (moto lets anyone read)", run, BUCKET, o.key,
                          "match", requests=1, etag=self.remote[o.key], layout=o.layout(), size=o.size)
        for option in (["--part-size", "8MiB"], ["--size", str(o.size)], ["--sse", "kms"],
                       ["--checksum", "crc32=AAAAAA=="], ["--part-sizes", "8388608,8388608,1048581"]):
            run = self.verify(path, BUCKET, o.key, *option)
            self.judge_error("live-refused", f"{option[0]} with s3://", run, [option[0]], first_line=option[0])

    # ---- encryption ------------------------------------------------------------------------------

    def test_encryption(self) -> None:
        """SSE-KMS without a checksum: INCONCLUSIVE whatever the bytes. With CRC32: the checksum
        decides, OK or MISMATCH. SSE-S3: an MD5 ETag, OK."""
        self._ensure_bucket()
        d = self.work / "sse"
        same, other = d / "same.bin", d / "other.bin"
        generate(same, 3000, f"{self.seed}:live:kms")
        other.write_bytes(bytes(b ^ 0x5A for b in same.read_bytes()))
        body = same.read_bytes()
        self.s3_bare.put_object(Bucket=BUCKET, Key="sse/kms.bin", Body=body, ServerSideEncryption="aws:kms")
        self.s3.put_object(Bucket=BUCKET, Key="sse/kms-crc32.bin", Body=body, ServerSideEncryption="aws:kms",
                           ChecksumAlgorithm="CRC32")
        self.s3_bare.put_object(Bucket=BUCKET, Key="sse/s3.bin", Body=body, ServerSideEncryption="AES256")
        heads = {k: self.s3.head_object(Bucket=BUCKET, Key=k, ChecksumMode="ENABLED")
                 for k in ("sse/kms.bin", "sse/kms-crc32.bin", "sse/s3.bin")}
        problems = []
        for key, sse, crc in (("sse/kms.bin", "aws:kms", False), ("sse/kms-crc32.bin", "aws:kms", True),
                              ("sse/s3.bin", "AES256", False)):
            h = heads[key]
            if h.get("ServerSideEncryption") != sse or bool(h.get("ChecksumCRC32")) != crc:
                problems.append(f"{key}: ServerSideEncryption {h.get('ServerSideEncryption')!r}, "
                                f"ChecksumCRC32 {h.get('ChecksumCRC32')!r}; expected {sse}, "
                                f"{'a' if crc else 'no'} CRC32")
        if problems:
            raise AssertionError("; ".join(problems))
        etag = {k: h["ETag"].strip('"') for k, h in heads.items()}
        j = self.judge_verify
        for path, what in ((other, "other bytes"), (same, "the same bytes")):
            run = self.verify(path, BUCKET, "sse/kms.bin")
            j("live-kms", f"sse/kms.bin (SSE-KMS, no checksum), {what}", run, BUCKET, "sse/kms.bin",
              "inconclusive", requests=1, reason_code="encrypted", etag=etag["sse/kms.bin"])
        run = self.verify(other, BUCKET, "sse/kms.bin", json_out=False)
        self.judge_text("live-kms", "sse/kms.bin, other bytes, text", run, other, "inconclusive")
        run = self.verify(same, BUCKET, "sse/kms-crc32.bin")
        j("live-kms", "sse/kms-crc32.bin (SSE-KMS, CRC32), the same bytes", run, BUCKET, "sse/kms-crc32.bin",
          "match", requests=1, reason_code="checksum_equal", etag=etag["sse/kms-crc32.bin"])
        run = self.verify(other, BUCKET, "sse/kms-crc32.bin")
        j("live-kms", "sse/kms-crc32.bin (SSE-KMS, CRC32), other bytes", run, BUCKET, "sse/kms-crc32.bin",
          "mismatch", requests=1, reason_code="checksum_differs", etag=etag["sse/kms-crc32.bin"])
        run = self.verify(same, BUCKET, "sse/s3.bin")
        j("live-sse-s3", "sse/s3.bin (SSE-S3), the same bytes", run, BUCKET, "sse/s3.bin", "match", requests=1,
          etag=etag["sse/s3.bin"], layout=Layout.single(), size=3000)
        run = self.verify(other, BUCKET, "sse/s3.bin")
        j("live-sse-s3", "sse/s3.bin (SSE-S3), other bytes", run, BUCKET, "sse/s3.bin", "mismatch", requests=1,
          reason_code="digest_differs", etag=etag["sse/s3.bin"])

    def _ensure_bucket(self) -> None:
        """The live bucket, also when filling it failed before it was made."""
        try:
            self.s3.head_bucket(Bucket=BUCKET)
        except self.s3.exceptions.ClientError:
            self.s3.create_bucket(Bucket=BUCKET)

    # ---- missing objects and failures ---------------------------------------------------------------

    def test_missing_and_errors(self) -> None:
        self._ensure_bucket()
        path = self.work / "missing" / "local.bin"
        generate(path, 500, f"{self.seed}:live:missing")
        key = "tree/no such key.bin"
        run = self.verify(path, BUCKET, key)
        # HeadObject's 404 has no body: one more request (HeadBucket) may tell a missing key from a
        # missing bucket.
        self.judge_verify("live-missing", f"s3://{BUCKET}/{key}", run, BUCKET, key, "missing", requests=(1, 2))
        run = self.verify(path, BUCKET, key, json_out=False)
        self.judge_text("live-missing", "text", run, path, "missing",
                        exact=f"{path}: MISSING (no object s3://{BUCKET}/{key})")

        for json_out in (True, False):
            run = self.verify(path, NO_SUCH_BUCKET, "some/key.bin", json_out=json_out)
            self.judge_error("live-no-bucket", f"verify{' --json' if json_out else ''}", run,
                             ["HeadObject", NO_SUCH_BUCKET, "some/key.bin"])
        run = self.etagsum("check", "--root", path.parent, f"s3://{NO_SUCH_BUCKET}/some/", *self.s3_options())
        self.judge_error("live-no-bucket", "check", run, ["ListObjectsV2", NO_SUCH_BUCKET])
        # A prefix under which nothing is listed is most often a typo: never a clean pass.
        run = self.etagsum("check", "--root", path.parent, f"s3://{BUCKET}/no such prefix", *self.s3_options())
        self.judge_error("live-empty-prefix", "check of a prefix with no object", run,
                         [f"s3://{BUCKET}/no such prefix", "no object under this prefix"])
        # A version that does not exist is an error, never MISSING (the key may well exist).
        run = self.verify(path, BUCKET, "tree/boto3/put.bin", "--version-id", "no-such-version")
        self.judge_error("live-missing", "--version-id of no version", run, ["no such version", "put.bin"])

        # Nothing listens on this port: refused at once, each retry too.
        closed = f"http://{HOST}:{free_port()}"
        run, took = run_command(self.binary, ["verify", path, f"s3://{BUCKET}/k.bin", *self.s3_options(closed),
                                              "--max-attempts", "2", "--timeout", "20"])
        self.judge_error("live-endpoint", f"closed port {closed}", run, ["HeadObject", BUCKET, "k.bin"], within=30,
                         elapsed=took)
        # A server that accepts the connection and never answers: --timeout ends it.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
            silent.bind((HOST, 0))
            silent.listen(16)
            url = f"http://{HOST}:{silent.getsockname()[1]}"
            run, took = run_command(self.binary, ["verify", path, f"s3://{BUCKET}/k.bin", *self.s3_options(url),
                                                  "--max-attempts", "1", "--timeout", "3"])
        self.judge_error("live-timeout", "--timeout 3 against a silent server", run, ["HeadObject", BUCKET, "k.bin"],
                         within=20, elapsed=took)

    # ---- versions --------------------------------------------------------------------------------

    def test_replaced_meanwhile(self) -> None:
        """A concurrent writer replaces the object with the same bytes at another part size, between
        the first HeadObject and the part-number requests (a proxy in front of the server does it
        when the first part request comes): the parts read are the new object's, the ETag the old
        one's, so the local file, equal to both, would look like a mismatch. It must never be one:
        the change is found and said (exit 2), and the same command afterwards says OK."""
        self._ensure_bucket()
        data = random.Random(f"{self.seed}:race").randbytes(20_000_000)
        path = self.work / "race" / "same.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        key = "race/same.bin"
        client = make_boto3_client(self.url)

        def upload(part_size: int) -> None:
            upload_parts(client, BUCKET, key, path, [part_size] * (len(data) // part_size)
                         + ([len(data) % part_size] if len(data) % part_size else []))

        replaced = []
        lock = threading.Lock()

        def before(method: str, target: str) -> None:
            if method == "HEAD" and "partNumber" in target:
                # Every part request waits until the object is replaced: all read the new one.
                with lock:
                    if not replaced:
                        replaced.append(target)
                        upload(replacement[0])

        replacement = [0]
        proxy = forwarding_proxy(self.url, before)
        try:
            url = f"http://{HOST}:{proxy.server_address[1]}"
            # 4 parts of 5,500,001 bytes, as many as the first upload's: the parts read add up, the
            # confirming HeadObject finds the new ETag. 3 parts of 7,000,001: the part count the
            # store gives is not the ETag's, and the layout is not trusted.
            for part_size, parts, verdict in ((5_500_001, 4, None), (7_000_001, 3, "inconclusive")):
                upload(6_123_457)
                replaced.clear()
                replacement[0] = part_size
                run = self.verify(path, BUCKET, key, url=url)
                subject = f"replaced during the part requests by {parts} parts"
                if not replaced:
                    self.report.fail("live-race", subject, "etagsum made no part-number request: the race "
                                     "did not happen\n" + run.describe())
                elif verdict is None:
                    self.judge_error("live-race", subject, run,
                                     [f"s3://{BUCKET}/{key}", "changed while it was being checked"])
                else:
                    self.judge_verify("live-race", subject, run, BUCKET, key, verdict, requests=3)
        finally:
            proxy.shutdown()
            proxy.server_close()
        run = self.verify(path, BUCKET, key)
        self.judge_verify("live-race", "the same command afterwards", run, BUCKET, key, "match", requests=3,
                          etag=client.head_object(Bucket=BUCKET, Key=key)["ETag"])

    def test_versions(self) -> None:
        """Two versions of a key: the old one (odd multipart parts) by its id is OK against the old
        content; the current one is MISMATCH against it; after a delete marker, MISSING."""
        s3 = self.s3
        s3.create_bucket(Bucket=VERSIONED)
        s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        d = self.work / "versions"
        old, new = d / "old.bin", d / "new.bin"
        generate(old, 11_000_000, f"{self.seed}:live:v1")
        generate(new, 4000, f"{self.seed}:live:v2")
        key = "doc/report.bin"
        s3.upload_file(str(old), VERSIONED, key, Config=TransferConfig(**ODD_CASE.transfer))
        v1 = s3.head_object(Bucket=VERSIONED, Key=key)
        s3.put_object(Bucket=VERSIONED, Key=key, Body=new.read_bytes())
        v2 = s3.head_object(Bucket=VERSIONED, Key=key)
        old_layout = ODD_CASE.expect(11_000_000)
        e1, e2 = v1["ETag"].strip('"'), v2["ETag"].strip('"')
        if etag_for_layout(old, old_layout) != e1 or etag_for_layout(new, Layout.single()) != e2 \
                or v1["VersionId"] == v2["VersionId"]:
            raise AssertionError(f"versions not as assumed: {v1['VersionId']} {e1}, {v2['VersionId']} {e2}")
        j = self.judge_verify
        vid = v1["VersionId"]
        run = self.verify(old, VERSIONED, key, "--version-id", vid)
        j("live-version", f"old content, --version-id {vid}", run, VERSIONED, key, "match", requests=3,
          etag=e1, layout=old_layout, size=11_000_000)
        run = self.verify(old, VERSIONED, key)
        j("live-version", "old content, current version", run, VERSIONED, key, "mismatch", requests=1,
          reason_code="size_differs", etag=e2)
        run = self.verify(new, VERSIONED, key)
        j("live-version", "new content, current version", run, VERSIONED, key, "match", requests=1, etag=e2,
          layout=Layout.single(), size=4000)
        run = self.verify(new, VERSIONED, key, "--version-id", vid)
        j("live-version", "new content, --version-id of the old", run, VERSIONED, key, "mismatch", requests=1,
          reason_code="size_differs", etag=e1)
        # Same size, other bytes: the digest decides between two single-PUT versions.
        same_key = "doc/same size.txt"
        a, b = d / "a.txt", d / "b.txt"
        generate(a, 700, f"{self.seed}:live:a")
        generate(b, 700, f"{self.seed}:live:b")
        va = s3.put_object(Bucket=VERSIONED, Key=same_key, Body=a.read_bytes())["VersionId"]
        s3.put_object(Bucket=VERSIONED, Key=same_key, Body=b.read_bytes())
        run = self.verify(a, VERSIONED, same_key, "--version-id", va)
        j("live-version", "same size, old content, --version-id", run, VERSIONED, same_key, "match", requests=1,
          layout=Layout.single(), size=700)
        run = self.verify(a, VERSIONED, same_key)
        j("live-version", "same size, old content, current version", run, VERSIONED, same_key, "mismatch",
          requests=1, reason_code=DIFFERS)
        s3.delete_object(Bucket=VERSIONED, Key=key)
        run = self.verify(new, VERSIONED, key)
        j("live-version", "after a delete marker", run, VERSIONED, key, "missing", requests=(1, 2))
        run = self.verify(old, VERSIONED, key, "--version-id", vid)
        j("live-version", "after a delete marker, --version-id of the old", run, VERSIONED, key, "match",
          requests=3, etag=e1, layout=old_layout, size=11_000_000)

    # ---- denied requests -------------------------------------------------------------------------

    def test_denied(self) -> None:
        """A second moto server that checks IAM policies once set up."""
        server = MotoServer(self.venv_bin / "moto_server", self.work / "moto-iam.log")
        server.start()
        try:
            self._denied(server)
        finally:
            server.stop()

    def _denied(self, server: MotoServer) -> None:
        s3 = make_boto3_client(server.url)
        iam = boto3.client("iam", endpoint_url=server.url, region_name=REGION)
        s3.create_bucket(Bucket=DENIED)
        d = self.work / "denied"
        generate(d / "a.bin", 2000, f"{self.seed}:live:denied-a")
        generate(d / "b.bin", 2000, f"{self.seed}:live:denied-b")
        for name in ("a.bin", "b.bin"):
            s3.put_object(Bucket=DENIED, Key=name, Body=(d / name).read_bytes())
        keys = {}
        for user, actions in (("list-only", ["s3:ListBucket"]), ("get-only", ["s3:GetObject"])):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="only", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
            k = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (k["AccessKeyId"], k["SecretAccessKey"])
        # From now on every request is checked against IAM.
        request = urllib.request.Request(f"{server.url}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())

        def env(user: str, secret: str | None = None) -> dict[str, str]:
            key_id, real = keys[user]
            return dict(os.environ, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret or real)

        # The server really enforces policies: with the permission the request goes through, and the
        # harness's own dummy credentials are refused.
        try:
            make_boto3_client(server.url).head_object(Bucket=DENIED, Key="a.bin")
            raise AssertionError("the server still answers the harness's dummy credentials")
        except s3.exceptions.ClientError:
            pass
        a = d / "a.bin"
        run = self.verify(a, DENIED, "a.bin", env=env("get-only"), url=server.url)
        self.judge_verify("live-denied", "get-only user: verify", run, DENIED, "a.bin", "match", requests=1,
                          layout=Layout.single(), size=2000)
        secret = keys["list-only"][1]
        run = self.verify(a, DENIED, "a.bin", env=env("list-only"), url=server.url)
        self.judge_error("live-denied", "list-only user: verify (HeadObject denied)", run,
                         ["HeadObject", "s3:GetObject", DENIED, "a.bin"], secret=secret)
        run = self.verify(a, DENIED, "a.bin", env=env("list-only"), url=server.url, json_out=False)
        self.judge_error("live-denied", "list-only user: verify, text", run,
                         ["HeadObject", "s3:GetObject", DENIED, "a.bin"], secret=secret)
        run = self.etagsum("check", "--root", d, f"s3://{DENIED}/", *self.s3_options(server.url),
                           env=env("get-only"))
        self.judge_error("live-denied", "get-only user: check (ListObjectsV2 denied)", run,
                         ["ListObjectsV2", "s3:ListBucket", DENIED], secret=keys["get-only"][1])
        wrong = "wR0ng/" + hashlib.sha256(b"not the secret").hexdigest()[:34]
        run = self.verify(a, DENIED, "a.bin", env=env("get-only", wrong), url=server.url)
        self.judge_error("live-denied", "wrong secret access key", run, ["HeadObject", DENIED, "a.bin"], secret=wrong)
        run = self.verify(a, DENIED, "a.bin", "--no-sign-request", env=env("get-only"), url=server.url)
        self.judge_error("live-denied", "--no-sign-request", run, ["HeadObject", DENIED, "a.bin"],
                         secret=keys["get-only"][1])
        self._denied_confirmation(server, d, env("list-only"), secret)

    def _denied_confirmation(self, server: MotoServer, d: Path, env: dict[str, str], secret: str) -> None:
        """list-only user, a local file that differs: its mismatch needs a HeadObject, which is denied.
        It must not be reported as a mismatch it could not confirm; the other object is OK."""
        local = self.work / "denied-local"
        local.mkdir()
        shutil.copy(d / "a.bin", local / "a.bin")
        shutil.copy(d / "b.bin", local / "b.bin")
        flip_byte(local / "b.bin", f"{self.seed}:live:denied-flip")
        run = self.etagsum("check", "--root", local, f"s3://{DENIED}/", "--json", *self.s3_options(server.url),
                           env=env)
        p = []
        try:
            objs = {o.get("key"): o for o in json_lines(run.stdout)}
        except ValueError as e:
            objs = {}
            p.append(str(e))
        a, b = objs.get("a.bin", {}), objs.get("b.bin", {})
        if a.get("verdict") != "match":
            p.append(f"a.bin: verdict {a.get('verdict')!r}, expected 'match' (the listing settles it)")
        if b.get("verdict") not in ("error", "inconclusive"):
            p.append(f"b.bin: verdict {b.get('verdict')!r}, expected 'error' or 'inconclusive' (its confirming "
                     f"HeadObject is denied)")
        if b.get("verdict") == "error" and "s3:GetObject" not in run.stdout + run.stderr:
            p.append("the error does not name s3:GetObject")
        want_rc = 2 if b.get("verdict") == "error" else 3
        if run.rc != want_rc:
            p.append(f"exit status {run.rc}, expected {want_rc}")
        if secret in run.stdout + run.stderr:
            p.append("the secret access key appears in the output")
        if p:
            self.report.fail("live-denied", "list-only user: check, a mismatch to confirm", "; ".join(p) + "\n"
                             + run.describe())
        else:
            self.report.ok("live-denied", "list-only user: check, a mismatch to confirm",
                           f"b.bin {b.get('verdict')} ({str(b.get('reason') or b.get('error'))[:120]}); exit {run.rc}")

    # ---- check -----------------------------------------------------------------------------------

    def check(self, root: Path, bucket: str, prefix: str, *extra: str) -> Run:
        return self.etagsum("check", "--root", root, f"s3://{bucket}/{prefix}", *extra, *self.s3_options())

    def expected_tree(self, local: Path, changed=(), deleted=(), added=()) -> list[Expect]:
        out = []
        for o in sorted(OBJECTS, key=lambda x: x.key.encode()):  # S3 lists keys in UTF-8 byte order
            path = local / o.name
            etag = self.remote[o.key]
            if o.name in deleted:
                out.append(Expect(o.key, path, "missing", o.size, None, etag))
            elif o.name in changed:
                out.append(Expect(o.key, path, "mismatch", o.size, o.size, etag))  # reason: see judge_requests
            else:
                out.append(Expect(o.key, path, "match", o.size, o.size, etag, o.layout()))
        for name in added:
            out.append(Expect(TREE + name, local / name, "extra", local_size=(local / name).stat().st_size))
        return out

    def judge_requests(self, check: str, subject: str, objs: list[dict] | None, want: dict,
                       reasons: dict[str, tuple[str, ...]] | None = None) -> None:
        """The `requests` of each JSON line: `want[key]` is a (low, high) range; keys not in `want` were
        settled by the listing alone and have no count (or 0). `reasons[key]`: the reason_codes allowed."""
        if objs is None:
            return
        p, seen = [], []
        absent = sorted(set(want) - {o.get("key") for o in objs})
        if absent:
            p.append(f"no line for {absent}")
        for o in objs:
            key, n = o.get("key"), o.get("requests")
            if reasons and key in reasons and o.get("reason_code") not in reasons[key]:
                p.append(f"{key}: reason_code {o.get('reason_code')!r}, expected {' or '.join(reasons[key])}")
            if key in want:
                low, high = want[key]
                if not isinstance(n, int) or not low <= n <= high:
                    p.append(f"{key}: requests {n!r}, expected {low if low == high else f'{low} to {high}'}")
                else:
                    seen.append(f"{key.rsplit('/', 1)[-1]} {n}")
            elif n not in (None, 0):
                p.append(f"{key}: requests {n!r}, but the listing alone settles it")
        if p:
            self.report.fail(check, subject, "; ".join(p))
        else:
            self.report.ok(check, subject, "S3 requests: " + (", ".join(seen) or "none"))

    def test_check_tree(self) -> None:
        local = self.work / "tree"
        self.aws("s3", "sync", f"s3://{BUCKET}/{TREE}", local, "--only-show-errors", "--no-progress")
        differ = [o.name for o in OBJECTS if (local / o.name).read_bytes() != (self.src / o.name).read_bytes()]
        if differ:
            raise AssertionError(f"aws s3 sync brought other bytes for {differ}")
        # The objects the listing cannot settle: the odd part size (part 1 and part N), the uneven parts
        # (parts 1 and N, GetObjectAttributes, then every part); one HeadObject more is allowed for each.
        settle = {TREE + "boto3/odd parts.bin": (2, 3),
                  TREE + "lowlevel/uneven.bin": (len(UNEVEN_PARTS), UNEVEN_REQUESTS)}
        expected = self.expected_tree(local)
        run = self.check(local, BUCKET, TREE, "--json")
        objs = judge_json(self.report, "live-check", f"s3://{BUCKET}/{TREE} against aws s3 sync's copy", run,
                          expected)
        self.judge_requests("live-check", "requests per object", objs, settle)
        run = self.check(local, BUCKET, TREE)
        judge_lines(self.report, "live-check", "line output", run, expected)

        changed = self.work / "tree-changed"
        shutil.copytree(local, changed)
        offset = flip_byte(changed / CHANGED, f"{self.seed}:live:flip")
        (changed / DELETED).unlink()
        generate(changed / ADDED, 321, f"{self.seed}:live:added")
        self.report.note(f"# live check: byte {offset} of {CHANGED!r} flipped, {DELETED!r} deleted, "
                         f"{ADDED!r} added")
        expected = self.expected_tree(changed, {CHANGED}, {DELETED}, [ADDED])
        settle_changed = settle | {TREE + CHANGED: (1, 1)}  # the HeadObject that confirms the mismatch
        runs = {}
        for jobs in ("1", "8"):
            run = self.check(changed, BUCKET, TREE, "--json", "--extra", "--jobs", jobs)
            objs = judge_json(self.report, "live-changes", f"--extra --jobs {jobs}", run, expected)
            self.judge_requests("live-changes", f"requests, --jobs {jobs}", objs, settle_changed,
                                {TREE + CHANGED: DIFFERS})
            runs[jobs] = (run, objs)
        (r1, o1), (r8, o8) = runs["1"], runs["8"]
        if o1 is not None and o8 is not None:
            def outcome(objs):
                return [(o.get("key"), o.get("verdict"), o.get("path"), o.get("reason_code")) for o in objs]
            if outcome(o1) == outcome(o8) and r1.rc == r8.rc and len(o1) == len(expected):
                self.report.ok("live-jobs", "--jobs 1 and --jobs 8", f"{len(o1)} identical lines; exit {r1.rc}")
            else:
                self.report.fail("live-jobs", "--jobs 1 and --jobs 8",
                                 f"outcomes differ: exit {r1.rc} / {r8.rc}; only --jobs 1: "
                                 f"{sorted(set(outcome(o1)) - set(outcome(o8)), key=str)}; only --jobs 8: "
                                 f"{sorted(set(outcome(o8)) - set(outcome(o1)), key=str)}")
        run = self.check(changed, BUCKET, TREE, "--extra")
        judge_lines(self.report, "live-changes", "--extra, line output", run, expected)
        run = self.check(changed, BUCKET, TREE, "--extra", "--quiet")
        judge_lines(self.report, "live-changes", "--extra --quiet", run, expected, quiet=True)
        if o8 is not None:
            shards = [(k, self.check(changed, BUCKET, TREE, "--json", "--extra", "--shard", f"{k}/3"))
                      for k in (1, 2, 3)]
            judge_shards(self.report, "live-shards", "--shard K/3 --extra", o8, r8.rc, shards, 3)

    def test_check_encrypted(self) -> None:
        """kms/: a plain object and an SSE-KMS one without a checksum whose local copy has other bytes:
        OK and INCONCLUSIVE (the mismatching MD5 is confirmed by a HeadObject, which says aws:kms).
        kms-crc/: an SSE-KMS object whose CRC32 differs from the local copy's: MISMATCH."""
        self._ensure_bucket()
        local = self.work / "kms-tree"
        generate(local / "plain.bin", 2000, f"{self.seed}:live:kms-plain")
        generate(local / "kms-other.bin", 3000, f"{self.seed}:live:kms-other")
        data = (local / "kms-other.bin").read_bytes()
        self.s3.put_object(Bucket=BUCKET, Key="kms/plain.bin", Body=(local / "plain.bin").read_bytes())
        self.s3_bare.put_object(Bucket=BUCKET, Key="kms/kms-other.bin", Body=bytes(b ^ 0xA5 for b in data),
                                ServerSideEncryption="aws:kms")
        etag = {k: self.s3.head_object(Bucket=BUCKET, Key=k)["ETag"].strip('"')
                for k in ("kms/plain.bin", "kms/kms-other.bin")}
        expected = [
            Expect("kms/kms-other.bin", local / "kms-other.bin", "inconclusive", 3000, 3000, etag["kms/kms-other.bin"],
                   reason_code="encrypted"),
            Expect("kms/plain.bin", local / "plain.bin", "match", 2000, 2000, etag["kms/plain.bin"], Layout.single()),
        ]
        run = self.check(local, BUCKET, "kms/", "--json")
        objs = judge_json(self.report, "live-check-kms", "SSE-KMS object with other bytes", run, expected)
        self.judge_requests("live-check-kms", "requests per object", objs, {"kms/kms-other.bin": (1, 1)})

        crc_local = self.work / "kms-crc-tree"
        generate(crc_local / "kms-crc.bin", 3000, f"{self.seed}:live:kms-crc")
        data = (crc_local / "kms-crc.bin").read_bytes()
        self.s3.put_object(Bucket=BUCKET, Key="kms-crc/kms-crc.bin", Body=bytes(b ^ 0xA5 for b in data),
                           ServerSideEncryption="aws:kms", ChecksumAlgorithm="CRC32")
        head = self.s3.head_object(Bucket=BUCKET, Key="kms-crc/kms-crc.bin", ChecksumMode="ENABLED")
        if not head.get("ChecksumCRC32"):
            raise AssertionError(f"kms-crc/kms-crc.bin has no CRC32: {head}")
        expected = [Expect("kms-crc/kms-crc.bin", crc_local / "kms-crc.bin", "mismatch", 3000, 3000,
                           head["ETag"].strip('"'), reason_code="checksum_differs")]
        run = self.check(crc_local, BUCKET, "kms-crc/", "--json")
        judge_json(self.report, "live-check-kms", "SSE-KMS object whose CRC32 differs", run, expected)

    def test_check_many(self) -> None:
        """1,100 keys: ListObjectsV2 answers at most 1,000 a page."""
        self._ensure_bucket()
        local = self.work / "many"
        local.mkdir()
        names = [f"{i // 100:02d}/file {i:04d}.txt" for i in range(MANY)]
        bodies = {n: f"{self.seed} {n}\n".encode() * (1 + hash_index(n) % 7) for n in names}
        for n in names:
            (local / n).parent.mkdir(parents=True, exist_ok=True)
            (local / n).write_bytes(bodies[n])
        client = self.s3_bare
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda n: client.put_object(Bucket=BUCKET, Key="many/" + n, Body=bodies[n]), names))
        page = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="many/")
        if page.get("KeyCount") != 1000 or not page.get("IsTruncated"):
            raise AssertionError(f"the first page holds {page.get('KeyCount')} keys, truncated "
                                 f"{page.get('IsTruncated')}: no second page to follow")
        expected = [Expect("many/" + n, local / n, "match", len(bodies[n]), len(bodies[n]),
                           hashlib.md5(bodies[n]).hexdigest(), Layout.single())
                    for n in sorted(names, key=str.encode)]
        run = self.check(local, BUCKET, "many/", "--json", "--extra")
        objs = judge_json(self.report, "live-check-many", f"{MANY} keys, --extra", run, expected)
        if objs is not None:
            counts = Counter(o.get("verdict") for o in objs)
            if counts == Counter({"match": MANY}):
                self.report.ok("live-check-many", "count", f"{MANY} OK")
            else:
                self.report.fail("live-check-many", "count", f"verdicts {dict(counts)}, expected {MANY} match")

    # ---- inventory -------------------------------------------------------------------------------

    def test_inventory(self) -> None:
        """The inventory reports of inventory.py, read from their bucket with `--listing s3://...`."""
        proxy = SimpleNamespace(report=self.report, args=self.h.args, workdir=self.work, s3=self.s3,
                                server=self.h.server, _guarded=self.h._guarded)
        with inventory_buckets(INVENTORY_SOURCE, INVENTORY_DEST):
            tests = inventory.InventoryTests(proxy)
            tests.setup()
            expected = live_inventory_expected(tests)
            base = f"{inventory.DEST_PREFIX}/{INVENTORY_SOURCE}"
            for config in tests.reports:
                key = f"{base}/{config}/{tests.stamp}/manifest.json"
                run = self.etagsum("check", "--root", tests.local, "--listing", f"s3://{INVENTORY_DEST}/{key}",
                                   "--json", *self.s3_options())
                judge_json(self.report, "live-inventory", f"{config}: s3://{INVENTORY_DEST}/{key}", run, expected)
            self._inventory_without_checksum(tests, base, expected)
            # A manifest naming a data file the bucket does not hold.
            manifest = json.loads(self.s3.get_object(Bucket=INVENTORY_DEST, Key=f"{base}/csv-all/{tests.stamp}/"
                                                     "manifest.json")["Body"].read())
            gone = manifest["files"][1]["key"].replace("/data/", "/data/gone-")
            manifest["files"][1]["key"] = gone
            key = f"{base}/csv-all/2026-12-02T01-00Z/manifest.json"
            self.s3.put_object(Bucket=INVENTORY_DEST, Key=key, Body=json.dumps(manifest, indent=2).encode())
            run = self.etagsum("check", "--root", tests.local, "--listing", f"s3://{INVENTORY_DEST}/{key}",
                               "--json", *self.s3_options())
            judge_failure(self.report, "live-inventory", "a data file not in the bucket", run,
                          [gone.rsplit("/", 1)[1]])

    def _inventory_without_checksum(self, tests, base: str, expected: list[Expect]) -> None:
        """One more report, of the current versions and an SSE-KMS object stored without any checksum
        whose local copy has other bytes: nothing S3 says about it is evidence about the bytes, so it
        must stay INCONCLUSIVE, never MISMATCH."""
        key = "sse/kms no checksum.bin"
        local = tests.local / key
        generate(local, 4000, f"{self.seed}:live:inventory-kms")
        body = bytes(b ^ 0x5A for b in local.read_bytes())
        self.s3_bare.put_object(Bucket=INVENTORY_SOURCE, Key=key, Body=body, ServerSideEncryption="aws:kms")
        head = self.s3.head_object(Bucket=INVENTORY_SOURCE, Key=key, ChecksumMode="ENABLED")
        if head.get("ServerSideEncryption") != "aws:kms" or any(k.startswith("ChecksumCRC") or
                                                                 k.startswith("ChecksumSHA") for k in head):
            raise AssertionError(f"{key}: not an SSE-KMS object without a checksum: {head}")
        etag = head["ETag"].strip('"')
        row = inventory.Row(key, head.get("VersionId"), True, False, 4000, head["LastModified"], etag, "STANDARD",
                            False, "SSE-KMS", None)
        rows = sorted([r for r in tests.rows if r.is_latest and not r.is_delete_marker] + [row],
                      key=lambda r: r.key.encode())
        report = inventory.build_report("live-current", "CSV", ", ".join(inventory.CSV_CURRENT), [
            (".csv.gz", inventory.csv_gz(rows, inventory.CSV_CURRENT, inventory.url_encode_keep_slash))])
        for k, blob in report.files.items():
            self.s3.put_object(Bucket=INVENTORY_DEST, Key=k, Body=blob)
        want = sorted(expected + [Expect(key, local, "inconclusive", 4000, 4000, etag, reason_code="encrypted")],
                      key=lambda e: e.key.encode())
        manifest = f"{base}/live-current/{tests.stamp}/manifest.json"
        run = self.etagsum("check", "--root", tests.local, "--listing", f"s3://{INVENTORY_DEST}/{manifest}",
                           "--json", *self.s3_options())
        judge_json(self.report, "live-inventory", f"live-current, with {key!r} (SSE-KMS, no checksum)", run, want)


def hash_index(name: str) -> int:
    return int.from_bytes(hashlib.md5(name.encode()).digest()[:2], "big")


def live_inventory_expected(tests) -> list[Expect]:
    """inventory.py's expectations, for a check that may ask S3: an encrypted object whose local copy
    has other bytes is INCONCLUSIVE by its row alone, but an additional checksum (boto3 sends a CRC32
    by default), which HeadObject shows, is evidence: MISMATCH then (not for SSE-C, see below). Whether the object has one is
    asked of the server here (moto's ListObjectVersions does not say)."""
    out = []
    for e in tests.expected():
        # An SSE-C object is not asked about: S3 refuses HeadObject without its key (which etagsum
        # never has), so its row alone decides: INCONCLUSIVE.
        if e.verdict == "inconclusive" and e.reason_code == "encrypted" and tests.latest[e.key].sse != "SSE-C":
            args = {"Bucket": inventory.SOURCE, "Key": e.key, "ChecksumMode": "ENABLED"}
            head = tests.s3.head_object(**args)
            if any(k.startswith("Checksum") and k != "ChecksumType" and v for k, v in head.items()):
                e = Expect(e.key, e.path, "mismatch", e.size, e.local_size, e.etag, reason_code="checksum_differs")
        out.append(e)
    return out
