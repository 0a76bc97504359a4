"""Stands in front of a command that examples/conditional-write.sh runs (the aws cli, etagsum):
records each call, and for the tests of tests/s3/guide.py makes things happen around an upload.

    python guide_shim.py REAL_COMMAND ARGS...

Every call is appended to $GUIDE_LOG as one JSON line {"tool", "args", "runs", "status"}. When
$GUIDE_PLAN names a JSON file {"on": OPERATION, "action": ACTION, "times": K, ...}, the first K aws
calls of that s3api OPERATION (put-object, complete-multipart-upload; K = -1: every one) get ACTION:

- "other-writer": before the call, another writer replaces the object (an unconditional PutObject
  with boto3) with the next of "bodies" (paths, used in turn);
- "twice": the call is made, and when it succeeds made again, and the second answer is the one
  returned: a client that retried after the response to a write that had landed was lost;
- "change-file": before the call, "file" gets one byte more: a file changed during its upload.

The plan's counter is kept in $GUIDE_PLAN.count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _operation(args: list[str]) -> str | None:
    return args[args.index("s3api") + 1] if "s3api" in args[:-1] else None


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _take_turn(plan_path: Path, plan: dict) -> int | None:
    """The number of this matching call (0, 1, ...), or None when the plan has run out."""
    counter = plan_path.with_name(plan_path.name + ".count")
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    times = plan.get("times", 1)
    return n if times < 0 or n < times else None


def _other_writer(args: list[str], body: Path) -> None:
    import boto3  # only the aws shim needs it
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.put_object(Bucket=_option(args, "--bucket"), Key=_option(args, "--key"), Body=body.read_bytes())


def main() -> int:
    real, args = sys.argv[1], sys.argv[2:]
    tool = "aws" if "s3api" in args else "etagsum"
    action = None
    plan_file = os.environ.get("GUIDE_PLAN")
    if plan_file and Path(plan_file).exists():
        plan = json.loads(Path(plan_file).read_text())
        if _operation(args) == plan["on"]:
            turn = _take_turn(Path(plan_file), plan)
            if turn is not None:
                action = plan["action"]
                if action == "other-writer":
                    bodies = plan["bodies"]
                    _other_writer(args, Path(bodies[turn % len(bodies)]))
                elif action == "change-file":
                    with open(plan["file"], "ab") as f:
                        f.write(b"+")
    runs = 1
    p = subprocess.run([real, *args], capture_output=True)
    if action == "twice" and p.returncode == 0:
        runs = 2
        p = subprocess.run([real, *args], capture_output=True)
    with open(os.environ["GUIDE_LOG"], "a") as log:
        log.write(json.dumps({"tool": tool, "args": args, "runs": runs, "status": p.returncode,
                              "action": action}) + "\n")
    sys.stdout.buffer.write(p.stdout)
    sys.stderr.buffer.write(p.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
