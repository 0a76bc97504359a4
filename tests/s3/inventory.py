"""S3 Inventory reports, built to AWS's documented format from a real versioned bucket, checked with
`etagsum check --listing manifest.json`.

A versioned source bucket on moto's server gets objects with old versions, a deleted key (its
latest version is a delete marker), a multipart upload and objects stored with SSE-KMS, DSSE-KMS,
SSE-C and SSE-S3. Every row of the reports comes from what the server says
(`ListObjectVersions`, `HeadObject` of each version): key, version id, latest flag, delete-marker
flag, size, last-modified date, ETag, storage class, multipart flag, encryption status. (moto
answers HeadObject of an SSE-C object without `SSECustomerAlgorithm`; that one row's status comes
from the upload request.)

Three reports, as S3 delivers them to a destination bucket (s3-facts.md section 8):
- `csv-all`: every version, CSV, two gzip data files without a header row, every field in double
  quotes, keys URL-encoded as Java's URLEncoder does (`+` for space, `/` as %2F);
- `csv-current`: current versions only (fewer columns), keys URL-encoded with `/` kept;
- `parquet-all`: every version, Parquet written by pyarrow, snake_case columns, keys as they are.
Each has `YYYY-MM-DDTHH-MMZ/manifest.json` and `manifest.checksum`, `data/UUID.csv.gz` (or
`.parquet`) and `hive/dt=.../symlink.txt`, uploaded to the destination bucket and fetched back
with `aws s3 sync`, which lays them out as `local/2026-12-01T01-00Z/manifest.json` and
`local/data/UUID.csv.gz`.

The local tree holds the latest version of every key that is not deleted, except that the
encrypted objects' files have other bytes of the same size: they must be INCONCLUSIVE, never a
mismatch, since their ETags are no MD5 on AWS; and one SSE-KMS object's file is a byte short: a
size that differs is a mismatch whatever the encryption. Old versions and delete markers must be
skipped: the old version of `docs/read me.txt` has another size and would be a mismatch otherwise.

Then broken reports, each refused with exit status 2 and a message naming the file: a wrong
MD5checksum, a missing data file, a truncated gzip stream, a row with a column too few, a truncated
Parquet file, an ORC report, a truncated manifest, and a truncated list-objects-v2 listing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import re
import shutil
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from checks import Etagsum, Reporter
from datafiles import MIB, Layout, etag_for_layout
from listings import generate, make_aws
from verdicts import Expect, judge_failure, judge_json

SOURCE = "etagsum-inventory-src"
DEST = "etagsum-inventory-dest"
DEST_PREFIX = "inventories"
STAMP = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
SSE_C_KEY = bytes(range(32))

CSV_ALL = ["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag",
           "StorageClass", "IsMultipartUploaded", "ReplicationStatus", "EncryptionStatus", "BucketKeyStatus",
           "ChecksumAlgorithm"]
CSV_CURRENT = [f for f in CSV_ALL if f not in ("VersionId", "IsLatest", "IsDeleteMarker")]
PARQUET_SCHEMA = (
    "message s3.inventory { required binary bucket (STRING); required binary key (STRING); "
    "optional binary version_id (STRING); optional boolean is_latest; optional boolean is_delete_marker; "
    "optional int64 size; optional int64 last_modified_date (TIMESTAMP(MILLIS,true)); "
    "optional binary e_tag (STRING); optional binary storage_class (STRING); "
    "optional boolean is_multipart_uploaded; optional binary replication_status (STRING); "
    "optional binary encryption_status (STRING); optional binary bucket_key_status (STRING); "
    "optional binary checksum_algorithm (STRING);}"
)
ORC_SCHEMA = ("struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,"
              "size:bigint,last_modified_date:timestamp,e_tag:string,storage_class:string>")


@dataclass(frozen=True)
class Put:
    """One upload to the source bucket: key, size, and how."""

    key: str
    size: int
    sse: str = "NOT-SSE"  # EncryptionStatus: NOT-SSE, SSE-S3, SSE-KMS, DSSE-KMS, SSE-C
    multipart: bool = False
    # What the local copy holds: "same" bytes, "other" bytes of the same size, "short" by one byte,
    # or "none" (no local file).
    local: str = "same"


PUTS = [
    Put("docs/read me.txt", 100, local="none"),  # the old version, replaced below
    Put("docs/read me.txt", 200),
    Put("docs/a+b ü~.bin", 3000),
    Put("big/multi part.bin", 11 * MIB + 1, multipart=True),
    Put("gone/deleted.txt", 50, local="none"),  # deleted below: a delete marker is its latest version
    Put("sse/kms.bin", 4000, "SSE-KMS", local="other"),
    Put("sse/dsse.bin", 4000, "DSSE-KMS", local="other"),
    Put("sse/customer.bin", 4000, "SSE-C", local="other"),
    Put("sse/s3.bin", 4000, "SSE-S3"),
    Put("sse/kms-short.bin", 4000, "SSE-KMS", local="short"),
]
DELETED = "gone/deleted.txt"
UPLOAD_SSE = {"SSE-KMS": {"ServerSideEncryption": "aws:kms"},
              "DSSE-KMS": {"ServerSideEncryption": "aws:kms:dsse"},
              "SSE-S3": {"ServerSideEncryption": "AES256"},
              "SSE-C": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}}
HEAD_SSE = {"aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS", "AES256": "SSE-S3"}


@dataclass
class Row:
    """One row of an inventory report, as the server describes the version."""

    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    size: int | None
    last_modified: datetime
    etag: str | None  # without quotes
    storage_class: str | None
    multipart: bool | None
    encryption: str | None
    checksum_algorithm: str | None


def java_url_encode(key: str) -> str:
    """As java.net.URLEncoder: letters, digits and `.-*_` kept, space as `+`, the rest %XX of UTF-8."""
    return urllib.parse.quote_plus(key, safe="*").replace("~", "%7E")


def url_encode_keep_slash(key: str) -> str:
    return urllib.parse.quote_plus(key, safe="/")


def aws_time(t: datetime) -> str:
    t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def csv_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def csv_gz(rows: list[Row], fields: list[str], encode) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for r in rows:
        values = {
            "Bucket": SOURCE, "Key": encode(r.key), "VersionId": r.version_id, "IsLatest": r.is_latest,
            "IsDeleteMarker": r.is_delete_marker, "Size": r.size, "LastModifiedDate": aws_time(r.last_modified),
            "ETag": r.etag, "StorageClass": r.storage_class, "IsMultipartUploaded": r.multipart,
            "ReplicationStatus": None, "EncryptionStatus": r.encryption,
            "BucketKeyStatus": "DISABLED" if r.encryption in ("SSE-KMS", "DSSE-KMS") else None,
            "ChecksumAlgorithm": r.checksum_algorithm,
        }
        writer.writerow([csv_value(values[f]) for f in fields])
    return gzip.compress(text.getvalue().encode(), mtime=0)


def parquet_bytes(rows: list[Row]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        pa.field("bucket", pa.string(), nullable=False), pa.field("key", pa.string(), nullable=False),
        ("version_id", pa.string()), ("is_latest", pa.bool_()), ("is_delete_marker", pa.bool_()),
        ("size", pa.int64()), ("last_modified_date", pa.timestamp("ms", tz="UTC")), ("e_tag", pa.string()),
        ("storage_class", pa.string()), ("is_multipart_uploaded", pa.bool_()),
        ("replication_status", pa.string()), ("encryption_status", pa.string()),
        ("bucket_key_status", pa.string()), ("checksum_algorithm", pa.string()),
    ])
    columns = {
        "bucket": [SOURCE] * len(rows), "key": [r.key for r in rows], "version_id": [r.version_id for r in rows],
        "is_latest": [r.is_latest for r in rows], "is_delete_marker": [r.is_delete_marker for r in rows],
        "size": [r.size for r in rows], "last_modified_date": [r.last_modified for r in rows],
        "e_tag": [r.etag for r in rows], "storage_class": [r.storage_class for r in rows],
        "is_multipart_uploaded": [r.multipart for r in rows], "replication_status": [None] * len(rows),
        "encryption_status": [r.encryption for r in rows],
        "bucket_key_status": ["DISABLED" if r.encryption in ("SSE-KMS", "DSSE-KMS") else None for r in rows],
        "checksum_algorithm": [r.checksum_algorithm for r in rows],
    }
    out = io.BytesIO()
    pq.write_table(pa.table(columns, schema=schema), out, row_group_size=3)
    return out.getvalue()


@dataclass
class Report:
    """One inventory configuration's delivery: its files by key in the destination bucket."""

    config: str
    files: dict[str, bytes]

    @property
    def base(self) -> str:
        return f"{DEST_PREFIX}/{SOURCE}/{self.config}"


