"""Additional checksums (x-amz-checksum-*) end to end: uploads to moto's server, `etagsum` on them.

Every upload names an algorithm and a checksum type that S3 accepts, through a real client:

- boto3 `put_object(ChecksumAlgorithm=...)` for all five algorithms (a single PUT: full object), and
  with the SDK's default;
- boto3's low-level multipart API: `create_multipart_upload(ChecksumAlgorithm, ChecksumType)`,
  `upload_part` with the part's checksum and `complete_multipart_upload` with every part's checksum:
  FULL_OBJECT for CRC32, CRC32C and CRC64NVME, COMPOSITE for CRC32, CRC32C, SHA1 and SHA256, with
  uneven parts and with many parts;
- boto3's managed transfer (`upload_file` with a TransferConfig) with ChecksumAlgorithm, with
  ChecksumType, with SSE-KMS, and with the SDK's default;
- `aws s3 cp` at the aws cli's defaults, a multipart-sized file and a small one.

The value S3 would store is computed here, independently of etagsum and of the server, with zlib,
the crc32c package, awscrt and hashlib; the server's answers (GetObject and HeadObject with
ChecksumMode=ENABLED, GetObjectAttributes) are compared with it. Where moto answers otherwise than S3
does, the run says so in a `# moto differs from S3` note and tests what S3 does; an unexpected value
fails.

Then, per object: `etagsum verify` with the value as HeadObject shows it (composite values with their
`-N`), as GetObjectAttributes shows it (no `-N`, the type beside it), without the ETag, with the layout
guessed, with `--sse kms`, in quotes: always `match`, exit 0; on a copy with one byte changed never
`match`. `etagsum hash --checksum` prints the stored value (JSON and text). The right ETag with
another object's checksum, or the right checksum with an ETag that differs for the known layout, is
never OK. Hostile values exit 2 with a message, never a crash.

moto 5.2.5 computes composite and full-object values right (from the bytes, whatever part checksums
the client sent) and GetObject shows them as S3 does. It differs from S3 in what it shows and what it
accepts: HeadObject drops a composite value's `-N`; a single PUT's ChecksumType is never named;
GetObjectAttributes has no ObjectParts; CompleteMultipartUpload answers without the checksum; SSE-KMS
objects keep MD5 ETags; it accepts checksums that are not the bytes', FULL_OBJECT SHA1/SHA256 and
COMPOSITE CRC64NVME; a multipart upload naming no algorithm gets no checksum (S3: full-object
CRC64NVME). The run notes each of these it sees, so that a newer moto shows what changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from checks import Etagsum, Reporter, Run, _verdict_problems
from clients import CASES, UploadError, multipart_layout, read_remote
from datafiles import MIB, Layout, etag_for_layout, uniform_part_sizes

try:  # the independent implementations of CRC32C and CRC64NVME
    import crc32c
    from awscrt import checksums as crt_checksums

    IMPORT_ERROR = ""
except ImportError as e:
    crc32c = crt_checksums = None
    IMPORT_ERROR = str(e)

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
FULL, COMPOSITE = "FULL_OBJECT", "COMPOSITE"
TYPE_FLAG = {FULL: "full", COMPOSITE: "composite"}
# Text that means a crash, not a message.
CRASH_MARKERS = ("panicked", "Traceback", "RUST_BACKTRACE", "stack backtrace")
PART = 5 * MIB
AWS_DEFAULT = next(c for c in CASES if c.name == "aws-default")


# ---- the independent computation -------------------------------------------------------------

def raw_checksum(algorithm: str, data) -> bytes:
    """The algorithm's big-endian digest of `data`, as S3 encodes it before base64."""
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crc32c.crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crt_checksums.crc64nvme(data).to_bytes(8, "big")
    if algorithm == "SHA1":
        return hashlib.sha1(data).digest()
    if algorithm == "SHA256":
        return hashlib.sha256(data).digest()
    raise ValueError(f"unknown algorithm {algorithm}")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def s3_value(data: bytes, algorithm: str, checksum_type: str, part_sizes: list[int]) -> str:
    """The value S3 stores, as GetObject shows it: base64 of the digest of the whole object
    (FULL_OBJECT), or of the parts' digests concatenated, then `-N` (COMPOSITE)."""
    if checksum_type == FULL:
        return b64(raw_checksum(algorithm, data))
    view = memoryview(data)
    digests, offset = [], 0
    for size in part_sizes:
        digests.append(raw_checksum(algorithm, view[offset:offset + size]))
        offset += size
    if offset != len(data):
        raise ValueError(f"parts {part_sizes} do not add up to {len(data)} bytes")
    return f"{b64(raw_checksum(algorithm, b''.join(digests)))}-{len(digests)}"


def s3_type(algorithm: str, named: str | None, multipart: bool) -> str:
    """The checksum type S3 gives an object: a single PUT's is the whole object's; a multipart
    upload's is the one CreateMultipartUpload named, else COMPOSITE (FULL_OBJECT for CRC64NVME)."""
    if not multipart:
        return FULL
    if named:
        return named
    return FULL if algorithm == "CRC64NVME" else COMPOSITE


