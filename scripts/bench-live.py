#!/usr/bin/env python3
"""Times `etagsum check --root DIR s3://BUCKET/PREFIX` (the listing read live, answers settled with
S3) against the two steps it replaces, on the same objects of a local S3 server (moto), in one run.

Usage (after scripts/setup-test-env.sh, with a release build):
    .venv/bin/python scripts/bench-live.py [--objects 2000] [--size 64KiB] [--changed 200] [--runs 3]
                                           [--etagsum target/release/etagsum]

OBJECTS objects of SIZE bytes are uploaded under `tree/` (boto3, a thread pool) and copied to a local
directory. Timed, best of RUNS, the commands taking turns:
  - live:      etagsum check --root DIR s3://bench/tree/        (ListObjectsV2 pages, streamed)
  - two steps: aws s3api list-objects-v2 > listing.json; etagsum check --listing listing.json --root DIR
  - md5sum:    find DIR -type f | xargs md5sum                  (the anchor: hashing alone, no S3)
Then CHANGED local files get one byte changed (same size): each plain MD5 that differs is confirmed
with one HeadObject before it is a mismatch, so `check` makes CHANGED more requests; timed with
--jobs 1 and with --jobs 16 (the default), directly and through a proxy that adds LATENCY ms to each
request, to show what the bounded concurrency buys. Every run's verdicts are checked before its time
counts.

The server is moto, a Python process on this machine: its requests are far slower than S3's, so the
figures bound etagsum's own overhead, not S3's latency. The machine is printed first.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "s3"))
sys.dont_write_bytecode = True

from benchlib import machine, parse_size  # noqa: E402

try:
    import boto3  # noqa: E402
    from server import MotoServer, client_environment, forwarding_proxy  # noqa: E402
except ImportError as e:
    sys.exit(f"bench-live: {e}; run it with .venv/bin/python after scripts/setup-test-env.sh")

BUCKET = "bench"


def best(cmds: dict[str, list], runs: int, env: dict, check) -> dict[str, float]:
    """Best wall time of each shell command, the commands taking turns; `check(name, stdout, rc)`
    must pass for every run."""
    times: dict[str, float] = {k: float("inf") for k in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            started = time.perf_counter()
            p = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, env=env)
            elapsed = time.perf_counter() - started
            check(name, p.stdout, p.returncode, p.stderr)
            times[name] = min(times[name], elapsed)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--size", type=parse_size, default=parse_size("64KiB"))
    ap.add_argument("--changed", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency", type=float, default=20.0,
                    help="milliseconds a proxy in front of the server adds to each request for the --jobs runs "
                         "(S3's own latency is of this order; moto on 127.0.0.1 has none)")
    ap.add_argument("--etagsum", type=Path, default=REPO / "target" / "release" / "etagsum")
    ap.add_argument("--venv", type=Path, default=REPO / ".venv")
    args = ap.parse_args()
    etagsum, aws = args.etagsum.resolve(), args.venv / "bin" / "aws"
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="etagsum-bench-live-"))
    server = MotoServer(args.venv / "bin" / "moto_server", work / "moto.log")
    try:
        server.start()
        env = client_environment(work / "home", {"AWS_ENDPOINT_URL": server.url})
        (work / "home").mkdir()
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        s3 = boto3.client("s3", endpoint_url=server.url)
        s3.create_bucket(Bucket=BUCKET)
        tree = work / "tree"
        tree.mkdir()
        rng = os.urandom

        def upload(i: int) -> None:
            data = rng(args.size)
            name = f"d{i % 50:02}/f{i:06}.bin"
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes(data)
            s3.put_object(Bucket=BUCKET, Key=f"tree/{name}", Body=data)

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(upload, range(args.objects)))
        print(f"{args.objects} objects of {args.size} bytes uploaded in {time.perf_counter() - started:.1f} s")
        s3opts = f"--endpoint-url {server.url} --path-style"
        listing = work / "listing.json"
        cmds = {
            "live": f"{etagsum} check --root {tree} s3://{BUCKET}/tree/ {s3opts}",
            "two steps": f"{aws} s3api list-objects-v2 --bucket {BUCKET} --prefix tree/ > {listing} && "
                         f"{etagsum} check --listing {listing} --root {tree} --prefix tree",
            "md5sum": f"find {tree} -type f | xargs md5sum > /dev/null",
        }

        def all_ok(name, out, rc, err):
            if name != "md5sum" and (rc != 0 or out.count(": OK") != args.objects):
                raise SystemExit(f"bench-live: {name}: exit {rc}, {out.count(': OK')} OK\n{err[-500:]}")

        times = best(cmds, args.runs, env, all_ok)
        print(f"\nunchanged tree, best of {args.runs}:")
        for name, t in times.items():
            ratio = times[name] / times["live"]
            print(f"  {name:10} {t:7.3f} s   {ratio:5.2f}x the live check's time")
        files = sorted(p for p in tree.rglob("*.bin"))[: args.changed]
        for p in files:
            data = bytearray(p.read_bytes())
            data[0] ^= 1
            p.write_bytes(data)
        proxy = forwarding_proxy(server.url, lambda _method, _path: time.sleep(args.latency / 1000))
        slow = f"--endpoint-url http://127.0.0.1:{proxy.server_address[1]} --path-style"
        cmds = {f"--jobs {j}{label}": f"{etagsum} check --root {tree} s3://{BUCKET}/tree/ {opts} --jobs {j}"
                for label, opts in (("", s3opts), (f", +{args.latency:g} ms", slow)) for j in (1, 16)}

        def changed(name, out, rc, err):
            if rc != 1 or out.count(": MISMATCH") != len(files):
                raise SystemExit(f"bench-live: {name}: exit {rc}, {out.count(': MISMATCH')} MISMATCH\n{err[-500:]}")

        times = best(cmds, args.runs, env, changed)
        print(f"\n{len(files)} files changed (each confirmed with one HeadObject), best of {args.runs}:")
        for name, t in times.items():
            print(f"  {name:10} {t:7.3f} s   {len(files) / t:7.0f} confirmations/s")
        for label in ("", f", +{args.latency:g} ms"):
            print(f"  --jobs 16{label} is {times['--jobs 1' + label] / times['--jobs 16' + label]:.2f}x faster "
                  f"than --jobs 1{label}")
        proxy.shutdown()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
