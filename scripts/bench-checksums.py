#!/usr/bin/env python3
"""Times the S3 additional checksums of `etagsum hash` against the ETag alone and against md5sum,
openssl md5, cksum, sha1sum and sha256sum on the same file in one run, and checks two targets.

Usage: scripts/bench-checksums.py [--size 1GiB] [--file PATH] [--runs 5] [--etagsum PATH] [--threads N]

Targets (exit status 1 if one is missed, so that the script can gate; 2 for any error):
  - ETag + CRC64NVME: `etagsum hash --part-size 8MiB --checksum crc64nvme FILE` takes at most 1.2 times
    as long as `etagsum hash --part-size 8MiB FILE`;
  - CRC64NVME alone: `etagsum hash --no-etag --checksum crc64nvme FILE` is at least 3 times faster than
    `md5sum FILE` (openssl md5 is shown beside it).
For information: each other algorithm alone (CRC32 and CRC32C full-object, SHA1 and SHA256 on a single
PUT, i.e. one stream), the ETag with a composite CRC32 on 8 MiB parts, the ETag with all five (each of
the type S3 stores by default on 8 MiB parts: CRC64NVME full-object, the others composite), and the
anchors `cksum -a crc`, `cksum -a crc32b` (where cksum has it), sha1sum, sha256sum, openssl sha256.

Every number is the best of --runs wall-clock times on a page-cached file (read once before timing).
The runs are interleaved: each round runs every command once, so that noise from other work on the
machine falls on all of them alike. Ratios are other_time / etagsum_time (above 1: etagsum faster),
except the ETag + checksum cost, which is time_with / time_without (at most 1.2 wanted). Each target
also shows the median of the round-by-round ratios.

Before timing, each etagsum command is run once and its output compared with values computed here:
the ETag and SHA values with hashlib, the CRCs with awscrt (zlib for CRC32). awscrt is taken from this
interpreter, or else from the repository's .venv (scripts/setup-test-env.sh makes it); without it the
CRC32C and CRC64NVME values go unchecked and the script says so. A wrong value stops the script with
exit status 2: the speed of a wrong answer means nothing.

The machine and the load average are printed first: numbers mean nothing without them.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

from benchlib import machine, make_file, parse_size, warm  # scripts/benchlib.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PART = 8 << 20
MAX_COST = 1.2     # ETag + CRC64NVME time / ETag time, at most
MIN_SPEEDUP = 3.0  # md5sum time / CRC64NVME time, at least
ALGS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
CHECKSUM_LINE = re.compile(r"^([A-Z0-9]+) \((.*)\) = (\S+)$")


def die(msg):
    """Errors (a command that fails, a wrong value) exit 2: 1 is kept for a missed target."""
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(2)


# ---- reference values -------------------------------------------------------------------------

def reference_values(path, part):
    """The values S3 would show for this file: ETag and composites on parts of `part` bytes, the
    full-object CRCs, and SHA1/SHA256 of a single PUT. CRC32C and CRC64NVME need awscrt; without it
    they are left out and listed under "unchecked"."""
    try:
        from awscrt import checksums as crt
    except ImportError:
        crt = None

    def b64(raw):
        return base64.b64encode(raw).decode()

    def be(v, n):
        return v.to_bytes(n, "big")

    crcs = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8}
    if crt:
        crc_fn = {"CRC32": crt.crc32, "CRC32C": crt.crc32c, "CRC64NVME": crt.crc64nvme}
    else:
        crc_fn = {"CRC32": lambda data, prev: zlib.crc32(data, prev)}
    full_crc = {a: 0 for a in crc_fn}
    full_sha = {"SHA1": hashlib.sha1(), "SHA256": hashlib.sha256()}
    # Raw per-part values, concatenated as the composite takes them.
    parts_raw = {a: bytearray() for a in ("MD5", "SHA1", "SHA256", "CRC32", "CRC32C")}
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(part)
            if not chunk and n > 0:
                break
            n += 1
            for a, fn in crc_fn.items():
                full_crc[a] = fn(chunk, full_crc[a])
                if a != "CRC64NVME":  # no composite CRC64NVME
                    parts_raw[a] += be(fn(chunk, 0), crcs[a])
            for a, h in full_sha.items():
                h.update(chunk)
            for a in ("MD5", "SHA1", "SHA256"):
                parts_raw[a] += hashlib.new(a.lower(), chunk).digest()
            if not chunk:
                break
    values = {
        "etag": f"{hashlib.md5(parts_raw['MD5']).hexdigest()}-{n}",
        "FULL_OBJECT": {a: b64(be(v, crcs[a])) for a, v in full_crc.items()},
        "COMPOSITE": {},
        "unchecked": [a for a in crcs if a not in crc_fn],
    }
    values["FULL_OBJECT"].update({a: b64(h.digest()) for a, h in full_sha.items()})
    for a in ("SHA1", "SHA256"):
        values["COMPOSITE"][a] = f"{b64(hashlib.new(a.lower(), parts_raw[a]).digest())}-{n}"
    for a in ("CRC32", "CRC32C"):
        if a in crc_fn:
            values["COMPOSITE"][a] = f"{b64(be(crc_fn[a](bytes(parts_raw[a]), 0), 4))}-{n}"
    return values


def reference(path, part):
    """reference_values() here if awscrt imports, else in the repository's .venv interpreter."""
    try:
        import awscrt  # noqa: F401
        return reference_values(path, part)
    except ImportError:
        pass
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    if os.access(venv, os.X_OK):
        p = subprocess.run([venv, os.path.abspath(__file__), "--reference-only", path, str(part)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode == 0:
            values = json.loads(p.stdout)
            if not values["unchecked"]:
                return values
    return reference_values(path, part)


def check_output(name, out, expect_etag, expect, ref):
    """Compare one command's plain output with the reference: the ETag line (unless --no-etag),
    then one line per checksum, in the order asked. Returns the number of values compared."""
    lines = out.decode(errors="replace").splitlines()
    fail = lambda why: die(f"wrong output from `{name}`: {why}\noutput:\n" + "\n".join(lines))
    if expect_etag:
        if not lines or lines[0].split()[0] != ref["etag"]:
            fail(f"ETag line should start with {ref['etag']}")
        lines_cs = lines[1:]
    else:
        lines_cs = lines
    if len(lines_cs) != len(expect):
        fail(f"{len(expect)} checksum line(s) expected")
    compared = int(expect_etag)
    for line, (alg, typ) in zip(lines_cs, expect):
        m = CHECKSUM_LINE.match(line)
        if not m or m.group(1) != alg:
            fail(f"a line `{alg} (NAME) = VALUE` expected, got `{line}`")
        want = ref[typ].get(alg)
        if want is None:
            continue  # no independent value for this algorithm (awscrt missing), said above
        if m.group(3) != want:
            fail(f"{alg} {typ} should be {want}, got {m.group(3)}")
        compared += 1
    return compared


# ---- timing ---------------------------------------------------------------------------------

def run(cmd, stdout=subprocess.DEVNULL):
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        die(f"{' '.join(cmd)} failed with status {p.returncode}: "
                 f"{p.stderr.decode(errors='replace').strip()}")
    return dt, p


def works(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--reference-only":
        # Internal: run by reference() in an interpreter that has awscrt.
        print(json.dumps(reference_values(sys.argv[2], int(sys.argv[3]))))
        return 0

    sys.stdout.reconfigure(line_buffering=True)  # the header before any error, even through a pipe
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1GiB", help="size of the generated file (default 1GiB)")
    ap.add_argument("--file", help="time this file instead (never rewritten)")
    ap.add_argument("--runs", type=int, default=5, help="rounds; each number is the best of them")
    ap.add_argument("--etagsum", default=os.path.join(ROOT, "target", "release", "etagsum"))
    ap.add_argument("--threads", type=int, help="passed as `etagsum --threads N`")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    if args.file:
        path = args.file
        size = os.path.getsize(path)
    else:
        size = parse_size(args.size)
        path = os.path.join(tempfile.gettempdir(), f"etagsum-bench-{size}.bin")
        make_file(path, size)
    es = args.etagsum
    if not os.access(es, os.X_OK):
        die(f"{es} is not built; run cargo build --release")
    base = [es] + (["--threads", str(args.threads)] if args.threads else [])

    print(f"machine: {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"file: {path}, {size} bytes, page-cached; best of {args.runs} interleaved rounds"
          + (f"; etagsum --threads {args.threads}" if args.threads else ""))

    F, C = "FULL_OBJECT", "COMPOSITE"
    all_five = [("CRC64NVME", F), ("CRC32", C), ("CRC32C", C), ("SHA1", C), ("SHA256", C)]
    # (label, argv after `etagsum`, ETag line expected, checksums expected in order)
    es_cases = [
        ("etag", "hash --part-size 8MiB", True, []),
        ("etag+crc64", "hash --part-size 8MiB --checksum crc64nvme", True, [("CRC64NVME", F)]),
        ("crc64", "hash --no-etag --checksum crc64nvme", False, [("CRC64NVME", F)]),
        ("crc32", "hash --no-etag --checksum crc32 --checksum-type full", False, [("CRC32", F)]),
        ("crc32c", "hash --no-etag --checksum crc32c --checksum-type full", False, [("CRC32C", F)]),
        ("sha1", "hash --no-etag --single --checksum sha1", False, [("SHA1", F)]),
        ("sha256", "hash --no-etag --single --checksum sha256", False, [("SHA256", F)]),
        ("etag+crc32", "hash --part-size 8MiB --checksum crc32", True, [("CRC32", C)]),
        ("etag+all", "hash --part-size 8MiB --checksum crc64nvme,crc32,crc32c,sha1,sha256", True, all_five),
    ]
    anchors = [("md5sum", ["md5sum", path]), ("openssl md5", ["openssl", "md5", path])]
    crc_cmd = ["cksum", "-a", "crc"] if works(["cksum", "-a", "crc", "/dev/null"]) else ["cksum"]
    for name, cmd in [
        (" ".join(crc_cmd), crc_cmd + [path]),
        ("cksum -a crc32b", ["cksum", "-a", "crc32b", path]),
        ("sha1sum", ["sha1sum", path]),
        ("sha256sum", ["sha256sum", path]),
        ("openssl sha256", ["openssl", "sha256", path]),
    ]:
        if shutil.which(cmd[0]) and works(cmd[:-1] + ["/dev/null"]):
            anchors.append((name, cmd))
    for name, cmd in anchors[:2]:
        if not shutil.which(cmd[0]):
            die(f"{cmd[0]} is needed as an anchor and is not installed")

    ref = reference(path, PART)
    if ref["unchecked"]:
        print(f"note: awscrt is not importable here nor in {os.path.join(ROOT, '.venv')}: "
              f"{', '.join(ref['unchecked'])} values are not checked against an independent value")
    cases = []  # (label, display name, argv)
    compared = 0
    for label, rest, etag, expect in es_cases:
        cmd = base + rest.split() + [path]
        shown = "etagsum " + rest  # --threads is in the header
        _, p = run(cmd, stdout=subprocess.PIPE)
        compared += check_output(shown, p.stdout, etag, expect, ref)
        cases.append((label, shown, cmd))
    print(f"outputs checked: {compared} values from {len(es_cases)} etagsum commands agree with "
          "hashlib/zlib" + ("" if ref["unchecked"] else "/awscrt"))
    for name, cmd in anchors:
        cases.append((name, name, cmd))

    warm(path)
    times = {label: [] for label, _, _ in cases}
    for _ in range(args.runs):
        for label, _, cmd in cases:
            times[label].append(run(cmd)[0])
    best = {label: min(ts) for label, ts in times.items()}

    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    width = max(len(shown) for _, shown, _ in cases) + 1
    md5 = best["md5sum"]
    print(f"{'command (FILE omitted)':<{width}} {'best':>9} {'GB/s':>6}  {'md5sum/this':>11}")
    for label, shown, _ in cases:
        t = best[label]
        print(f"{shown:<{width}} {t:7.3f} s {size / t / 1e9:6.2f}  {md5 / t:10.2f}x")

    def median_ratio(num, den):
        return statistics.median(a / b for a, b in zip(times[num], times[den]))

    cost = best["etag+crc64"] / best["etag"]
    speed = md5 / best["crc64"]
    speed_ssl = best["openssl md5"] / best["crc64"]
    ok_cost, ok_speed = cost <= MAX_COST, speed >= MIN_SPEEDUP
    print("\ntargets:")
    print(f"  ETag+CRC64NVME / ETag time (8 MiB parts): {cost:5.2f} (round by round, median "
          f"{median_ratio('etag+crc64', 'etag'):.2f}); at most {MAX_COST}: {'PASS' if ok_cost else 'FAIL'}")
    print(f"  md5sum / CRC64NVME alone time:            {speed:5.2f} (round by round, median "
          f"{median_ratio('md5sum', 'crc64'):.2f}); at least {MIN_SPEEDUP}: {'PASS' if ok_speed else 'FAIL'}")
    print(f"  openssl md5 / CRC64NVME alone time:       {speed_ssl:5.2f} (for information)")
    return 0 if ok_cost and ok_speed else 1


if __name__ == "__main__":
    sys.exit(main())
