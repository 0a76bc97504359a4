#!/usr/bin/env python3
"""Times `etagsum check --listing` on a tree of small files against `find | xargs md5sum` on the same
files in one run, and measures peak memory and time on a listing of a million keys.

Usage:
    scripts/bench-check.py [--files 10000] [--size 64KiB] [--runs 5] [--etagsum PATH] [--dir DIR]
    scripts/bench-check.py --scale [--keys 1000000] [--real 100000] [--real-size 1KiB] [--etagsum PATH]

Default mode: FILES files of SIZE bytes in a temporary directory (read once before timing, so that
every command reads from the page cache), and a listing of them shaped as `aws s3api
list-objects-v2` prints it, with ETags computed here with hashlib. Timed, best of RUNS, the runs of
the commands taking turns:
  - etagsum check --listing LISTING --root DIR (every object must be OK, checked before timing)
  - find DIR -type f | xargs md5sum > /dev/null
  - find DIR -type f | xargs -P2 -n 256 md5sum > /dev/null   (two processes, for fairness)
  - find DIR -type f | xargs openssl md5 > /dev/null
Ratios are other_time / etagsum_time: above 1 means etagsum is faster. The target is etagsum at least
3 times faster than `find | xargs md5sum`; the script says whether it is met (exit status 1 if not).

--scale: a listing of KEYS keys (about 300 bytes of indented JSON each, as the cli prints them: a
million keys is about 300 MB), of which REAL name real files of REAL_SIZE bytes and the rest name
files that do not exist (a bucket only partly copied: the cheap way to have a million keys without
a million files). Then a listing of the REAL files alone (all OK). The first also with --extra, which keeps 16 bytes per
listed key to tell extra files apart. For each, the wall time and the
peak resident memory of etagsum (ru_maxrss of the child, from wait4); each must stay under 256 MiB
(exit status 1 if not).

The machine is printed first: numbers mean nothing without it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import machine, parse_size  # scripts/benchlib.py, beside this script
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 3.0
RSS_LIMIT = 256 * 1024 * 1024


def find_etagsum(given: str | None) -> Path:
    if given:
        return Path(given).resolve()
    for profile in ("release", "debug"):
        path = ROOT / "target" / profile / "etagsum"
        if path.is_file():
            if profile == "debug":
                print("warning: using a debug build; build with cargo build --release", file=sys.stderr)
            return path
    sys.exit("bench-check: no etagsum binary; build it with cargo build --release or pass --etagsum")


def listing_entry(key: str, etag: str, size: int) -> str:
    """One element of `Contents`, indented as the aws cli prints it."""
    return (
        "        {\n"
        f"            \"Key\": {json.dumps(key)},\n"
        "            \"LastModified\": \"2026-12-01T00:00:00.000Z\",\n"
        f"            \"ETag\": \"\\\"{etag}\\\"\",\n"
        "            \"ChecksumAlgorithm\": [\n"
        "                \"CRC32\"\n"
        "            ],\n"
        "            \"ChecksumType\": \"FULL_OBJECT\",\n"
        f"            \"Size\": {size},\n"
        "            \"StorageClass\": \"STANDARD\"\n"
        "        }"
    )


def write_listing(path: Path, entries) -> int:
    """Write a list-objects-v2-shaped listing of (key, etag, size), streamed; returns its size."""
    with path.open("w") as f:
        f.write("{\n    \"Contents\": [\n")
        first = True
        for key, etag, size in entries:
            if not first:
                f.write(",\n")
            f.write(listing_entry(key, etag, size))
            first = False
        f.write("\n    ],\n    \"RequestCharged\": null,\n    \"Prefix\": \"\"\n}\n")
    return path.stat().st_size


def file_key(i: int) -> str:
    return f"data/d{i // 1000:04d}/f{i:07d}.bin"


def make_files(root: Path, count: int, size: int) -> list[tuple[str, str, int]]:
    """COUNT files of SIZE incompressible bytes; returns (key, md5, size) in S3's key order."""
    out = []
    seed = os.urandom(16)
    for i in range(count):
        key = file_key(i)
        path = root / key
        if i % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Fast, distinct content: a hash chain seeds each file, then random bytes fill it.
        data = hashlib.sha256(seed + i.to_bytes(8, "little")).digest() + os.urandom(max(0, size - 32))
        data = data[:size]
        path.write_bytes(data)
        out.append((key, hashlib.md5(data).hexdigest(), size))
    out.sort(key=lambda e: e[0].encode())
    return out


