"""The real uploaders and the part-size settings the harness runs them with.

`CASES` is the table of (client, part-size setting) pairs. Each case also says
which layout the uploader is expected to choose for a file size, following the
uploader's own rules (s3-facts.md section 3), so that a setting that silently
did not take effect shows up as a failure instead of testing the defaults twice.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from datafiles import MIB, Layout
from server import ACCESS_KEY, REGION, SECRET_KEY, client_environment

UPLOAD_TIMEOUT = 300


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def multipart_layout(size: int, part_size: int) -> Layout:
    """The layout of `size` bytes in parts of `part_size` as S3 reports it.

    With a single part, the first part is the whole file, so that is the part
    size S3 reports (and any part size >= the file gives the same ETag).
    """
    parts = max(1, _ceil_div(size, part_size))
    return Layout.multipart(part_size if parts > 1 else size, parts)


@dataclass(frozen=True)
class Case:
    """One client with one part-size setting, and the layout it should produce.

    The uploader goes multipart when the size reaches `threshold` (`size >=
    threshold`, or `size > threshold` when `inclusive` is False, as s3cmd does)
    and then cuts parts of `part_size` bytes.
    """

    name: str
    client: str
    setting: str  # what was configured, for messages
    threshold: int
    part_size: int
    inclusive: bool = True
    # True when etagsum should find the part size without a hint (whole MiB, an
    # uploader's default). False for arbitrary byte counts, where guessing may
    # legitimately end inconclusive (but never mismatch).
    guessable: bool = True
    # The uploader's name in etagsum's catalog (`etagsum uploaders`), for a case
    # that runs it at its defaults: a match must list it as consistent.
    catalog_name: str | None = None
    aws_config: dict[str, str] = field(default_factory=dict)
    transfer: dict[str, int] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    def expect(self, size: int) -> Layout:
        multipart = size >= self.threshold if self.inclusive else size > self.threshold
        return multipart_layout(size, self.part_size) if multipart else Layout.single()


CASES: list[Case] = [
    # aws cli v1 (s3transfer): multipart when size >= threshold (default 8 MiB).
    Case("aws-default", "aws", "defaults (8 MiB threshold, 8 MiB parts)", 8 * MIB, 8 * MIB,
         catalog_name="aws-cli"),
    Case("aws-5MB", "aws", "multipart_threshold = multipart_chunksize = 5MB (read as MiB)",
         5 * MIB, 5 * MIB, aws_config={"multipart_threshold": "5MB", "multipart_chunksize": "5MB"}),
    Case("aws-6MiB", "aws", "multipart_chunksize = 6MiB", 8 * MIB, 6 * MIB,
         aws_config={"multipart_chunksize": "6MiB"}),
    Case("aws-5300000", "aws", "multipart_threshold = multipart_chunksize = 5300000 bytes",
         5_300_000, 5_300_000, guessable=False,
         aws_config={"multipart_threshold": "5300000", "multipart_chunksize": "5300000"}),
    # boto3 upload_file (s3transfer in-process), same rule as the aws cli.
    Case("boto3-default", "boto3", "TransferConfig() (8 MiB threshold, 8 MiB parts)", 8 * MIB, 8 * MIB,
         catalog_name="aws-cli"),
    Case("boto3-5MiB", "boto3", "TransferConfig(multipart_threshold=5 MiB, multipart_chunksize=5 MiB)",
         5 * MIB, 5 * MIB, transfer={"multipart_threshold": 5 * MIB, "multipart_chunksize": 5 * MIB}),
    Case("boto3-10MB", "boto3", "TransferConfig(multipart_chunksize=10,000,000)",
         8 * MIB, 10_000_000, guessable=False, transfer={"multipart_chunksize": 10_000_000}),
    # s3cmd: multipart when size > chunk (default 15 MiB); whole MiB only.
    Case("s3cmd-default", "s3cmd", "defaults (15 MiB parts)", 15 * MIB, 15 * MIB, inclusive=False,
         catalog_name="s3cmd"),
    Case("s3cmd-5", "s3cmd", "--multipart-chunk-size-mb=5", 5 * MIB, 5 * MIB, inclusive=False,
         args=("--multipart-chunk-size-mb=5",)),
    Case("s3cmd-6", "s3cmd", "--multipart-chunk-size-mb=6", 6 * MIB, 6 * MIB, inclusive=False,
         args=("--multipart-chunk-size-mb=6",)),
    # rclone: multipart when size >= cutoff (default 200 MiB: every file here is a single PUT).
    Case("rclone-default", "rclone", "defaults (200 MiB cutoff, 5 MiB parts)", 200 * MIB, 5 * MIB,
         catalog_name="rclone"),
    Case("rclone-5M", "rclone", "--s3-upload-cutoff 0 --s3-chunk-size 5M", 0, 5 * MIB,
         args=("--s3-upload-cutoff", "0", "--s3-chunk-size", "5M")),
    # rclone 1.60 does not keep an arbitrary byte count: it passes the option on
    # as a MiB figure with three decimals (5243000B becomes 5242880, 6000000B
    # 5999951). 5376k is 5.25 MiB, which survives that exactly.
    Case("rclone-5376k", "rclone", "--s3-upload-cutoff 0 --s3-chunk-size 5376k (5.25 MiB)", 0, 5_505_024,
         guessable=False, args=("--s3-upload-cutoff", "0", "--s3-chunk-size", "5376k")),
]


class UploadError(Exception):
    """A client failed to upload; the message holds its command and output."""


def _run(cmd: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=UPLOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UploadError(f"timed out after {UPLOAD_TIMEOUT} s: {' '.join(cmd)}") from None
    if result.returncode != 0:
        raise UploadError(f"exit {result.returncode}: {' '.join(cmd)}\n"
                          f"stdout: {result.stdout.strip()}\nstderr: {result.stderr.strip()}")


class Clients:
    """Runs uploads for every client against one server and bucket."""

    def __init__(self, venv_bin: Path, endpoint: str, bucket: str, workdir: Path):
        self.venv_bin = venv_bin
        self.endpoint = endpoint
        self.bucket = bucket
        self.workdir = workdir
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.s3cmd_config = self._write_s3cmd_config()
        self.rclone_config = workdir / "rclone.conf"
        self.rclone_config.write_text("")
        self.s3 = make_boto3_client(endpoint)

    def upload(self, case: Case, path: Path, key: str) -> None:
        upload = {"aws": self._aws, "boto3": self._boto3, "s3cmd": self._s3cmd, "rclone": self._rclone}
        upload[case.client](case, path, key)

    def _aws(self, case: Case, path: Path, key: str) -> None:
        config = self.workdir / f"aws-config-{case.name}"
        lines = ["[default]", f"region = {REGION}"]
        if case.aws_config:
            lines.append("s3 =")
            lines += [f"    {k} = {v}" for k, v in case.aws_config.items()]
        config.write_text("\n".join(lines) + "\n")
        env = client_environment(self.home, {"AWS_CONFIG_FILE": str(config)})
        _run([str(self.venv_bin / "aws"), "s3", "cp", str(path), f"s3://{self.bucket}/{key}",
              "--endpoint-url", self.endpoint, "--only-show-errors", "--no-progress"], env)

    def _boto3(self, case: Case, path: Path, key: str) -> None:
        try:
            self.s3.upload_file(str(path), self.bucket, key, Config=TransferConfig(**case.transfer))
        except Exception as e:  # boto3 raises several unrelated types here
            raise UploadError(f"boto3 upload_file with {case.setting}: {e!r}") from None

    def _s3cmd(self, case: Case, path: Path, key: str) -> None:
        _run([str(self.venv_bin / "s3cmd"), "--config", str(self.s3cmd_config), "--no-progress",
              "put", str(path), f"s3://{self.bucket}/{key}", *case.args],
             client_environment(self.home))

    def _rclone(self, case: Case, path: Path, key: str) -> None:
        # rclone's backend is configured through RCLONE_CONFIG_<NAME>_* variables.
        # --s3-no-head: moto rejects the HEAD ?versionId=null rclone sends after an upload.
        env = client_environment(self.home, {
            "RCLONE_CONFIG": str(self.rclone_config),
            "RCLONE_CONFIG_MOTO_TYPE": "s3",
            "RCLONE_CONFIG_MOTO_PROVIDER": "Other",
            "RCLONE_CONFIG_MOTO_ENDPOINT": self.endpoint,
            "RCLONE_CONFIG_MOTO_ACCESS_KEY_ID": ACCESS_KEY,
            "RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY": SECRET_KEY,
            "RCLONE_CONFIG_MOTO_REGION": REGION,
            "RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE": "true",
        })
        _run(["rclone", "copyto", str(path), f"moto:{self.bucket}/{key}", "--s3-no-head",
              "--s3-no-check-bucket", "--retries", "1", "--low-level-retries", "1", *case.args], env)

    def _write_s3cmd_config(self) -> Path:
        host = self.endpoint.removeprefix("http://")
        path = self.workdir / "s3cmd.cfg"
        path.write_text("\n".join([
            "[default]",
            f"access_key = {ACCESS_KEY}",
            f"secret_key = {SECRET_KEY}",
            f"host_base = {host}",
            f"host_bucket = {host}",
            f"bucket_location = {REGION}",
            "use_https = False",
            "check_ssl_certificate = False",
            "signature_v2 = False",
            "proxy_host =",
            "proxy_port = 0",
            "",
        ]))
        return path


def make_boto3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
    )


@dataclass(frozen=True)
class Remote:
    """What the server says about an object."""

    etag: str  # quotes stripped
    size: int
    layout: Layout  # part 1's size and the part count, for a multipart ETag
    sse: str | None


def read_remote(s3, bucket: str, key: str) -> Remote:
    """The object's ETag and, for a multipart ETag, the part layout the uploader used.

    HeadObject with PartNumber=1 gives part 1's length and the part count. It is
    only asked of multipart objects (moto answers HTTP 500 for a part that does
    not exist).
    """
    head = s3.head_object(Bucket=bucket, Key=key)
    etag = head["ETag"].strip('"')
    size = head["ContentLength"]
    sse = head.get("ServerSideEncryption")
    if "-" not in etag:
        return Remote(etag, size, Layout.single(), sse)
    part = s3.head_object(Bucket=bucket, Key=key, PartNumber=1)
    parts = int(etag.rsplit("-", 1)[1])
    if part.get("PartsCount") not in (None, parts):
        raise UploadError(f"ETag {etag} has {parts} parts but PartsCount is {part.get('PartsCount')}")
    return Remote(etag, size, Layout.multipart(part["ContentLength"], parts), sse)


def upload_parts(s3, bucket: str, key: str, path: Path, part_sizes: list[int], **extra) -> None:
    """A multipart upload with exactly these part sizes, through the low-level API."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    try:
        parts = []
        with path.open("rb") as f:
            for number, size in enumerate(part_sizes, start=1):
                response = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                          PartNumber=number, Body=f.read(size))
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                     MultipartUpload={"Parts": parts})
    except Exception:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
