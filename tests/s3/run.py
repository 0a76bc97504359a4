#!/usr/bin/env python3
"""End-to-end test of etagsum against real S3 uploaders and moto's S3 server.

Starts `moto_server` on 127.0.0.1, uploads generated files with the aws cli,
boto3, s3cmd and rclone at several part sizes, reads each ETag and part layout
back from the server, and requires `etagsum verify` to say OK with the layout
that was used, and never OK once one byte of the file is changed.

Usage (after scripts/setup-test-env.sh):
    .venv/bin/python tests/s3/run.py --etagsum target/release/etagsum

Then the tree checks (trees.py): `etagsum check` on list-objects-v2 listings and
S3 Inventory reports made from buckets on the same server, shards, and the
Kubernetes and Slurm examples; `--trees-only` runs only those.

Then the checksum checks (checksums.py): uploads with each additional checksum
algorithm and type S3 accepts, read back with ChecksumMode enabled and compared
with values computed in Python, then `etagsum verify --checksum` and `etagsum
hash --checksum` on each object; `--checksums-only` runs only those.

Then the live S3 checks (live.py): `etagsum verify FILE s3://B/K` and `etagsum
check --root DIR s3://B/PREFIX` reading from the server themselves, with their
request counts, encryption, versions, missing objects, denied requests (on a
second server that enforces IAM), pagination and inventories in S3;
`--live-only` runs only those.

Prints one line per check and ends with `N passed, M failed`; exits 1 when a
check failed or a component (moto, a client, the binary) is missing.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep tests/s3 free of __pycache__

import argparse  # noqa: E402
import atexit  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

from checks import Checker, Etagsum, Reporter, Upload  # noqa: E402
from datafiles import MIB, FileFactory, Layout, etag_for_layout  # noqa: E402

try:  # needs boto3, that is the virtual environment's interpreter
    import boto3  # noqa: E402
    from boto3.s3.transfer import TransferConfig  # noqa: E402

    from clients import CASES, Clients, UploadError, multipart_layout, read_remote, upload_parts  # noqa: E402
    from server import MotoServer, isolate_this_process  # noqa: E402
    from checksums import run_checksum_tests  # noqa: E402
    from live import run_live_tests  # noqa: E402
    from trees import run_tree_tests  # noqa: E402
    from guide import run_guide_tests  # noqa: E402

    IMPORT_ERROR = ""
except ImportError as e:
    boto3 = None
    IMPORT_ERROR = f" ({e})"

REPO = Path(__file__).resolve().parents[2]
BUCKET = "etagsum-test"

# Sizes around every threshold and part size the uploaders use, plus two
# files of several parts.
SIZES = [
    0, 1,
    5 * MIB - 1, 5 * MIB, 5 * MIB + 1,
    8 * MIB - 1, 8 * MIB, 8 * MIB + 1,
    10_000_000,
    15 * MIB - 1, 15 * MIB, 15 * MIB + 1,
    16 * MIB - 1, 16 * MIB, 16 * MIB + 1,
    33 * MIB + 12345,
    50_000_001,
]

# Parts of a hand-made upload that no uniform layout can describe.
UNEVEN_PARTS = [5 * MIB, 7 * MIB, 6 * MIB, 1234]

# Server-side encryption uploads (boto3, 5 MiB parts): (ServerSideEncryption,
# etagsum's --sse, file size). On AWS an SSE-KMS ETag is not an MD5, so etagsum
# must not call it a mismatch; an SSE-S3 ETag is an MD5, so it must match.
ENCRYPTED = [
    ("aws:kms", "kms", 3 * MIB + 7),
    ("aws:kms", "kms", 16 * MIB + 1),
    ("AES256", "s3", 16 * MIB + 1),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--etagsum", type=Path, required=True, help="the etagsum binary under test")
    p.add_argument("--venv", type=Path, default=REPO / ".venv",
                   help="virtual environment with moto, the aws cli and s3cmd (default: .venv)")
    p.add_argument("--case", action="append", default=[],
                   help="run only the cases whose name starts with this (repeatable)")
    p.add_argument("--size", type=int, action="append", default=[],
                   help="run only this file size (repeatable)")
    p.add_argument("--seed", default="etagsum", help="seed of the generated contents")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--trees-only", action="store_true",
                   help="run only the tree checks: listings, inventories, shards, examples (tests/s3/trees.py)")
    p.add_argument("--checksums-only", action="store_true",
                   help="run only the additional checksum checks (tests/s3/checksums.py)")
    p.add_argument("--guide-only", action="store_true",
                   help="run only the conditional-writes guide: its script and commands (tests/s3/guide.py)")
    p.add_argument("--live-only", action="store_true",
                   help="run only the live S3 checks: verify and check with s3:// (tests/s3/live.py)")
    return p.parse_args(argv)


class Harness:
    """One run: a work directory, a server, the clients, and the checks."""

    def __init__(self, args: argparse.Namespace, report: Reporter):
        self.args = args
        self.report = report
        self.workdir = Path(tempfile.mkdtemp(prefix="etagsum-s3-"))
        self.files = FileFactory(self.workdir / "files", args.seed)
        self.files.directory.mkdir()
        self.server = None
        self.clients = None
        self._etag_cache: dict[tuple[Path, Layout], str] = {}
        self._closed = False

    # ---- life cycle ---------------------------------------------------------------

    def close(self) -> None:
        """Stop the server and remove the work directory; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.server is not None:
            self.server.stop()
        if self.args.keep:
            self.report.note(f"# work directory kept: {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def check_components(self) -> set[str] | None:
        """Report every component; return the clients that are present, or None
        when the run cannot go on at all (no server, no etagsum, no boto3)."""
        venv_bin = self.args.venv / "bin"
        found = {
            "moto_server": _executable(venv_bin / "moto_server"),
            "etagsum": _executable(self.args.etagsum),
            "aws": _executable(venv_bin / "aws"),
            "s3cmd": _executable(venv_bin / "s3cmd"),
            "rclone": shutil.which("rclone"),
            "boto3": os.path.dirname(boto3.__file__) if boto3 else None,
        }
        hints = {
            "moto_server": "run scripts/setup-test-env.sh",
            "aws": "run scripts/setup-test-env.sh",
            "s3cmd": "run scripts/setup-test-env.sh",
            "rclone": "run scripts/setup-test-env.sh (installs it with apt-get)",
            "boto3": "run this harness with .venv/bin/python" + IMPORT_ERROR,
            "etagsum": "build it with cargo build --release",
        }
        for name, where in found.items():
            if where:
                self.report.ok("component", name, where)
            else:
                self.report.fail("component", name, f"missing; {hints[name]}")
        if not (found["moto_server"] and found["etagsum"] and found["boto3"]):
            return None
        return {name for name in ("aws", "s3cmd", "rclone", "boto3") if found[name]}

    def start(self) -> None:
        home = self.workdir / "home"
        home.mkdir()
        isolate_this_process(home)
        self.server = MotoServer(self.args.venv / "bin" / "moto_server", self.workdir / "moto.log")
        self.server.start()
        self.report.note(f"# moto_server on {self.server.url}, work directory {self.workdir}")
        self.clients = Clients(self.args.venv / "bin", self.server.url, BUCKET, self.workdir)
        self.s3 = self.clients.s3
        self.s3.create_bucket(Bucket=BUCKET)
        self.checker = Checker(Etagsum(self.args.etagsum.resolve()), self.report)

    # ---- the tests ----------------------------------------------------------------

    def run(self) -> None:
        present = self.check_components()
        if present is None:
            return
        self.start()
        cases = [c for c in CASES if not self.args.case or c.name.startswith(tuple(self.args.case))]
        only = (self.args.trees_only or self.args.checksums_only or self.args.guide_only
                or self.args.live_only)
        if only:
            cases = []
        sizes = self.args.size or SIZES
        for case in cases:
            if case.client not in present:
                continue  # already reported as a failed component
            started = time.monotonic()
            for size in sizes:
                self._guarded(f"{case.name} size={size}", self.test_upload, case, size)
            self.report.note(f"# {case.name}: {len(sizes)} uploads in {time.monotonic() - started:.0f} s")
        whole = not self.args.case and not self.args.size
        if whole and not only:
            self._guarded("uneven parts", self.test_uneven_parts)
            self._guarded("server-side encryption", self.test_encryption)
        if whole and (not only or self.args.trees_only):
            started = time.monotonic()
            run_tree_tests(self, present)
            self.report.note(f"# tree checks in {time.monotonic() - started:.0f} s")
        if whole and (not only or self.args.checksums_only):
            started = time.monotonic()
            run_checksum_tests(self)
            self.report.note(f"# checksum checks in {time.monotonic() - started:.0f} s")
        if whole and (not only or self.args.live_only):
            started = time.monotonic()
            run_live_tests(self, present)
            self.report.note(f"# live S3 checks in {time.monotonic() - started:.0f} s")
        if whole and (not only or self.args.guide_only):
            started = time.monotonic()
            run_guide_tests(self)
            self.report.note(f"# guide checks in {time.monotonic() - started:.0f} s")

    def _guarded(self, subject: str, test, *args) -> None:
        """Run one test; a harness error is a failure of that test, not of the run."""
        try:
            test(*args)
        except Exception:
            self.report.fail("harness", subject, "unexpected error\n" + traceback.format_exc().rstrip())
            if not self.server.running():
                log = self.server.log_tail()
                raise RuntimeError(f"moto_server died; its log ends with:\n{log}") from None

    def test_upload(self, case, size: int) -> None:
        """Upload one file with one case, check the harness's view, then etagsum's."""
        path = self.files.file(size)
        key = f"{case.name}/{size}"
        subject = f"{case.name} size={size}"
        try:
            self.clients.upload(case, path, key)
            remote = read_remote(self.s3, BUCKET, key)
        except UploadError as e:
            self.report.fail("upload", subject, f"{case.setting}: {e}")
            return
        try:
            if self._check_upload(subject, case.setting, path, remote, case.expect(size)):
                upload = Upload(case.name, size, path, remote.etag, remote.layout)
                self._check_etagsum(case, upload)
        finally:
            self.s3.delete_object(Bucket=BUCKET, Key=key)

    def _check_upload(self, subject: str, setting: str, path: Path, remote, expected: Layout) -> bool:
        """Check that the layout read back reproduces the server's ETag (a sanity check of
        the harness, computed in Python) and is the one the case asked for.

        Returns False when etagsum cannot be judged on this upload.
        """
        size = path.stat().st_size
        if remote.size != size:
            self.report.fail("upload", subject, f"server has {remote.size} bytes, the file {size}")
            return False
        key = (path, remote.layout)
        if key not in self._etag_cache:
            self._etag_cache[key] = etag_for_layout(path, remote.layout)
        if self._etag_cache[key] != remote.etag:
            self.report.fail("upload", subject, f"server ETag {remote.etag} is not reproduced by layout "
                             f"{remote.layout} (harness computes {self._etag_cache[key]})")
            return False
        if remote.layout != expected:
            self.report.fail("upload", subject, f"{setting} gave layout {remote.layout}, expected {expected} "
                             f"(etag {remote.etag}); the client setting did not take effect as assumed")
            return True
        self.report.ok("upload", subject, f"{remote.layout} etag={remote.etag}")
        return True

    def _check_etagsum(self, case, u: Upload) -> None:
        c = self.checker
        multipart = u.layout.kind == "multipart"
        many_parts = multipart and u.layout.parts > 1
        # The part size to give etagsum: the one read back from S3, or for a
        # one-part upload (whose part 1 is the whole file) the one configured.
        hint = str(u.layout.part_size if many_parts else case.part_size)
        corrupt, change = self.files.corrupted(u.path)

        c.verify_match(u, "verify", allow_inconclusive=many_parts and not case.guessable,
                       uploader=case.catalog_name)
        c.verify_corrupt(u, corrupt, change, "corrupt")
        if multipart:
            c.verify_match(u, "verify-part", "--part-size", hint)
            c.verify_corrupt(u, corrupt, change, "corrupt-part", "--part-size", hint)
        if case.name.endswith("-default"):
            c.verify_text(u, "verify-text")
        if case.client == "boto3":
            c.hash_equals(u, "hash", *(("--part-size", hint) if multipart else ("--single",)))
        if case.name in ("aws-default", "boto3-default"):
            c.hash_equals(u, "hash-default")  # etagsum's default layout is the aws cli's

    def test_uneven_parts(self) -> None:
        """Parts of unequal sizes: inconclusive without the sizes, OK with them."""
        size = sum(UNEVEN_PARTS)
        path = self.files.file(size, name="uneven")
        key = "lowlevel/uneven"
        subject = f"boto3-lowlevel size={size}"
        upload_parts(self.s3, BUCKET, key, path, UNEVEN_PARTS)
        try:
            self._check_uneven(subject, path, read_remote(self.s3, BUCKET, key))
        finally:
            self.s3.delete_object(Bucket=BUCKET, Key=key)

    def _check_uneven(self, subject: str, path: Path, remote) -> None:
        size = path.stat().st_size
        layout = Layout.explicit(UNEVEN_PARTS)
        expected_first = Layout.multipart(UNEVEN_PARTS[0], len(UNEVEN_PARTS))
        if remote.layout != expected_first:
            self.report.fail("upload", subject, f"part 1 / count read back as {remote.layout}, "
                             f"expected {expected_first}")
            return
        remote = dataclasses.replace(remote, layout=layout)
        if not self._check_upload(subject, "create_multipart_upload", path, remote, layout):
            return
        u = Upload("boto3-lowlevel", size, path, remote.etag, layout)
        sizes = ",".join(map(str, UNEVEN_PARTS))
        corrupt, change = self.files.corrupted(path)
        c = self.checker
        c.verify_inconclusive(u, "uneven", advice_contains="aws s3api")
        c.verify_text_inconclusive(u, "uneven-text")
        c.verify_match(u, "uneven-sizes", "--part-sizes", sizes)
        c.verify_corrupt(u, corrupt, change, "uneven-corrupt", "--part-sizes", sizes)

    def test_encryption(self) -> None:
        """SSE-KMS: never a mismatch (moto keeps MD5 ETags; AWS does not). SSE-S3: an MD5, so OK."""
        config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        for sse, flag, size in ENCRYPTED:
            path = self.files.file(size)
            key = f"sse-{flag}/{size}"
            name = f"boto3-sse-{flag}"
            subject = f"{name} size={size}"
            self.s3.upload_file(str(path), BUCKET, key, Config=config,
                                ExtraArgs={"ServerSideEncryption": sse})
            try:
                remote = read_remote(self.s3, BUCKET, key)
                if remote.sse != sse:
                    self.report.fail("upload", subject,
                                     f"ServerSideEncryption {remote.sse!r}, expected {sse!r}")
                    continue
                expected = multipart_layout(size, 5 * MIB) if size >= 5 * MIB else Layout.single()
                if not self._check_upload(subject, f"ServerSideEncryption={sse}", path, remote, expected):
                    continue
                u = Upload(name, size, path, remote.etag, remote.layout)
                corrupt, change = self.files.corrupted(path)
                if flag == "kms":
                    self.checker.verify_inconclusive(u, "sse-kms", "--sse", "kms")
                else:
                    self.checker.verify_match(u, "sse-s3", "--sse", "s3")
                self.checker.verify_corrupt(u, corrupt, change, f"sse-{flag}-corrupt", "--sse", flag)
            finally:
                self.s3.delete_object(Bucket=BUCKET, Key=key)


def _executable(path: Path) -> str | None:
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _raise_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Reporter()
    harness = Harness(args, report)
    atexit.register(harness.close)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_on_signal)
    started = time.monotonic()
    try:
        harness.run()
    except SystemExit as e:
        report.fail("harness", "run", f"interrupted (exit {e.code})")
        raise
    except Exception:
        report.fail("harness", "run", "unexpected error\n" + traceback.format_exc().rstrip())
    finally:
        harness.close()
        report.note(f"# {time.monotonic() - started:.0f} s")
        if report.failures:
            report.note("# failures:\n" + "\n".join("#   " + f for f in report.failures))
        print(report.summary(), flush=True)
    return 0 if report.failed == 0 and report.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