def bare(value: str) -> str:
    """A composite value without its `-N`, as GetObjectAttributes shows it."""
    return value.rsplit("-", 1)[0] if "-" in value else value


# ---- the uploads -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One upload: the client, what it names (None: its default) and the layout it must give."""

    name: str
    method: str  # "put", "lowlevel", "transfer" or "aws-cli"
    size: int
    algorithm: str | None = None
    checksum_type: str | None = None
    part_sizes: tuple[int, ...] = ()  # lowlevel: every part's size
    sse: str | None = None  # ServerSideEncryption

    def layout(self) -> Layout:
        if self.method == "put":
            return Layout.single()
        if self.method == "lowlevel":
            sizes = list(self.part_sizes)
            if uniform_part_sizes(self.size, sizes[0]) == sizes:
                return Layout.multipart(sizes[0], len(sizes))
            return Layout.explicit(sizes)
        if self.method == "transfer":
            return multipart_layout(self.size, PART) if self.size >= PART else Layout.single()
        return AWS_DEFAULT.expect(self.size)


SPECS = [
    *(Spec(f"put-{a.lower()}", "put", 3 * MIB + 7 + i, a) for i, a in enumerate(ALGORITHMS)),
    Spec("put-default", "put", 2 * MIB + 1),
    # Low-level multipart, every part's checksum sent with UploadPart and CompleteMultipartUpload.
    Spec("mpu-crc32-full-uneven", "lowlevel", 11 * MIB + 1234, "CRC32", FULL, (6 * MIB, 5 * MIB, 1234)),
    Spec("mpu-crc32c-full", "lowlevel", 10 * MIB + 777, "CRC32C", FULL, (PART, PART, 777)),
    Spec("mpu-crc64nvme-full-uneven", "lowlevel", 10 * MIB + 4099, "CRC64NVME", FULL,
         (PART + 4096, PART, 3)),
    Spec("mpu-crc32-composite", "lowlevel", 10 * MIB + 5, "CRC32", COMPOSITE, (PART, PART, 5)),
    Spec("mpu-crc32c-composite-uneven", "lowlevel", 11 * MIB + 1234, "CRC32C", COMPOSITE,
         (6 * MIB, 5 * MIB, 1234)),
    Spec("mpu-sha1-composite", "lowlevel", 2 * PART, "SHA1", COMPOSITE, (PART, PART)),
    Spec("mpu-sha256-composite-many", "lowlevel", 10 * PART + 4321, "SHA256", COMPOSITE,
         (*([PART] * 10), 4321)),
    # boto3 managed transfer, 5 MiB threshold and parts.
    Spec("transfer-crc32c", "transfer", 11 * MIB + 3, "CRC32C"),
    Spec("transfer-sha256", "transfer", 10 * MIB + 9, "SHA256"),
    Spec("transfer-crc64nvme", "transfer", 12 * MIB + 1, "CRC64NVME"),
    Spec("transfer-crc32-full", "transfer", 11 * MIB + 11, "CRC32", FULL),
    Spec("transfer-sha1-single", "transfer", 3 * MIB + 1, "SHA1"),
    Spec("transfer-default", "transfer", 10 * MIB + 2),
    Spec("transfer-kms-crc32c", "transfer", 11 * MIB + 5, "CRC32C", sse="aws:kms"),
    Spec("put-kms-sha256", "put", 1 * MIB + 3, "SHA256", sse="aws:kms"),
    # aws s3 cp at the cli's defaults (8 MiB threshold and parts).
    Spec("aws-cli-default", "aws-cli", 17 * MIB + 5),
    Spec("aws-cli-default-small", "aws-cli", 2 * MIB + 3),
]


@dataclass
class Obj:
    """An uploaded object, what S3 stores for it, and the local file."""

    spec: Spec
    path: Path
    etag: str  # quotes stripped
    layout: Layout
    algorithm: str
    checksum_type: str
    value: str  # as S3's GetObject and HeadObject show it: composite values end in -N
    corrupt: Path
    change: str

    @property
    def subject(self) -> str:
        return f"{self.spec.name} {self.algorithm} {self.checksum_type} layout={self.layout}"

    @property
    def composite(self) -> bool:
        return self.checksum_type == COMPOSITE

    def layout_args(self) -> list[str]:
        """The layout as `verify` takes it."""
        if self.layout.kind == "explicit":
            return ["--part-sizes", ",".join(map(str, self.layout.part_sizes))]
        if self.layout.kind == "multipart":
            return ["--part-size", str(self.layout.part_size)]
        return []

    def hash_layout_args(self) -> list[str] | None:
        """The layout as `hash` takes it, or None when it cannot name it (uneven parts)."""
        if self.layout.kind == "explicit":
            return None
        if self.layout.kind == "multipart":
            return ["--part-size", str(self.layout.part_size)]
        return ["--single"]