def warm(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(1 << 20):
                    pass


GNU_TIME = "/usr/bin/time"


def timed(cmd, shell: bool = False, rss: bool = False) -> tuple[float, int, int]:
    """Run a command with its output discarded; returns (seconds, exit status, peak resident memory
    in bytes, or 0 when not asked for).

    Peak memory comes from GNU time (`/usr/bin/time -f %M`) when it is installed: it forks the
    command from its own small image, so the figure is the command's. Without it, ru_maxrss from
    wait4 on the command itself, which cannot be below what this script's image weighed when it
    started the command (Linux keeps a process's peak across exec); the floor is printed.
    """
    gnu_time = rss and os.access(GNU_TIME, os.X_OK) and not shell
    if gnu_time:
        cmd = [GNU_TIME, "-f", "etagsum-bench-maxrss-kib=%M", *cmd]
    # /dev/null opened write-only, as a shell's `>/dev/null` opens it: etagsum takes a standard
    # output on /dev/null opened read-write (what subprocess.DEVNULL gives) for a closed one.
    with open(os.devnull, "wb") as null:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, shell=shell, stdin=subprocess.DEVNULL, stdout=null, stderr=subprocess.PIPE)
    stderr = p.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t
    peak = usage.ru_maxrss * 1024 if rss else 0
    if gnu_time:
        lines = [line for line in stderr.splitlines() if line.startswith("etagsum-bench-maxrss-kib=")]
        if not lines:
            sys.exit(f"bench-check: {GNU_TIME} printed no peak memory: {stderr[-2000:]}")
        peak = int(lines[-1].split("=", 1)[1]) * 1024
    if p.returncode not in (0, 1, 3):
        sys.exit(f"bench-check: {cmd} failed with status {p.returncode}: {stderr[-2000:]}")
    return elapsed, p.returncode, peak


def peak_method() -> str:
    if os.access(GNU_TIME, os.X_OK):
        return f"{GNU_TIME} -f %M (the command's own peak)"
    _, _, floor = timed(["/bin/sh", "-c", "exit 0"], rss=True)
    return (f"ru_maxrss from wait4, no less than {floor / 2**20:.1f} MiB (what `sh -c 'exit 0'` shows: "
            "a child starts with this script's peak); install GNU time for the command's own figure")


def check_all_ok(etagsum: Path, listing: Path, root: Path, count: int) -> None:
    p = subprocess.run([str(etagsum), "check", "--listing", str(listing), "--root", str(root), "--json"],
                       capture_output=True, text=True)
    verdicts = [json.loads(line).get("verdict") for line in p.stdout.splitlines()]
    if p.returncode != 0 or len(verdicts) != count or set(verdicts) != {"match"}:
        sys.exit(f"bench-check: etagsum does not say OK for every file (exit {p.returncode}, "
                 f"{len(verdicts)} lines, verdicts {sorted(set(map(str, verdicts)))}): {p.stderr[-2000:]}")