def build_report(config: str, file_format: str, schema: str, data: list[tuple[str, bytes]]) -> Report:
    """manifest.json, manifest.checksum and symlink.txt for these data files (name suffix, bytes)."""
    rng = random.Random(f"inventory:{config}")
    base = f"{DEST_PREFIX}/{SOURCE}/{config}"
    files: dict[str, bytes] = {}
    entries = []
    for suffix, blob in data:
        key = f"{base}/data/{uuid.UUID(int=rng.getrandbits(128), version=4)}{suffix}"
        files[key] = blob
        entries.append({"key": key, "size": len(blob), "MD5checksum": hashlib.md5(blob).hexdigest()})
    manifest = {
        "sourceBucket": SOURCE,
        "destinationBucket": f"arn:aws:s3:::{DEST}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(STAMP.timestamp() * 1000)),
        "fileFormat": file_format,
        "fileSchema": schema,
        "files": entries,
    }
    text = json.dumps(manifest, indent=2).encode()
    stamp = STAMP.strftime("%Y-%m-%dT%H-%MZ")
    files[f"{base}/{stamp}/manifest.json"] = text
    files[f"{base}/{stamp}/manifest.checksum"] = hashlib.md5(text).hexdigest().encode()
    files[f"{base}/hive/dt={STAMP.strftime('%Y-%m-%d-%H-%M')}/symlink.txt"] = "".join(
        f"s3://{DEST}/{e['key']}\n" for e in entries).encode()
    return Report(config, files)


