#!/usr/bin/env python3
"""Times etagsum against md5sum and openssl md5 on the same file in one run and prints the ratios.

Usage: scripts/bench-compare.py [--size 1GiB] [--file PATH] [--runs 3] [--cold] [--memory-file-size 4GiB]

Every number is the best of --runs wall-clock times on a page-cached file (the file is read once
before timing). Throughput ratios are anchor_time / etagsum_time: above 1 means etagsum is faster.
With --cold, the file is evicted from the page cache (posix_fadvise DONTNEED) before each run of
etagsum and of `cat FILE > /dev/null`; the two take turns and are compared. With --memory-file-size, peak
resident memory of `etagsum hash` on a file of that size is measured (ru_maxrss of the child).
The machine is printed first: numbers mean nothing without it.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import machine, make_file, parse_size, warm  # scripts/benchlib.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(cmd, env=None, stdout=subprocess.DEVNULL):
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, shell=isinstance(cmd, str))
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"bench: {cmd} failed with status {p.returncode}: {p.stderr.decode(errors='replace')}")
    return dt, p


def best(cmd, runs, env=None, before=None):
    times = []
    for _ in range(runs):
        if before:
            before()
        times.append(run(cmd, env)[0])
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1GiB")
    ap.add_argument("--file")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--etagsum", default=os.path.join(ROOT, "target", "release", "etagsum"))
    ap.add_argument("--cold", action="store_true", help="also compare with cat on a cold file")
    ap.add_argument("--memory-file-size", help="also measure peak memory on a file of this size")
    ap.add_argument("--kernels", default="", help="comma-separated ETAGSUM_KERNEL values to force, e.g. avx2,portable")
    args = ap.parse_args()

    tmp = tempfile.gettempdir()
    if args.file:
        # A file of the user's is measured as it is, never rewritten.
        path = args.file
        size = os.path.getsize(path)
    else:
        size = parse_size(args.size)
        path = os.path.join(tmp, f"etagsum-bench-{size}.bin")
        make_file(path, size)
    warm(path)
    es = args.etagsum
    if not os.access(es, os.X_OK):
        sys.exit(f"bench: {es} is not built; run cargo build --release")
    env = dict(os.environ)
    env.pop("ETAGSUM_KERNEL", None)

    print(f"machine: {machine()}")
    print(f"file: {path}, {size} bytes, page-cached; best of {args.runs} runs\n")
    anchors = {"md5sum": best(["md5sum", path], args.runs)}
    if shutil.which("openssl"):
        anchors["openssl md5"] = best(["openssl", "md5", path], args.runs)
    etag = run([es, "hash", "--part-size", "8MiB", path], stdout=subprocess.PIPE)[1].stdout.split()[0].decode()
    cases = [
        ("etagsum hash --single", [es, "hash", "--single", path], env),
        ("etagsum hash --part-size 8MiB", [es, "hash", "--part-size", "8MiB", path], env),
        ("etagsum verify (aws-cli ETag)", [es, "verify", path, etag], env),
        ("etagsum hash --part-size 5MiB", [es, "hash", "--part-size", "5MiB", path], env),
    ]
    for k in filter(None, args.kernels.split(",")):
        kenv = dict(env, ETAGSUM_KERNEL=k)
        cases.append((f"etagsum hash --part-size 8MiB [ETAGSUM_KERNEL={k}]", [es, "hash", "--part-size", "8MiB", path], kenv))
    times = {}
    width = 58
    for name, t in anchors.items():
        print(f"{name:<{width}} {t:7.3f} s {size / t / 1e9:6.2f} GB/s")
    for name, cmd, cenv in cases:
        t = best(cmd, args.runs, cenv)
        times[name] = t
        ratios = "  ".join(f"{t_a / t:5.2f}x {a}" for a, t_a in anchors.items())
        print(f"{name:<{width}} {t:7.3f} s {size / t / 1e9:6.2f} GB/s  {ratios}")
    v, h = times["etagsum verify (aws-cli ETag)"], times["etagsum hash --part-size 8MiB"]
    print(f"\nverify / hash --part-size 8MiB time: {v / h:.2f}")

    if args.cold:
        print("\ncold file (evicted with posix_fadvise DONTNEED before each run):")
        # A disk's speed drifts from second to second: the two commands take turns, and each pair
        # of runs gives a ratio as well.
        # One untimed read first: on a virtual machine the host may cache the disk, and whichever
        # command read the file first would pay for the host's cold cache alone.
        evict(path)
        run(f"cat '{path}' > /dev/null")
        cats, ess = [], []
        for _ in range(args.runs):
            evict(path)
            cats.append(run(f"cat '{path}' > /dev/null")[0])
            evict(path)
            ess.append(run([es, "hash", "--part-size", "8MiB", path], env)[0])
        t_cat, t_es = min(cats), min(ess)
        pairs = sorted(c / e for c, e in zip(cats, ess))
        print(f"{'cat FILE > /dev/null':<{width}} {t_cat:7.3f} s {size / t_cat / 1e9:6.2f} GB/s")
        print(f"{'etagsum hash --part-size 8MiB':<{width}} {t_es:7.3f} s {size / t_es / 1e9:6.2f} GB/s  {t_cat / t_es:5.2f}x cat")
        print(f"{'  run by run, cat time / etagsum time (median)':<{width}} {pairs[len(pairs) // 2]:5.2f}x")
        warm(path)

    if args.memory_file_size:
        msize = parse_size(args.memory_file_size)
        mpath = os.path.join(tmp, f"etagsum-bench-{msize}.bin")
        make_file(mpath, msize)
        print(f"\npeak resident memory, {msize} byte file:")
        for name, cmd in [
            ("etagsum hash (8 MiB parts)", [es, "hash", mpath]),
            ("etagsum hash --single", [es, "hash", "--single", mpath]),
            ("etagsum verify (aws-cli ETag)", None),
        ]:
            if cmd is None:
                etag4 = run([es, "hash", mpath], stdout=subprocess.PIPE)[1].stdout.split()[0].decode()
                cmd = [es, "verify", mpath, etag4]
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(p.pid, 0)
            if status != 0:
                sys.exit(f"bench: {cmd} failed")
            # ru_maxrss is in KiB on Linux.
            print(f"{name:<{width}} {usage.ru_maxrss / 1024:7.1f} MiB peak resident")


if __name__ == "__main__":
    main()