def compare(args, etagsum: Path) -> int:
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="etagsum-bench-check-"))
    root = work / "tree"
    try:
        print(f"# {args.files} files of {args.size} bytes in {root}", flush=True)
        entries = make_files(root, args.files, args.size)
        listing = work / "list.json"
        size = write_listing(listing, entries)
        print(f"# listing: {listing} ({size / 1e6:.1f} MB)", flush=True)
        warm(root)
        check_all_ok(etagsum, listing, root, args.files)

        q = shlex_quote(str(root))
        commands = {
            "etagsum check --listing": [str(etagsum), "check", "--listing", str(listing), "--root", str(root)],
            "find | xargs md5sum": f"find {q} -type f -print0 | xargs -0 md5sum > /dev/null",
            "find | xargs -P2 -n 256 md5sum": f"find {q} -type f -print0 | xargs -0 -P2 -n 256 md5sum > /dev/null",
        }
        if shutil.which("openssl"):
            commands["find | xargs openssl md5"] = f"find {q} -type f -print0 | xargs -0 openssl md5 > /dev/null"
        best = {name: float("inf") for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                elapsed, _, _ = timed(cmd, shell=isinstance(cmd, str))
                best[name] = min(best[name], elapsed)
        total = args.files * args.size
        mine = best["etagsum check --listing"]
        print(f"{'command':<34} {'best of ' + str(args.runs):>12} {'MB/s':>8} {'files/s':>9} {'ratio':>7}")
        for name, t in best.items():
            print(f"{name:<34} {t:>10.3f} s {total / t / 1e6:>8.0f} {args.files / t:>9.0f} {t / mine:>6.2f}x")
        ratio = best["find | xargs md5sum"] / mine
        met = ratio >= TARGET_RATIO
        print(f"target: etagsum at least {TARGET_RATIO:g}x faster than `find | xargs md5sum`: "
              f"{'met' if met else 'NOT met'} ({ratio:.2f}x; against xargs -P2: "
              f"{best['find | xargs -P2 -n 256 md5sum'] / mine:.2f}x)")
        return 0 if met else 1
    finally:
        if not args.dir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def make_scale_data(args, root: Path, big: Path, small: Path) -> None:
    """The files and the two listings of --scale. Run in a child process, so that the memory it
    takes is never the measuring process's: a child inherits its parent's peak resident memory in
    ru_maxrss (Linux counts the memory a process had when it called exec)."""
    print(f"# {args.real} real files of {args.real_size} bytes in {root}", flush=True)
    t = time.perf_counter()
    real = make_files(root, args.real, args.real_size)
    print(f"# made in {time.perf_counter() - t:.0f} s", flush=True)
    # KEYS keys: the real files, and keys beside them that name no file (a copy not yet finished).
    known = {k: (e, s) for k, e, s in real}

    def all_entries():
        for k in sorted((file_key(i) for i in range(args.keys)), key=str.encode):
            e, s = known.get(k, (hashlib.md5(k.encode()).hexdigest(), args.real_size))
            yield k, e, s

    t = time.perf_counter()
    size = write_listing(big, all_entries())
    print(f"# listing of {args.keys} keys ({args.real} real): {size / 1e6:.0f} MB, "
          f"written in {time.perf_counter() - t:.0f} s", flush=True)
    write_listing(small, real)
    warm(root)


def scale(args, etagsum: Path) -> int:
    import multiprocessing

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="etagsum-bench-scale-"))
    root, big, small = work / "tree", work / "list-big.json", work / "list-real.json"
    try:
        maker = multiprocessing.get_context("fork").Process(target=make_scale_data, args=(args, root, big, small))
        maker.start()
        maker.join()
        if maker.exitcode != 0:
            sys.exit(f"bench-check: making the data failed (exit {maker.exitcode})")
        print(f"# peak memory: {peak_method()}", flush=True)
        ok = True
        for name, listing, want, extra in (
            (f"{args.keys} keys, {args.keys - args.real} missing", big, 1, ()),
            ("the same with --extra", big, 1, ("--extra",)),
            (f"{args.real} keys, all real", small, 0, ()),
        ):
            cmd = [str(etagsum), "check", "--listing", str(listing), "--root", str(root), "--json", *extra]
            elapsed, status, rss = timed(cmd, rss=True)
            within = rss < RSS_LIMIT
            ok &= within and status == want
            print(f"{name:<32} {elapsed:>8.1f} s  peak RSS {rss / 2**20:>6.1f} MiB "
                  f"({'under' if within else 'OVER'} {RSS_LIMIT >> 20} MiB)  exit {status} (expected {want})",
                  flush=True)
        return 0 if ok else 1
    finally:
        if not args.dir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=10_000)
    p.add_argument("--size", type=parse_size, default=64 * 1024, help="bytes per file (64KiB)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--etagsum", help="the binary (default: target/release/etagsum)")
    p.add_argument("--dir", help="work in this directory (kept) instead of a temporary one")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--scale", action="store_true", help="the million-key memory and time measurement")
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--real", type=int, default=100_000)
    p.add_argument("--real-size", type=parse_size, default=1024)
    args = p.parse_args()
    etagsum = find_etagsum(args.etagsum)
    version = subprocess.run([str(etagsum), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {machine()}")
    print(f"etagsum: {etagsum} ({version or 'no --version'})")
    return scale(args, etagsum) if args.scale else compare(args, etagsum)


if __name__ == "__main__":
    sys.exit(main())
