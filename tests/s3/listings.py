"""Whole trees against bucket listings: `etagsum check --listing` on what the server printed.

A bucket on moto's server is filled by several real clients (aws cli `s3 sync` and `s3 cp`, boto3
with two part sizes and one odd one, s3cmd, rclone), with names holding spaces, unicode, `+`, `%`
and `~`. The listing is saved with `aws s3api list-objects-v2` three ways (merged pages, URL-encoded
keys, a prefix) and a copy of the bucket fetched with `aws s3 sync` is checked against each. Then one
byte of one file is changed, one file deleted and one added, and each verdict is checked, in JSON
and in text, with `--extra` and without, and split into 1, 3 and 7 shards.

The one object that must stay INCONCLUSIVE: `boto3/odd parts.bin`, uploaded by boto3 in parts of
5,300,001 bytes. That part size is no whole MiB, MB, KiB or KB and no uploader's, so the guessing of
docs/verify-rules.md cannot reach it; every other object must be OK.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from checks import Etagsum, Reporter
from clients import CASES, Case, Clients, read_remote
from datafiles import MIB, Layout, etag_for_layout
from server import client_environment
from verdicts import Expect, judge_json, judge_lines, judge_shards

BUCKET = "etagsum-listing"
CLI_TIMEOUT = 300
SHARD_COUNTS = (1, 3, 7)

# (key, size, uploader, expected layout, expected verdict). "aws-sync" objects are uploaded
# together by one `aws s3 sync` of the sync/ folder; the others one by one with a case of clients.py.
OBJECTS = [
    ("sync/hello world.txt", 11, "aws-sync", Layout.single(), "match"),
    ("sync/ünïcödé/файл 1.bin", 1000, "aws-sync", Layout.single(), "match"),
    ("sync/a+b=c&d.bin", 5000, "aws-sync", Layout.single(), "match"),
    ("sync/100% done.txt", 70, "aws-sync", Layout.single(), "match"),
    ("sync/empty", 0, "aws-sync", Layout.single(), "match"),
    ("sync/nine MiB.bin", 9 * MIB + 17, "aws-sync", Layout.multipart(8 * MIB, 2), "match"),
    ("sync/eight.bin", 8 * MIB, "aws-sync", Layout.multipart(8 * MIB, 1), "match"),
    ("cp/six+five.bin", 6 * MIB + 3, "aws-5MB", Layout.multipart(5 * MIB, 2), "match"),
    ("boto3/twelve.bin", 12 * MIB + 5, "boto3-default", Layout.multipart(8 * MIB, 2), "match"),
    ("boto3/ten MB parts.bin", 21_000_000, "boto3-10MB", Layout.multipart(10_000_000, 3), "match"),
    ("boto3/odd parts.bin", 11_000_000, "boto3-odd", Layout.multipart(5_300_001, 3), "inconclusive"),
    ("s3cmd/sixteen.bin", 16 * MIB, "s3cmd-default", Layout.multipart(15 * MIB, 2), "match"),
    ("s3cmd/small (1).txt", 100, "s3cmd-default", Layout.single(), "match"),
    ("rclone/tiny.txt", 3, "rclone-default", Layout.single(), "match"),
    ("rclone/seven ~ mib.bin", 7 * MIB, "rclone-5M", Layout.multipart(5 * MIB, 2), "match"),
    ("rclone/one part.bin", 4096, "rclone-5M", Layout.multipart(4096, 1), "match"),
]

ODD_CASE = Case("boto3-odd", "boto3", "TransferConfig(multipart_chunksize=5,300,001)", 8 * MIB, 5_300_001,
                guessable=False, transfer={"multipart_chunksize": 5_300_001})

# The changes made to the copy: one byte of a single-PUT object (its MD5 is definitive, so this is a
# mismatch), one file deleted, one added.
CHANGED = "sync/hello world.txt"
DELETED = "s3cmd/small (1).txt"
ADDED = "sync/new file.txt"


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str  # quotes stripped
    layout: Layout
    verdict: str


class CliError(Exception):
    """A client command failed; the message holds the command and its output."""


def generate(path: Path, size: int, seed: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))


def flip_byte(path: Path, seed: str) -> int:
    data = bytearray(path.read_bytes())
    offset = random.Random(seed).randrange(len(data))
    data[offset] ^= 0x01
    path.write_bytes(data)
    return offset


class AwsCli:
    """The aws cli of the virtual environment, pointed at the server, in the clients' environment."""

    def __init__(self, venv_bin: Path, endpoint: str, home: Path, config: Path):
        self.exe = venv_bin / "aws"
        self.endpoint = endpoint
        self.env = client_environment(home, {"AWS_CONFIG_FILE": str(config)})

    def __call__(self, *args: str | Path) -> str:
        cmd = [str(self.exe), *map(str, args), "--endpoint-url", self.endpoint]
        try:
            p = subprocess.run(cmd, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CliError(f"timed out after {CLI_TIMEOUT} s: {' '.join(cmd)}") from None
        if p.returncode != 0:
            raise CliError(f"exit {p.returncode}: {' '.join(cmd)}\nstdout: {p.stdout.strip()[:2000]}\n"
                           f"stderr: {p.stderr.strip()[:2000]}")
        return p.stdout


def make_aws(venv_bin: Path, endpoint: str, workdir: Path) -> AwsCli:
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = workdir / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    return AwsCli(venv_bin, endpoint, home, config)


class ListingTests:
    """The listing checks of one harness run (see the module's docstring)."""

    def __init__(self, harness, present: set[str]):
        self.h = harness
        self.report: Reporter = harness.report
        self.present = present
        self.etagsum = Etagsum(harness.args.etagsum.resolve())
        self.work = harness.workdir / "listing"
        self.work.mkdir()
        self.venv_bin = harness.args.venv / "bin"
        self.aws = make_aws(self.venv_bin, harness.server.url, self.work)
        self.s3 = harness.s3
        self.seed = harness.args.seed
        self.listed: list[Listed] = []

    # ---- the bucket --------------------------------------------------------------

    def fill(self) -> bool:
        """Upload every object, read each back, and check the harness's view of it. Returns False
        (after reporting why) when the listing tests cannot be judged."""
        need = {"aws", "boto3", "s3cmd", "rclone"} - self.present
        if need:
            self.report.fail("listing", "bucket", f"needs {sorted(need)} (reported missing above)")
            return False
        self.s3.create_bucket(Bucket=BUCKET)
        src = self.work / "src"
        for key, size, _, _, _ in OBJECTS:
            generate(src / key, size, f"{self.seed}:{key}")
        self.aws("s3", "sync", src / "sync", f"s3://{BUCKET}/sync/", "--only-show-errors", "--no-progress")
        clients = Clients(self.venv_bin, self.h.server.url, BUCKET, self.work / "clients")
        cases = {c.name: c for c in CASES} | {ODD_CASE.name: ODD_CASE}
        for key, _, uploader, _, _ in OBJECTS:
            if uploader != "aws-sync":
                clients.upload(cases[uploader], src / key, key)

        ok = True
        for key, size, uploader, layout, verdict in OBJECTS:
            remote = read_remote(self.s3, BUCKET, key)
            computed = etag_for_layout(src / key, remote.layout)
            subject = f"{key} ({uploader})"
            if remote.size != size or computed != remote.etag or remote.layout != layout:
                self.report.fail("listing-upload", subject,
                                 f"server: {remote.size} bytes, layout {remote.layout}, etag {remote.etag}; "
                                 f"expected {size} bytes, layout {layout}; the layout read back gives {computed}")
                ok = False
                continue
            self.listed.append(Listed(key, size, remote.etag, layout, verdict))
        if ok:
            self.report.ok("listing-upload", f"{len(OBJECTS)} objects",
                           "layouts read back as expected: " + ", ".join(
                               f"{obj.key.split('/')[0]} {obj.layout}" for obj in self.listed
                               if obj.layout.kind != "single"))
        self.src = src
        self.listed.sort(key=lambda o: o.key.encode())  # S3 lists keys in the order of their UTF-8 bytes
        return ok

    # ---- the tests ---------------------------------------------------------------

    def run(self) -> None:
        g = self.h._guarded
        filled = []
        g("listing: fill the bucket", lambda: filled.append(self.fill()))
        if not filled or not filled[0]:
            return
        g("listing: list and check a copy", self.test_copy)
        g("listing: changed, deleted and added files", self.test_changes)

    def _save_listing(self, name: str, *args: str) -> Path:
        path = self.work / name
        path.write_text(self.aws("s3api", "list-objects-v2", "--bucket", BUCKET, "--output", "json", *args))
        return path

    def test_copy(self) -> None:
        local = self.work / "local"
        self.aws("s3", "sync", f"s3://{BUCKET}", local, "--only-show-errors", "--no-progress")
        differ = [o.key for o in self.listed if (local / o.key).read_bytes() != (self.src / o.key).read_bytes()]
        if differ:
            self.report.fail("listing-copy", "aws s3 sync", f"downloaded files differ from the uploaded: {differ}")
            return
        self.local = local

        # --page-size 4: the cli follows four pages and prints them merged, as it does for big buckets.
        full = self._save_listing("list.json", "--page-size", "4")
        # URL-encoded keys, as the cli prints them when it follows the pages itself (the merged
        # output keeps no `EncodingType`), and as one page (which keeps `"EncodingType": "url"`).
        url = self._save_listing("list-url.json", "--encoding-type", "url")
        url_page = self._save_listing("list-url-page.json", "--encoding-type", "url", "--no-paginate")
        # One page without the option: botocore decoded the keys, yet the page says
        # `"EncodingType": "url"` all the same.
        page = self._save_listing("list-page.json", "--no-paginate")
        prefix = self._save_listing("list-prefix.json", "--prefix", "sync/")
        self._listing_sane(full, url, url_page, page)
        # AWS encodes a space as `+` where moto writes %20 (s3-facts.md section 8): the same listing in
        # AWS's form, `+` for space and %2B for `+`.
        aws_form = self.work / "list-url-plus.json"
        aws_form.write_text(url_page.read_text().replace("%20", "+"))

        expected = self.expected(local)
        # Nothing in the merged output says the keys are encoded: etagsum is told, as the cli was.
        for name, listing, told in (("merged pages", full, ()),
                                    ("--encoding-type url", url, ("--encoding-type", "url")),
                                    ("--encoding-type url --no-paginate", url_page, ("--encoding-type", "url")),
                                    ("url, + for space", aws_form, ("--encoding-type", "url")),
                                    # Its "EncodingType": "url" proves nothing: decoding on its word
                                    # would make `cp/six+five.bin` `cp/six five.bin`, a false MISSING.
                                    ("--no-paginate, keys decoded by the cli", page, ())):
            run = self.etagsum.run("check", "--listing", listing, "--root", local, *told, "--json")
            judge_json(self.report, "listing-json", f"{name}: {listing.name}", run, expected)
        run = self.etagsum.run("check", "--listing", prefix, "--root", local / "sync", "--prefix", "sync/", "--json")
        in_prefix = [e for e in expected if e.key.startswith("sync/")]
        judge_json(self.report, "listing-prefix", "--prefix sync/ --root local/sync", run,
                   [Expect(e.key, local / e.key, e.verdict, e.size, e.local_size, e.etag, e.layout)
                    for e in in_prefix])
        run = self.etagsum.run("check", "--listing", full, "--root", local)
        judge_lines(self.report, "listing-text", "line output", run, expected)
        run = self.etagsum.run("check", "--listing", full, "--root", local, "--quiet")
        judge_lines(self.report, "listing-text", "--quiet", run, expected, quiet=True)

    def _listing_sane(self, full: Path, url: Path, url_page: Path, page: Path) -> None:
        """The saved listings are what the tests assume: every object with its ETag in quotes, in
        S3's order (UTF-8 bytes), and the URL-encoded ones really encoded."""
        contents = json.loads(full.read_text())["Contents"]
        got = [(c["Key"], c["Size"], c["ETag"]) for c in contents]
        want = [(o.key, o.size, f'"{o.etag}"') for o in self.listed]
        problems = []
        if got != want:
            problems.append(f"list-objects-v2 printed {got}, expected {want}")
        for listing, marker, encoded in ((url, None, True), (url_page, "url", True), (page, "url", False)):
            obj = json.loads(listing.read_text())
            keys = [c["Key"] for c in obj["Contents"]]
            if encoded and ("sync/hello%20world.txt" not in keys or "cp/six%2Bfive.bin" not in keys):
                problems.append(f"{listing.name}: keys are not encoded as assumed: {keys}")
            if not encoded and keys != [o.key for o in self.listed]:
                problems.append(f"{listing.name}: keys are not printed as they are: {keys}")
            if obj.get("EncodingType") != marker:
                problems.append(f"{listing.name}: EncodingType {obj.get('EncodingType')!r}, assumed {marker!r}")
        if problems:
            raise AssertionError("; ".join(problems))
        self.report.ok("listing-sane", "list-objects-v2", f"{len(contents)} keys in S3's order, "
                       "URL-encoded where asked")

    def expected(self, local: Path, changed: set[str] = frozenset(), deleted: set[str] = frozenset(),
                 added: list[str] = ()) -> list[Expect]:
        out = []
        for o in self.listed:
            path = local / o.key
            if o.key in deleted:
                out.append(Expect(o.key, path, "missing", o.size, None, o.etag))
            elif o.key in changed:
                out.append(Expect(o.key, path, "mismatch", o.size, o.size, o.etag, reason_code="digest_differs"))
            else:
                out.append(Expect(o.key, path, o.verdict, o.size, o.size, o.etag, o.layout,
                                  reason_code="not_reproduced" if o.verdict == "inconclusive" else None))
        for key in added:
            out.append(Expect(key, local / key, "extra", local_size=(local / key).stat().st_size))
        return out

    def test_changes(self) -> None:
        if not hasattr(self, "local"):
            self.report.fail("listing-changes", "setup", "no local copy (see the failure above)")
            return
        local = self.work / "changed"
        shutil.copytree(self.local, local)
        offset = flip_byte(local / CHANGED, f"{self.seed}:flip")
        (local / DELETED).unlink()
        generate(local / ADDED, 321, f"{self.seed}:added")
        full = self.work / "list.json"
        what = f"byte {offset} of {CHANGED!r} flipped, {DELETED!r} deleted, {ADDED!r} added"
        self.report.note(f"# changes: {what}")

        with_extra = self.expected(local, {CHANGED}, {DELETED}, [ADDED])
        without_extra = self.expected(local, {CHANGED}, {DELETED})
        run = self.etagsum.run("check", "--listing", full, "--root", local, "--json", "--extra")
        whole = judge_json(self.report, "changes-json", "--extra", run, with_extra)
        run_no_extra = self.etagsum.run("check", "--listing", full, "--root", local, "--json")
        judge_json(self.report, "changes-json", "without --extra", run_no_extra, without_extra)
        lines = self.etagsum.run("check", "--listing", full, "--root", local, "--extra")
        judge_lines(self.report, "changes-text", "--extra", lines, with_extra)
        quiet = self.etagsum.run("check", "--listing", full, "--root", local, "--extra", "--quiet")
        judge_lines(self.report, "changes-text", "--extra --quiet", quiet, with_extra, quiet=True)
        if whole is None:
            return
        for count in SHARD_COUNTS:
            shards = [(k, self.etagsum.run("check", "--listing", full, "--root", local, "--json", "--extra",
                                           "--shard", f"{k}/{count}")) for k in range(1, count + 1)]
            judge_shards(self.report, "shards", f"--shard K/{count} --extra", whole, run.rc, shards, count)