def rewrite_manifest(manifest: Path, change) -> None:
    """Apply `change` to the manifest's JSON object and rewrite it with its checksum."""
    obj = json.loads(manifest.read_text())
    change(obj)
    text = json.dumps(obj, indent=2).encode()
    manifest.write_bytes(text)
    (manifest.parent / "manifest.checksum").write_bytes(hashlib.md5(text).hexdigest().encode())


def reseal(manifest: Path, data_file: Path) -> None:
    """After a data file was changed on purpose: its size and MD5 in the manifest follow, so that
    what etagsum meets is the damage inside the file, not a checksum that differs."""
    blob = data_file.read_bytes()

    def change(obj):
        for f in obj["files"]:
            if f["key"].endswith("/" + data_file.name):
                f["size"] = len(blob)
                f["MD5checksum"] = hashlib.md5(blob).hexdigest()

    rewrite_manifest(manifest, change)


class InventoryTests:
    def __init__(self, harness):
        self.h = harness
        self.report: Reporter = harness.report
        self.etagsum = Etagsum(harness.args.etagsum.resolve())
        self.work = harness.workdir / "inventory"
        self.work.mkdir()
        self.s3 = harness.s3
        self.aws = make_aws(harness.args.venv / "bin", harness.server.url, self.work)
        self.seed = harness.args.seed
        self.stamp = STAMP.strftime("%Y-%m-%dT%H-%MZ")

    def run(self) -> None:
        g = self.h._guarded
        g("inventory: source bucket and reports", self.setup)
        if not hasattr(self, "local"):
            return
        g("inventory: reports", self.test_reports)
        g("inventory: broken reports", self.test_broken)

    # ---- the source bucket, its rows, the reports ----------------------------------

    def setup(self) -> None:
        import pyarrow  # noqa: F401  (a missing pyarrow is this test's failure, reported by the guard)

        s3 = self.s3
        s3.create_bucket(Bucket=SOURCE)
        s3.create_bucket(Bucket=DEST)
        s3.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
        src = self.work / "src"
        latest: dict[str, Put] = {}
        self.src_of: dict[str, Path] = {}
        for n, put in enumerate(PUTS):
            path = src / f"{n}"
            generate(path, put.size, f"{self.seed}:inventory:{n}")
            extra = UPLOAD_SSE.get(put.sse, {})
            config = TransferConfig(multipart_threshold=5 * MIB if put.multipart else 64 * MIB,
                                    multipart_chunksize=5 * MIB)
            s3.upload_file(str(path), SOURCE, put.key, Config=config, ExtraArgs=extra)
            latest[put.key] = put
            self.src_of[put.key] = path
        s3.delete_object(Bucket=SOURCE, Key=DELETED)

        rows = self.read_rows()
        self.rows = rows
        self.check_rows(rows, latest)

        # The local tree: latest versions, encrypted ones with other bytes, one file short.
        local = self.work / "tree"
        for key, put in latest.items():
            if key == DELETED or put.local == "none":
                continue
            target = local / key
            target.parent.mkdir(parents=True, exist_ok=True)
            data = self.src_of[key].read_bytes()
            if put.local == "other":
                data = bytes(b ^ 0x5A for b in data)
            elif put.local == "short":
                data = data[:-1]
            target.write_bytes(data)
        self.latest = latest

        reports = self.build_reports(rows)
        for report in reports:
            for key, blob in report.files.items():
                s3.put_object(Bucket=DEST, Key=key, Body=blob)
        fetched = self.work / "reports"
        self.aws("s3", "sync", f"s3://{DEST}/{DEST_PREFIX}/{SOURCE}/", fetched, "--only-show-errors", "--no-progress")
        for report in reports:
            for key, blob in report.files.items():
                path = fetched / key.removeprefix(f"{DEST_PREFIX}/{SOURCE}/")
                if not path.is_file() or path.read_bytes() != blob:
                    raise AssertionError(f"aws s3 sync did not bring {key} to {path} intact")
        self.reports = {r.config: fetched / r.config for r in reports}
        some = self.reports["csv-all"]
        self.report.ok("inventory-setup", f"{len(rows)} rows",
                       f"{sum(r.is_delete_marker for r in rows)} delete marker, "
                       f"{sum(not r.is_latest for r in rows)} old versions; fetched e.g. "
                       + ", ".join(sorted(p.relative_to(fetched).as_posix()[:40] for p in some.rglob("*")
                                          if p.is_file())))
        self.local = local

    def read_rows(self) -> list[Row]:
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=SOURCE)
        by_key: dict[str, list[Row]] = {}
        for page in pages:
            for v in page.get("Versions", []):
                head_args = {"Bucket": SOURCE, "Key": v["Key"], "VersionId": v["VersionId"]}
                put = next(p for p in PUTS if p.key == v["Key"])
                if put.sse == "SSE-C":
                    head_args |= {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}
                head = self.s3.head_object(**head_args)
                if head.get("SSECustomerAlgorithm") or put.sse == "SSE-C":
                    sse = "SSE-C"  # moto does not echo SSECustomerAlgorithm: the upload said so
                else:
                    sse = HEAD_SSE.get(head.get("ServerSideEncryption"), "NOT-SSE")
                etag = v["ETag"].strip('"')
                algorithms = v.get("ChecksumAlgorithm") or []
                by_key.setdefault(v["Key"], []).append(Row(
                    v["Key"], v["VersionId"], v["IsLatest"], False, v["Size"], v["LastModified"], etag,
                    v.get("StorageClass", "STANDARD"), "-" in etag, sse, algorithms[0] if algorithms else None))
            for m in page.get("DeleteMarkers", []):
                by_key.setdefault(m["Key"], []).append(Row(
                    m["Key"], m["VersionId"], m["IsLatest"], True, None, m["LastModified"], None, None, None,
                    None, None))
        rows = []
        for key in sorted(by_key):
            rows += sorted(by_key[key], key=lambda r: not r.is_latest)  # latest first, as S3 lists them
        return rows

    def check_rows(self, rows: list[Row], latest: dict[str, Put]) -> None:
        """The rows say what the tests assume (a sanity check of the harness, not of etagsum)."""
        problems = []
        for key, put in latest.items():
            mine = [r for r in rows if r.key == key]
            current = [r for r in mine if r.is_latest]
            if len(current) != 1:
                problems.append(f"{key}: {len(current)} latest rows")
                continue
            r = current[0]
            if key == DELETED:
                if not r.is_delete_marker or len(mine) != 2:
                    problems.append(f"{key}: expected a delete marker over one old version, got {mine}")
                continue
            layout = Layout.multipart(5 * MIB, 3) if put.multipart else Layout.single()
            want = etag_for_layout(self.src_of[key], layout)
            if (r.size, r.etag, r.encryption, r.multipart) != (put.size, want, put.sse, put.multipart):
                problems.append(f"{key}: row {r}, expected size {put.size} etag {want} {put.sse} "
                                f"multipart {put.multipart}")
        old = [r for r in rows if r.key == "docs/read me.txt" and not r.is_latest]
        if len(old) != 1 or old[0].size != 100:
            problems.append(f"docs/read me.txt: expected one old version of 100 bytes, got {old}")
        if problems:
            raise AssertionError("; ".join(problems))

    def build_reports(self, rows: list[Row]) -> list[Report]:
        current = [r for r in rows if r.is_latest and not r.is_delete_marker]
        half = len(rows) // 2
        return [
            build_report("csv-all", "CSV", ", ".join(CSV_ALL), [
                (".csv.gz", csv_gz(rows[:half], CSV_ALL, java_url_encode)),
                (".csv.gz", csv_gz(rows[half:], CSV_ALL, java_url_encode)),
            ]),
            build_report("csv-current", "CSV", ", ".join(CSV_CURRENT), [
                (".csv.gz", csv_gz(current, CSV_CURRENT, url_encode_keep_slash)),
            ]),
            build_report("parquet-all", "Parquet", PARQUET_SCHEMA, [
                (".parquet", parquet_bytes(rows[:half])),
                (".parquet", parquet_bytes(rows[half:])),
            ]),
        ]

    def manifest(self, config: str, base: Path | None = None) -> Path:
        return (base or self.reports[config]) / self.stamp / "manifest.json"

    # ---- the checks ---------------------------------------------------------------------

    def expected(self) -> list[Expect]:
        out = []
        for r in self.rows:
            if not r.is_latest or r.is_delete_marker:
                continue
            put = self.latest[r.key]
            path = self.local / r.key
            layout = Layout.multipart(5 * MIB, 3) if put.multipart else Layout.single()
            if put.local == "short":
                out.append(Expect(r.key, path, "mismatch", r.size, r.size - 1, r.etag, reason_code="size_differs"))
            elif put.local == "other":
                out.append(Expect(r.key, path, "inconclusive", r.size, r.size, r.etag, reason_code="encrypted"))
            else:
                out.append(Expect(r.key, path, "match", r.size, r.size, r.etag, layout))
        return out

    def test_reports(self) -> None:
        expected = self.expected()
        markers = sum(r.is_delete_marker for r in self.rows)
        old = sum(not r.is_latest and not r.is_delete_marker for r in self.rows)
        for config in self.reports:
            manifest = self.manifest(config)
            run = self.etagsum.run("check", "--listing", manifest, "--root", self.local, "--json")
            judge_json(self.report, "inventory", f"{config}: {manifest.relative_to(self.work)}", run, expected)
            if config.endswith("-all"):
                # The summary counts what was skipped: the delete marker and the old versions.
                said = [re.search(rf"\b{n}\b[^;,\n]*{what}", run.stderr) for n, what in
                        ((markers, "delete marker"), (old, "old version"))]
                if all(said):
                    self.report.ok("inventory-skips", config, "; ".join(m.group(0) for m in said))
                else:
                    self.report.fail("inventory-skips", config, f"the summary does not count {markers} delete "
                                     f"marker(s) and {old} old version(s)\n{run.describe()}")

    def _broken(self, name: str, config: str = "csv-all") -> tuple[Path, list[Path]]:
        """A copy of a fetched report to damage: its manifest and its data files, in manifest order."""
        base = self.work / "broken" / name
        shutil.copytree(self.reports[config], base)
        manifest = self.manifest(config, base)
        keys = [f["key"] for f in json.loads(manifest.read_text())["files"]]
        return manifest, [base / "data" / k.rsplit("/", 1)[1] for k in keys]

    def _refused(self, subject: str, listing: Path, names: list[str]) -> None:
        run = self.etagsum.run("check", "--listing", listing, "--root", self.local, "--json")
        judge_failure(self.report, "broken-listing", subject, run, names)

    def test_broken(self) -> None:
        manifest, data = self._broken("wrong-md5")
        rewrite_manifest(manifest, lambda m: m["files"][1].update(MD5checksum=hashlib.md5(b"other").hexdigest()))
        self._refused("MD5checksum differs", manifest, [data[1].name])

        manifest, data = self._broken("missing-data-file")
        data[1].unlink()
        self._refused("data file missing", manifest, [data[1].name])

        manifest, data = self._broken("truncated-gzip")
        blob = data[0].read_bytes()
        data[0].write_bytes(blob[: len(blob) // 2])
        reseal(manifest, data[0])
        self._refused("truncated gzip", manifest, [data[0].name])

        manifest, data = self._broken("column-missing")
        lines = gzip.decompress(data[0].read_bytes()).decode().splitlines(keepends=True)
        lines[1] = lines[1].rsplit(",", 1)[0] + "\n"  # the second row loses its last column
        data[0].write_bytes(gzip.compress("".join(lines).encode(), mtime=0))
        reseal(manifest, data[0])
        self._refused("a row with a column too few", manifest, [data[0].name])

        manifest, data = self._broken("truncated-parquet", "parquet-all")
        blob = data[1].read_bytes()
        data[1].write_bytes(blob[: len(blob) - 20])
        reseal(manifest, data[1])
        self._refused("truncated Parquet", manifest, [data[1].name])

        manifest, data = self._broken("orc")
        orc = data[0].with_name(data[0].name.replace(".csv.gz", ".orc"))
        orc.write_bytes(b"ORC" + bytes(61))

        def to_orc(m):
            m["fileFormat"] = "ORC"
            m["fileSchema"] = ORC_SCHEMA
            m["files"] = [{"key": m["files"][0]["key"].replace(".csv.gz", ".orc"), "size": orc.stat().st_size,
                           "MD5checksum": hashlib.md5(orc.read_bytes()).hexdigest()}]

        rewrite_manifest(manifest, to_orc)
        self._refused("ORC report", manifest, [str(manifest), "ORC"])

        manifest, _ = self._broken("truncated-manifest")
        text = manifest.read_bytes()
        manifest.write_bytes(text[: len(text) // 2])
        self._refused("truncated manifest.json", manifest, [str(manifest)])

        listing = self.work / "broken" / "list-objects-v2.json"
        text = self.aws("s3api", "list-objects-v2", "--bucket", SOURCE, "--output", "json")
        json.loads(text)  # whole, before it is cut
        listing.write_text(text[: len(text) * 2 // 3])
        self._refused("truncated list-objects-v2 JSON", listing, [str(listing)])