@dataclass
class Divergences:
    """Where moto answered otherwise than S3 does, and for which objects."""

    seen: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, what: str, name: str) -> None:
        if name not in self.seen[what]:
            self.seen[what].append(name)

    def notes(self) -> list[str]:
        return [f"# moto differs from S3: {what} ({', '.join(names)})" for what, names in self.seen.items()]


def _checksum_fields(response: dict) -> dict[str, str]:
    return {k.removeprefix("Checksum"): v for k, v in response.items()
            if k.startswith("Checksum") and k != "ChecksumType" and k.removeprefix("Checksum") in ALGORITHMS}


class ChecksumTests:
    def __init__(self, harness):
        self.h = harness
        self.report: Reporter = harness.report
        self.etagsum: Etagsum = harness.checker.etagsum
        self.s3 = harness.s3
        self.bucket = harness.clients.bucket
        self.files = harness.files
        self.moto = Divergences()
        self.objects: list[Obj] = []

    # ---- driver ---------------------------------------------------------------------------

    def run(self) -> None:
        if IMPORT_ERROR:
            self.report.fail("component", "crc32c, awscrt",
                             f"missing ({IMPORT_ERROR}); run scripts/setup-test-env.sh")
            return
        if not self._reference_values():
            return
        cli_ready = self._etagsum_has_checksums()
        for spec in SPECS:
            obj = []
            self.h._guarded(spec.name, lambda: obj.append(self._upload(spec)))
            if obj and obj[0] is not None:
                self.objects.append(obj[0])
                if cli_ready:
                    self.h._guarded(f"{spec.name} etagsum", self._check_object, obj[0])
        self.h._guarded("moto probes", self._probe_moto)
        if cli_ready:
            self.h._guarded("checksum disagreement", self._check_disagreement)
            self.h._guarded("several checksums", self._check_several)
            self.h._guarded("hostile checksum values", self._check_hostile)
        for note in self.moto.notes():
            self.report.note(note)

    def _reference_values(self) -> bool:
        """The CRC check values of s3-facts.md §5 and the SHA test vectors: the independent side
        must itself be right (the crc32c package, say, not a CRC32 fallback)."""
        expected = {
            "CRC32": "cbf43926", "CRC32C": "e3069283", "CRC64NVME": "ae8b14860a799888",
            "SHA1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
            "SHA256": "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
        }
        good = True
        for algorithm, want in expected.items():
            got = raw_checksum(algorithm, b"123456789").hex()
            if got == want:
                self.report.ok("reference", f"{algorithm}('123456789')", got)
            else:
                self.report.fail("reference", f"{algorithm}('123456789')", f"{got}, expected {want}")
                good = False
        return good

    def _etagsum_has_checksums(self) -> bool:
        run = self.etagsum.run("hash", "--help")
        if run.rc == 0 and "--checksum" in run.stdout:
            self.report.ok("component", "etagsum --checksum", "hash --help names it")
            return True
        self.report.fail("component", "etagsum --checksum",
                         f"`{self.etagsum.binary} hash --help` (exit {run.rc}) names no --checksum: "
                         "build etagsum from a tree with the checksum options")
        return False

    # ---- uploading and reading back ---------------------------------------------------------

    def _upload(self, spec: Spec) -> Obj | None:
        path = self.files.file(spec.size, spec.name)
        key = f"checksums/{spec.name}"
        try:
            completed = self._send(spec, path, key)
        except UploadError as e:
            self.report.fail("upload", spec.name, str(e))
            return None
        try:
            return self._read_back(spec, path, key, completed)
        finally:
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def _send(self, spec: Spec, path: Path, key: str) -> dict | None:
        """Upload; return CompleteMultipartUpload's response for a low-level multipart upload."""
        extra = {}
        if spec.algorithm:
            extra["ChecksumAlgorithm"] = spec.algorithm
        if spec.sse:
            extra["ServerSideEncryption"] = spec.sse
        try:
            if spec.method == "put":
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=path.read_bytes(), **extra)
            elif spec.method == "lowlevel":
                return self._multipart(spec, path, key)
            elif spec.method == "transfer":
                if spec.checksum_type:
                    extra["ChecksumType"] = spec.checksum_type
                config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
                self.s3.upload_file(str(path), self.bucket, key, Config=config, ExtraArgs=extra)
            else:
                self.h.clients.upload(AWS_DEFAULT, path, key)
            return None
        except UploadError:
            raise
        except Exception as e:  # boto3 raises several unrelated types
            raise UploadError(f"{spec.method}: {e!r}") from None

    def _multipart(self, spec: Spec, path: Path, key: str) -> dict:
        """CreateMultipartUpload naming the algorithm and type; each UploadPart with the part's
        checksum; CompleteMultipartUpload with every part's checksum, as the S3 documentation asks."""
        alg = spec.algorithm
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm=alg,
                                                    ChecksumType=spec.checksum_type)["UploadId"]
        try:
            parts = []
            with path.open("rb") as f:
                for number, size in enumerate(spec.part_sizes, start=1):
                    body = f.read(size)
                    value = b64(raw_checksum(alg, body))
                    response = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                                   Body=body, ChecksumAlgorithm=alg, **{f"Checksum{alg}": value})
                    parts.append({"PartNumber": number, "ETag": response["ETag"], f"Checksum{alg}": value})
            return self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                     MultipartUpload={"Parts": parts})
        except Exception:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _read_back(self, spec: Spec, path: Path, key: str, completed: dict | None) -> Obj | None:
        """Compare what the server says with what S3 would say; return the object as S3 has it."""
        name = spec.name
        remote = read_remote(self.s3, self.bucket, key)
        want_layout = spec.layout()
        problems = []
        if remote.size != spec.size:
            problems.append(f"server has {remote.size} bytes, the file {spec.size}")
        # HeadObject with PartNumber=1 gives part 1's size and the count, not the other parts' sizes.
        seen = want_layout if want_layout.kind != "explicit" else Layout.multipart(want_layout.part_size,
                                                                                   want_layout.parts)
        if remote.layout != seen:
            problems.append(f"layout read back {remote.layout}, expected {seen}")
        elif spec.sse == "aws:kms":
            # On S3 an SSE-KMS object's ETag is no MD5, so it cannot be checked against the bytes here.
            if etag_for_layout(path, want_layout) == remote.etag:
                self.moto.add("SSE-KMS objects keep MD5 ETags", name)
        elif etag_for_layout(path, want_layout) != remote.etag:
            problems.append(f"ETag {remote.etag} is not that of layout {want_layout}")
        if spec.sse and remote.sse != spec.sse:
            problems.append(f"ServerSideEncryption {remote.sse!r}, expected {spec.sse!r}")

        head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        got = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        got["Body"].close()
        attrs = self.s3.get_object_attributes(Bucket=self.bucket, Key=key,
                                              ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize"])
        from_get = _checksum_fields(got)
        if len(from_get) != 1:
            self.report.fail("server", name, f"GetObject with ChecksumMode=ENABLED shows {from_get or 'no checksum'}, "
                                             f"expected one (the upload sent {spec.algorithm or 'the default'})")
            return None
        algorithm, shown = next(iter(from_get.items()))
        if spec.algorithm and algorithm != spec.algorithm:
            problems.append(f"algorithm {algorithm}, the upload named {spec.algorithm}")
        multipart = want_layout.kind != "single"
        checksum_type = s3_type(algorithm, spec.checksum_type, multipart)
        part_sizes = (list(want_layout.part_sizes) if want_layout.kind == "explicit"
                      else uniform_part_sizes(spec.size, want_layout.part_size) if multipart else [spec.size])
        data = path.read_bytes()
        value = s3_value(data, algorithm, checksum_type, part_sizes)

        if shown != value:
            problems.append(f"GetObject shows {algorithm} {shown}, S3 stores {value} "
                            f"({checksum_type} over {len(part_sizes)} parts, computed here)")
        problems += self._compare_views(name, algorithm, checksum_type, value, head, got, attrs, multipart)
        if completed is not None:
            # S3 answers CompleteMultipartUpload with the object's checksum, as GetObject shows it.
            in_complete = _checksum_fields(completed).get(algorithm)
            if in_complete is None:
                self.moto.add("CompleteMultipartUpload answers without the object's checksum", name)
            elif in_complete != value:
                problems.append(f"CompleteMultipartUpload answers {algorithm} {in_complete}, S3 stores {value}")

        corrupt, change = self.files.corrupted(path)
        obj = Obj(spec, path, remote.etag, want_layout, algorithm, checksum_type, value, corrupt, change)
        if problems:
            self.report.fail("server", obj.subject, "; ".join(problems))
            return None
        if not spec.algorithm:
            self.report.note(f"# {name}: the client's default is {algorithm}; S3 stores it {checksum_type}")
        self.report.ok("server", obj.subject, f"{algorithm} {value}, etag {remote.etag}")
        return obj

    def _compare_views(self, name, algorithm, checksum_type, value, head, got, attrs, multipart) -> list[str]:
        """HeadObject shows what GetObject shows; GetObjectAttributes shows the value without `-N`;
        all three name the type (S3's answers as recorded in floci-io/floci#3083). Known differences
        of moto are noted, others are problems."""
        problems = []
        in_head = _checksum_fields(head).get(algorithm)
        if in_head != value:
            if checksum_type == COMPOSITE and in_head == bare(value):
                self.moto.add("HeadObject shows composite checksums without their -N", name)
            else:
                problems.append(f"HeadObject shows {algorithm} {in_head!r}, S3 shows {value}")
        checksum = attrs.get("Checksum") or {}
        in_attrs = checksum.get(f"Checksum{algorithm}")
        if in_attrs != bare(value):
            problems.append(f"GetObjectAttributes shows {algorithm} {in_attrs!r}, S3 shows {bare(value)}")
        for where, response in (("HeadObject", head), ("GetObject", got), ("GetObjectAttributes", checksum)):
            shown_type = response.get("ChecksumType")
            if shown_type is None:
                self.moto.add(f"{where} names no ChecksumType for "
                              f"{'a multipart upload that named none' if multipart else 'a single PUT'}", name)
            elif shown_type != checksum_type:
                problems.append(f"{where} says ChecksumType {shown_type}, S3 gives {checksum_type}")
        if multipart and not attrs.get("ObjectParts"):
            self.moto.add("GetObjectAttributes returns no ObjectParts", name)
        elif attrs.get("ObjectParts") and checksum_type == COMPOSITE:
            count = attrs["ObjectParts"].get("TotalPartsCount")
            if f"-{count}" != "-" + value.rsplit("-", 1)[1]:
                problems.append(f"ObjectParts.TotalPartsCount {count}, the value says {value}")
        return problems

    def _probe_moto(self) -> None:
        """What moto does with what S3 refuses or adds: a note each, never an assertion. S3 refuses
        a FULL_OBJECT SHA256 and a COMPOSITE CRC64NVME multipart upload, gives a multipart upload
        that names no algorithm a full-object CRC64NVME, and refuses a checksum that is not the
        bytes' (BadDigest), for a PutObject and for an UploadPart."""
        path = self.files.file(PART + 1, "probe")
        wrong = b64(bytes(4))
        key = "probe/wrong-put"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"hello", ChecksumCRC32=wrong)
            self.moto.add("it accepts a PutObject whose CRC32 is not the body's", "probe")
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception:  # what S3 does
            pass
        probes = (("SHA256", FULL, False), ("CRC64NVME", COMPOSITE, False), (None, None, False),
                  ("CRC32", COMPOSITE, True))
        for alg, checksum_type, wrong_parts in probes:
            key = f"probe/{alg}-{checksum_type}-{wrong_parts}"
            extra = {"ChecksumAlgorithm": alg, "ChecksumType": checksum_type} if alg else {}
            upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)["UploadId"]
            parts = []
            try:
                with path.open("rb") as f:
                    for number, size in enumerate([PART, 1], start=1):
                        part = {f"ChecksumCRC32": wrong} if wrong_parts else {}
                        r = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                PartNumber=number, Body=f.read(size), **part)
                        parts.append({"PartNumber": number, "ETag": r["ETag"], **part})
                self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
            except Exception:  # what S3 does: nothing to note
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                continue
            got = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            got["Body"].close()
            shown = _checksum_fields(got)
            self.s3.delete_object(Bucket=self.bucket, Key=key)
            if wrong_parts:
                self.moto.add(f"it accepts UploadPart and CompleteMultipartUpload with part CRC32s that are "
                              f"not the parts' (and stores {shown}, computed from the bytes)", "probe")
            elif alg:
                self.moto.add(f"it accepts a {checksum_type} {alg} multipart upload (S3 refuses it) "
                              f"and stores {shown}", "probe")
            elif "CRC64NVME" not in shown:
                self.moto.add(f"a multipart upload naming no checksum gets {shown or 'none'} "
                              f"(S3 stores a full-object CRC64NVME)", "probe")

    # ---- etagsum on each object ---------------------------------------------------------------

    def _check_object(self, o: Obj) -> None:
        alg, lower = o.algorithm, o.algorithm.lower()
        layout = o.layout_args()
        # A full-object value needs no layout; a composite one does (or the ETag to guess it from).
        alone_layout = layout if o.composite else []
        typed = ["--checksum-type", TYPE_FLAG[o.checksum_type]]
        sse = ["--sse", "kms"] if o.spec.sse == "aws:kms" else []
        self.verify(o, "cs-verify", [o.etag, "--checksum", f"{alg}={o.value}", *layout, *sse])
        self.verify(o, "cs-attributes", [o.etag, "--checksum", f"{lower}={bare(o.value)}", *typed, *layout, *sse])
        self.verify(o, "cs-bare", [o.etag, "--checksum", f"{alg}={bare(o.value)}", *layout, *sse])
        self.verify(o, "cs-alone", ["--checksum", f"{lower}={o.value}", *alone_layout])
        self.verify(o, "cs-alone-bare", ["--checksum", f"{alg}={bare(o.value)}", *typed, *alone_layout])
        self.verify(o, "cs-quoted", [o.etag, "--checksum", f'{alg}="{o.value}"', *layout, *sse])
        self.verify(o, "cs-sse-kms", [o.etag, "--checksum", f"{alg}={o.value}", *layout, "--sse", "kms"])
        if o.layout.kind != "explicit" and not o.spec.sse:
            # Layout guessed from the ETag, as for ETags alone (5 and 8 MiB are whole MiB).
            self.verify(o, "cs-guess", [o.etag, "--checksum", f"{alg}={o.value}"])
        if o.layout.kind == "multipart" and o.composite:
            # A composite value alone: its -N gives the part count, the part size is guessed.
            self.verify(o, "cs-alone-guess", ["--checksum", f"{alg}={o.value}"])
        if o.layout.kind == "explicit" and o.composite:
            # Uneven parts cannot be guessed: not known, so inconclusive, never a mismatch.
            self.verify(o, "cs-uneven-unknown", [o.etag, "--checksum", f"{alg}={o.value}"],
                        want={"inconclusive"})
        for check, args in (("cs-corrupt", [o.etag, "--checksum", f"{alg}={o.value}", *layout, *sse]),
                            ("cs-corrupt-alone", ["--checksum", f"{alg}={o.value}", *alone_layout]),
                            ("cs-corrupt-kms", [o.etag, "--checksum", f"{alg}={o.value}", *layout, "--sse", "kms"])):
            self.verify(o, check, args, want={"mismatch", "inconclusive"}, path=o.corrupt)
        self.hash_checks(o)

    def verify(self, o: Obj, check: str, args: list[str], want: set[str] = frozenset({"match"}),
               path: Path | None = None, entry_match: bool | None = None) -> dict | None:
        """`verify PATH ARGS --json`: the verdict in `want`, its exit status, and for a match the
        checksum's own entry saying match (for a changed file: not match)."""
        path = path or o.path
        run = self.etagsum.run("verify", path, *args, "--json")
        subject = o.subject + (f" ({o.change})" if path == o.corrupt else "")
        obj = self._json(check, subject, run)
        if obj is None:
            return None
        problems = _verdict_problems(run, obj, want)
        if entry_match is None:
            entry_match = want == {"match"}
        entry = _entry(obj, o.algorithm)
        if entry is None:
            problems.append(f"no entry for {o.algorithm} in `checksums`")
        elif entry_match and entry.get("verdict") != "match":
            problems.append(f"the {o.algorithm} entry says {entry.get('verdict')!r}")
        elif not entry_match and entry.get("verdict") == "match":
            problems.append(f"the {o.algorithm} entry says match for a value that is not this file's")
        if entry is not None and entry_match and entry.get("computed") != o.value:
            problems.append(f"computed {entry.get('computed')!r}, S3 shows {o.value}")
        if path == o.corrupt and run.rc == 0:
            problems.append("exit status 0 for a changed file")
        if problems:
            self.report.fail(check, subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, subject, f"{obj.get('verdict')} ({obj.get('reason_code')}), exit {run.rc}")
        return obj

    def hash_checks(self, o: Obj) -> None:
        """`hash --checksum ALG [--checksum-type T] LAYOUT FILE`: the stored value and the ETag, in
        JSON, in text and with --no-etag. The type is named when the upload named it, and left to
        etagsum's default otherwise (which must then be S3's)."""
        layout = o.hash_layout_args()
        # An SSE-KMS ETag is no MD5 on S3 (moto keeps the MD5): only the checksum is compared then.
        compare_etag = layout is not None and o.spec.sse != "aws:kms"
        if layout is None:
            if o.composite:
                return  # uneven composite parts: `hash` takes one part size, `verify --part-sizes` covers it
            layout = ["--part-size", str(o.layout.part_size)]  # a full-object value is the same for any layout
        named = ["--checksum-type", TYPE_FLAG[o.spec.checksum_type]] if o.spec.checksum_type else []
        options = ["--checksum", o.algorithm.lower(), *named, *layout]
        self.hash_json(o, "cs-hash", options, compare_etag)
        self.hash_json(o, "cs-hash-typed", ["--checksum", o.algorithm, "--checksum-type",
                                            TYPE_FLAG[o.checksum_type], *layout], compare_etag)
        if o.spec.method == "aws-cli":
            # No layout, no type: the aws cli's defaults, as `--uploader aws-cli` (the default) gives them.
            self.hash_json(o, "cs-hash-default", ["--checksum", o.algorithm.lower()], True)
        name = str(o.path)
        line = f"{o.algorithm} ({name}) = {o.value}"
        self.hash_text(o, "cs-hash-text", options,
                       [f"{o.etag}  {name}", line] if compare_etag else None, line)
        self.hash_text(o, "cs-hash-no-etag", [*options, "--no-etag"], [line], line)

    def hash_json(self, o: Obj, check: str, options: list[str], compare_etag: bool) -> None:
        run = self.etagsum.run("hash", *options, o.path, "--json")
        obj = self._json(check, o.subject, run)
        if obj is None:
            return
        problems = []
        if run.rc != 0:
            problems.append(f"exit status {run.rc}")
        got = [{k: c.get(k) for k in ("algorithm", "type", "value")} for c in obj.get("checksums") or []
               if isinstance(c, dict)]
        want = [{"algorithm": o.algorithm, "type": o.checksum_type, "value": o.value}]
        if got != want:
            problems.append(f"checksums {json.dumps(obj.get('checksums'))}, expected {json.dumps(want)}")
        if compare_etag and obj.get("etag") != o.etag:
            problems.append(f"etag {obj.get('etag')!r}, the server's is {o.etag}")
        if obj.get("size") != o.spec.size:
            problems.append(f"size {obj.get('size')!r}, expected {o.spec.size}")
        if problems:
            self.report.fail(check, o.subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, o.subject, f"hash {shlex.join(options)} = {o.value}")

    def hash_text(self, o: Obj, check: str, options: list[str], lines: list[str] | None, line: str) -> None:
        """The plain output: exactly `lines`, or (when the ETag line cannot be known) the checksum
        line after one ETag line."""
        run = self.etagsum.run("hash", *options, o.path)
        got = run.stdout.splitlines()
        good = run.rc == 0 and (got == lines if lines is not None else len(got) == 2 and got[1] == line)
        if good:
            self.report.ok(check, o.subject, got[-1])
        else:
            self.report.fail(check, o.subject, f"expected {lines or ['<etag line>', line]!r} and exit 0\n"
                             + run.describe())

    # ---- across objects -----------------------------------------------------------------------

    def _check_disagreement(self) -> None:
        """The right ETag with another object's checksum, and the right checksum with an ETag that is
        evidence against the file: never OK, and the checksum's entry is no match in the first case.

        The wrong ETag is the one the file would have with one byte changed, with the layout given:
        a digest that differs for a known layout. (Another object's multipart ETag is no evidence: a
        `-N` that no candidate layout reproduces is unknown, and the right checksum then decides.)"""
        for o in self.objects:
            other = self._other(o)
            if other is None:
                self.report.fail("cs-disagree", o.subject, "no other object with this algorithm to borrow from")
                continue
            layout = o.layout_args()
            sse = ["--sse", "kms"] if o.spec.sse == "aws:kms" else []
            self.verify(o, "cs-disagree", [o.etag, "--checksum", f"{o.algorithm}={other.value}", *layout, *sse],
                        want={"mismatch", "inconclusive"}, entry_match=False)
            wrong_etag = etag_for_layout(o.corrupt, o.layout)
            self._never_ok(o, "cs-disagree-etag", [wrong_etag, "--checksum", f"{o.algorithm}={o.value}", *layout],
                           f"the ETag {wrong_etag} of the file with one byte changed")

    def _other(self, o: Obj) -> Obj | None:
        """Another object's value of the same algorithm, preferring the same type and part count."""
        candidates = [x for x in self.objects if x is not o and x.algorithm == o.algorithm]
        candidates.sort(key=lambda x: (x.checksum_type != o.checksum_type, x.layout.parts != o.layout.parts))
        return candidates[0] if candidates else None

    def _never_ok(self, o: Obj, check: str, args: list[str], what: str) -> None:
        run = self.etagsum.run("verify", o.path, *args, "--json")
        obj = self._json(check, o.subject, run)
        if obj is None:
            return
        problems = _verdict_problems(run, obj, {"mismatch", "inconclusive"})
        if not str(obj.get("reason") or "").strip():
            problems.append("empty reason")
        if problems:
            self.report.fail(check, f"{o.subject} with {what}", "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, f"{o.subject} with {what}", f"{obj.get('verdict')} ({obj.get('reason_code')})")

    def _check_several(self) -> None:
        """Every algorithm from one `hash` call, each equal to the value computed here; `verify` with
        two checksums: both right is OK, one wrong is never OK."""
        o = next((x for x in self.objects if x.layout.kind == "multipart" and x.layout.parts > 2), None)
        if o is None:
            self.report.fail("cs-several", "hash", "no multipart object was uploaded")
            return
        data = o.path.read_bytes()
        sizes = uniform_part_sizes(o.spec.size, o.layout.part_size)
        want = []
        for a in ("CRC32C", "SHA256", "CRC64NVME", "CRC32", "SHA1"):
            t = s3_type(a, None, True)
            want.append({"algorithm": a, "type": t, "value": s3_value(data, a, t, sizes)})
        run = self.etagsum.run("hash", "--checksum", "crc32c,sha256", "--checksum", "CRC64NVME", "--checksum",
                               "crc32", "--checksum", "Sha1", "--part-size", str(o.layout.part_size), o.path, "--json")
        obj = self._json("cs-several", o.subject, run)
        if obj is not None:
            got = [{k: c.get(k) for k in ("algorithm", "type", "value")} for c in obj.get("checksums") or []
                   if isinstance(c, dict)]
            if run.rc == 0 and got == want and obj.get("etag") == o.etag:
                self.report.ok("cs-several", o.subject, "five checksums and the ETag in one call")
            else:
                self.report.fail("cs-several", o.subject, f"expected etag {o.etag} and {json.dumps(want)}\n"
                                 + run.describe())
        full = next(w["value"] for w in want if w["algorithm"] == "CRC64NVME")
        wrong = b64(bytes(8))
        pairs = [f"{o.algorithm}={o.value}", f"crc64nvme={full}"]
        self.verify(o, "cs-two", [o.etag, *sum((["--checksum", p] for p in pairs), []), *o.layout_args()])
        self._never_ok(o, "cs-two-one-wrong", [o.etag, "--checksum", f"{o.algorithm}={o.value}",
                                               "--checksum", f"CRC64NVME={wrong}", *o.layout_args()],
                       "a wrong CRC64NVME beside the right value")

    def _check_hostile(self) -> None:
        """Malformed values and unknown algorithms: exit 2, a message on stderr, no crash."""
        o = next((x for x in self.objects if x.spec.method == "put"), None)
        if o is None:
            self.report.fail("cs-hostile", "verify", "no single-PUT object was uploaded")
            return
        m = next((x for x in self.objects if x.composite), o)
        cases = [
            ("CRC32 of 8 bytes", ["--checksum", f"crc32={b64(bytes(8))}"]),
            ("CRC64NVME of 4 bytes", ["--checksum", f"crc64nvme={b64(bytes(4))}"]),
            ("SHA256 of 20 bytes", ["--checksum", f"sha256={b64(bytes(20))}"]),
            ("SHA1 of 32 bytes with the ETag", [o.etag, "--checksum", f"sha1={b64(bytes(32))}"]),
            ("bad base64", ["--checksum", "crc32=!!!!!!=="]),
            ("base64 without padding", ["--checksum", "crc32=AAAAAA"]),
            ("base64 of 3 bytes", ["--checksum", "crc32=AAAA"]),
            ("full-width digits", ["--checksum", "crc32=ＡＡＡＡＡＡ=="]),
            ("empty value", ["--checksum", "crc32="]),
            ("no value", ["--checksum", "crc32"]),
            ("no algorithm", ["--checksum", "=AAAAAA=="]),
            ("-0", ["--checksum", "crc32=AAAAAA==-0"]),
            ("-0 with the ETag", [m.etag, "--checksum", f"{m.algorithm}={bare(m.value)}-0", *m.layout_args()]),
            ("-99999999999", ["--checksum", "crc32c=AAAAAA==-99999999999"]),
            ("-99999999999 with the ETag", [m.etag, "--checksum", f"{m.algorithm}={bare(m.value)}-99999999999"]),
            ("trailing -", ["--checksum", "crc32=AAAAAA==-"]),
            ("-N of letters", ["--checksum", "crc32=AAAAAA==-x"]),
            ("unknown algorithm md5", ["--checksum", "md5=1B2M2Y8AsgTpgAmY7PhCfg=="]),
            ("unknown algorithm crc16", ["--checksum", "crc16=AAA="]),
            ("unknown algorithm xxhash64", ["--checksum", "xxhash64=AAAAAAAAAAA="]),
            ("unknown checksum type", ["--checksum", f"{o.algorithm}={o.value}", "--checksum-type", "sideways"]),
        ]
        for what, args in cases:
            target = m.path if args and args[0] == m.etag else o.path
            self._expect_error("cs-hostile", f"verify {what}", ["verify", target, *args])
        hash_cases = [
            ("unknown algorithm", ["--checksum", "md5"]),
            ("empty algorithm list", ["--checksum", ""]),
            ("unknown checksum type", ["--checksum", "crc32", "--checksum-type", "sideways"]),
            ("CRC64NVME composite", ["--checksum", "crc64nvme", "--checksum-type", "composite", "--part-size", "5MiB"]),
            ("SHA256 full-object on parts", ["--checksum", "sha256", "--checksum-type", "full", "--part-size", "5MiB"]),
            ("SHA1 full-object on parts", ["--checksum", "sha1", "--checksum-type", "full", "--part-size", "5MiB"]),
            ("composite on a single PUT", ["--checksum", "crc32", "--checksum-type", "composite", "--single"]),
            ("--no-etag without --checksum", ["--no-etag"]),
        ]
        for what, args in hash_cases:
            self._expect_error("cs-hostile", f"hash {what}", ["hash", *args, m.path])

    def _expect_error(self, check: str, subject: str, args: list) -> None:
        run = self.etagsum.run(*args)
        problems = []
        if run.rc != 2:
            problems.append(f"exit status {run.rc}, expected 2")
        if not run.stderr.strip():
            problems.append("nothing on stderr")
        crash = [m for m in CRASH_MARKERS if m in run.stderr or m in run.stdout]
        if crash:
            problems.append(f"crash text {crash}")
        if problems:
            self.report.fail(check, subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, subject, f"exit 2: {run.stderr.strip().splitlines()[0][:100]}")

    def _json(self, check: str, subject: str, run: Run) -> dict | None:
        try:
            return run.json_line()
        except ValueError as e:
            self.report.fail(check, subject, f"unreadable --json output ({e})\n{run.describe()}")
            return None


def _entry(obj: dict, algorithm: str) -> dict | None:
    for c in obj.get("checksums") or []:
        if isinstance(c, dict) and c.get("algorithm") == algorithm:
            return c
    return None



def run_checksum_tests(harness) -> None:
    """Run every checksum check; each reports its own lines."""
    ChecksumTests(harness).run()
