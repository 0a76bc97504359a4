"""The sharding examples run for real: examples/kubernetes/indexed-job.yaml,
examples/slurm/check-array.sh and examples/merge-shards.sh.

The Job manifest must parse as YAML and be an Indexed Job whose `completions` equals the SHARDS it
passes on, whose mounts name its volumes and hold its paths; the Slurm script must pass `bash -n`
and declare `#SBATCH --array=1-N`. Then the command each one runs is run as the scheduler would run
it, once per index (JOB_COMPLETION_INDEX 0..N-1; SLURM_ARRAY_TASK_ID 1..N with
SLURM_ARRAY_TASK_COUNT N), with its paths pointed at a small tree and its listing, and
`etagsum` on PATH. Their shard outputs must add up to one unsharded run, and the merge script must
print its verdict counts and exit with its status.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from checks import Etagsum, Reporter, Run
from listings import flip_byte, generate
from verdicts import Expect, judge_json, judge_shards, json_lines

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "examples" / "kubernetes" / "indexed-job.yaml"
ARRAY = REPO / "examples" / "slurm" / "check-array.sh"
MERGE = REPO / "examples" / "merge-shards.sh"
SCRIPT_TIMEOUT = 120


def small_tree(base: Path, seed: str) -> tuple[Path, Path, list[Expect]]:
    """40 files, a list-objects-v2-shaped listing of them (MD5 ETags computed here), then one file
    changed and one deleted. Returns the tree, the listing and what etagsum must say."""
    tree = base / "tree"
    rng = random.Random(seed)
    contents = []
    for i in range(40):
        key = f"dir {i % 4}/file+{i}.txt"
        size = rng.randrange(1, 5000)
        generate(tree / key, size, f"{seed}:{key}")
        etag = hashlib.md5((tree / key).read_bytes()).hexdigest()
        contents.append({"Key": key, "LastModified": "2026-12-01T00:00:00.000Z", "ETag": f'"{etag}"',
                         "ChecksumAlgorithm": ["CRC32"], "ChecksumType": "FULL_OBJECT", "Size": size,
                         "StorageClass": "STANDARD"})
    contents.sort(key=lambda c: c["Key"].encode())
    listing = base / "list.json"
    listing.write_text(json.dumps({"Contents": contents, "RequestCharged": None, "Prefix": ""}, indent=4))
    changed, deleted = contents[3]["Key"], contents[7]["Key"]
    flip_byte(tree / changed, f"{seed}:flip")
    (tree / deleted).unlink()
    expected = []
    for c in contents:
        key, size, etag = c["Key"], c["Size"], c["ETag"].strip('"')
        verdict = {changed: "mismatch", deleted: "missing"}.get(key, "match")
        expected.append(Expect(key, tree / key, verdict, size, None if verdict == "missing" else size, etag))
    return tree, listing, expected


class ExampleTests:
    def __init__(self, harness):
        self.h = harness
        self.report: Reporter = harness.report
        self.etagsum = Etagsum(harness.args.etagsum.resolve())
        self.work = harness.workdir / "examples"
        self.work.mkdir()
        bindir = self.work / "bin"
        bindir.mkdir()
        (bindir / "etagsum").symlink_to(self.etagsum.binary)
        self.path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"

    def run(self) -> None:
        g = self.h._guarded
        g("examples: a small tree", self.setup)
        if not hasattr(self, "whole"):
            return
        g("examples: kubernetes indexed job", self.test_job)
        g("examples: slurm job array", self.test_array)

    def setup(self) -> None:
        self.tree, self.listing, expected = small_tree(self.work, f"{self.h.args.seed}:examples")
        run = self.etagsum.run("check", "--listing", self.listing, "--root", self.tree, "--json")
        failed = self.report.failed
        whole = judge_json(self.report, "examples", "the unsharded run", run, expected)
        if whole is not None and self.report.failed == failed:
            self.whole, self.whole_rc = whole, run.rc

    def _script_run(self, cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        full = {"PATH": self.path, "HOME": str(self.work), "LC_ALL": "C.UTF-8"} | env
        return subprocess.run(cmd, env=full, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=SCRIPT_TIMEOUT)

    def _judge_outputs(self, check: str, subject: str, out: Path, count: int) -> None:
        """The shard files against the unsharded run, then the merge script on them."""
        shards = []
        for k in range(1, count + 1):
            jsonl, status = out / f"shard-{k}.jsonl", out / f"shard-{k}.status"
            if not jsonl.is_file() or not status.is_file():
                self.report.fail(check, subject, f"shard {k}/{count} wrote no {jsonl.name} or {status.name}")
                return
            shards.append((k, Run([str(jsonl)], int(status.read_text().strip()), jsonl.read_text(), "")))
        judge_shards(self.report, check, f"{subject}: shards", self.whole, self.whole_rc, shards, count)

        p = self._script_run(["bash", str(MERGE), str(out), str(count)], {})
        counts = {}
        for line in p.stdout.splitlines():
            m = re.fullmatch(r"\s*(\d+) (\w+)", line)
            if m:
                counts[m.group(2)] = int(m.group(1))
        want = dict(Counter(o["verdict"] for o in self.whole))
        problems = []
        if shutil.which("jq") is None:
            problems.append("jq is not installed (apt-get install jq); merge-shards.sh needs it")
        if p.returncode != self.whole_rc:
            problems.append(f"exit status {p.returncode}, the unsharded run's is {self.whole_rc}")
        if counts != want:
            problems.append(f"verdict counts {counts}, the unsharded run's are {want}")
        merged = out / "all.jsonl"
        if merged.is_file():
            got = Counter(json.dumps(o, sort_keys=True) for o in json_lines(merged.read_text()))
            if got != Counter(json.dumps(o, sort_keys=True) for o in self.whole):
                problems.append("all.jsonl holds other lines than the unsharded run")
        else:
            problems.append("no all.jsonl")
        # A shard with no results makes the merge an error.
        (out / f"shard-{count}.status").unlink()
        missing = self._script_run(["bash", str(MERGE), str(out), str(count)], {})
        if missing.returncode != 2 or f"shard {count}/{count}" not in missing.stderr:
            problems.append(f"with shard {count}'s status removed: exit {missing.returncode}, "
                            f"stderr {missing.stderr.strip()!r}; expected 2 and the shard named")
        detail = f"stdout: {p.stdout.strip()}\nstderr: {p.stderr.strip()}"
        if problems:
            self.report.fail(check, f"{subject}: merge-shards.sh", "; ".join(problems) + "\n" + detail)
        else:
            self.report.ok(check, f"{subject}: merge-shards.sh",
                           f"{', '.join(f'{n} {v}' for v, n in sorted(counts.items()))}; exit {p.returncode}")

    def test_job(self) -> None:
        import yaml

        docs = list(yaml.safe_load_all(JOB.read_text()))
        problems = []
        job = docs[0] if len(docs) == 1 and isinstance(docs[0], dict) else {}
        spec = job.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        containers = pod.get("containers", [])
        if (job.get("apiVersion"), job.get("kind")) != ("batch/v1", "Job"):
            problems.append(f"not one batch/v1 Job: {[(d or {}).get('kind') for d in docs]}")
        if spec.get("completionMode") != "Indexed":
            problems.append(f"completionMode {spec.get('completionMode')!r}, expected 'Indexed'")
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            problems.append(f"restartPolicy {pod.get('restartPolicy')!r}: a Job needs Never or OnFailure")
        if len(containers) != 1:
            problems.append(f"{len(containers)} containers, expected 1")
        if problems:
            self.report.fail("example-job", JOB.name, "; ".join(problems))
            return
        c = containers[0]
        env = {e["name"]: str(e["value"]) for e in c.get("env", [])}
        count = spec.get("completions")
        if not isinstance(count, int) or env.get("SHARDS") != str(count):
            problems.append(f"completions {count!r} and SHARDS {env.get('SHARDS')!r} differ")
        if not isinstance(spec.get("parallelism"), int) or not 1 <= spec["parallelism"] <= (count or 0):
            problems.append(f"parallelism {spec.get('parallelism')!r} is not between 1 and completions")
        volumes = {v["name"] for v in pod.get("volumes", [])}
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        if not set(mounts) <= volumes:
            problems.append(f"mounts {sorted(mounts)} name volumes that are not declared ({sorted(volumes)})")
        for name in ("LISTING", "ROOT", "OUT"):
            if not any(env.get(name, "").startswith(p) for p in mounts.values()):
                problems.append(f"{name}={env.get(name)!r} is on no mounted volume {sorted(mounts.values())}")
        command = c.get("command", []) + c.get("args", [])
        if command[:2] != ["/bin/sh", "-c"] or len(command) != 3:
            problems.append(f"command {command[:2]}: expected /bin/sh -c SCRIPT")
        elif "etagsum check" not in command[2] or "--shard" not in command[2]:
            problems.append("the script runs no `etagsum check ... --shard`")
        if problems:
            self.report.fail("example-job", JOB.name, "; ".join(problems))
            return
        self.report.ok("example-job", JOB.name, f"Indexed Job, {count} completions, "
                       f"parallelism {spec['parallelism']}, mounts {sorted(mounts.values())}")

        out = self.work / "job-results"
        for index in range(count):
            p = self._script_run(command, env | {"JOB_COMPLETION_INDEX": str(index), "LISTING": str(self.listing),
                                                 "ROOT": str(self.tree), "OUT": str(out)})
            if p.returncode != 0:
                self.report.fail("example-job", f"pod {index}", f"exit {p.returncode} (a verdict is no failure)\n"
                                 f"stdout: {p.stdout.strip()}\nstderr: {p.stderr.strip()}")
                return
        self._judge_outputs("example-job", f"{count} pods", out, count)

    def test_array(self) -> None:
        text = ARRAY.read_text()
        syntax = subprocess.run(["bash", "-n", str(ARRAY)], capture_output=True, text=True)
        m = re.search(r"^#SBATCH --array=1-(\d+)\s*$", text, re.M)
        problems = []
        if syntax.returncode != 0:
            problems.append(f"bash -n: {syntax.stderr.strip()}")
        if not m:
            problems.append("no `#SBATCH --array=1-N` line")
        if "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" not in text:
            problems.append("no --shard ${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}")
        if problems:
            self.report.fail("example-array", ARRAY.name, "; ".join(problems))
            return
        count = int(m.group(1))
        self.report.ok("example-array", ARRAY.name, f"bash -n passes; array 1-{count}")
        out = self.work / "array-results"
        for task in range(1, count + 1):
            p = self._script_run(["bash", str(ARRAY)], {
                "SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_COUNT": str(count),
                "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": str(count),
                "LISTING": str(self.listing), "ROOT": str(self.tree), "OUT": str(out)})
            if p.returncode != 0:
                self.report.fail("example-array", f"task {task}", f"exit {p.returncode}\n"
                                 f"stdout: {p.stdout.strip()}\nstderr: {p.stderr.strip()}")
                return
        self._judge_outputs("example-array", f"{count} tasks", out, count)
        p = self._script_run(["bash", str(ARRAY)], {
            "SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": str(count), "SLURM_ARRAY_TASK_MIN": "0",
            "LISTING": str(self.listing), "ROOT": str(self.tree), "OUT": str(self.work / "array-zero")})
        if p.returncode == 2 and "--array=1-N" in p.stderr:
            self.report.ok("example-array", "an array numbered from 0", "refused with exit 2")
        else:
            self.report.fail("example-array", "an array numbered from 0",
                             f"exit {p.returncode}, stderr {p.stderr.strip()!r}; expected 2 and advice")
