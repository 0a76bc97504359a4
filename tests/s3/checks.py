"""Running etagsum and judging its answers; one reported line per check."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from datafiles import Layout

ETAGSUM_TIMEOUT = 300
EXIT_FOR_VERDICT = {"match": 0, "mismatch": 1, "inconclusive": 3}


class Reporter:
    """Prints `ok` / `FAIL` lines and counts them."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    def ok(self, check: str, subject: str, detail: str = "") -> None:
        self.passed += 1
        self._print(f"ok   {check:<14} {subject}" + (f": {detail}" if detail else ""))

    def fail(self, check: str, subject: str, detail: str) -> None:
        self.failed += 1
        first, *rest = detail.splitlines() or [""]
        line = f"FAIL {check:<14} {subject}: {first}"
        self.failures.append(line)
        self._print("\n".join([line, *("       " + r for r in rest)]))

    def note(self, text: str) -> None:
        self._print(text)

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


@dataclass
class Run:
    """One finished etagsum command."""

    cmd: list[str]
    rc: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return "\n".join([
            f"command: {shlex.join(self.cmd)}",
            f"exit status: {self.rc}",
            f"stdout: {self.stdout.rstrip() or '(empty)'}",
            f"stderr: {self.stderr.rstrip() or '(empty)'}",
        ])

    def json_line(self) -> dict:
        """The single JSON object printed on stdout (ValueError when it is not exactly one)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise ValueError(f"expected one JSON line on stdout, got {len(lines)}")
        obj = json.loads(lines[0])
        if not isinstance(obj, dict):
            raise ValueError("the JSON line is not an object")
        return obj


class Etagsum:
    def __init__(self, binary: Path):
        self.binary = binary

    def run(self, *args: str | Path) -> Run:
        cmd = [str(self.binary), *map(str, args)]
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=ETAGSUM_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            return Run(cmd, -1, e.stdout or "", f"(timed out after {ETAGSUM_TIMEOUT} s)")
        return Run(cmd, p.returncode, p.stdout, p.stderr)


def normalize_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


@dataclass
class Upload:
    """An object on the server and the local file it was uploaded from."""

    case: str
    size: int
    path: Path
    etag: str  # as the server reports it, quotes stripped
    layout: Layout  # as read back from the server

    @property
    def subject(self) -> str:
        return f"{self.case} size={self.size} layout={self.layout} etag={self.etag}"


def layout_problem(got, expected: Layout, size: int) -> str | None:
    """Why the JSON `layout` differs from the expected one, or None when it fits.

    For a one-part multipart layout any part size >= the file size gives the same
    ETag, so only the kind and the part count are required then. For listed
    (uneven) part sizes, the kind and the count are required, and the sizes when
    etagsum names them.
    """
    if expected.kind == "multipart" and expected.parts == 1:
        ok = (isinstance(got, dict) and got.get("kind") == "multipart" and got.get("parts") == 1
              and isinstance(got.get("part_size"), int) and got["part_size"] >= size)
        want = f'{{"kind": "multipart", "part_size": >= {size}, "parts": 1}}'
    elif expected.kind == "explicit":
        sizes = list(expected.part_sizes)
        ok = (isinstance(got, dict) and got.get("kind") == "multipart" and got.get("parts") == len(sizes)
              and got.get("part_sizes", sizes) == sizes)
        want = json.dumps({"kind": "multipart", "part_sizes": sizes, "parts": len(sizes)})
    else:
        ok = got == expected.to_json()
        want = json.dumps(expected.to_json())
    return None if ok else f"layout {json.dumps(got)}, expected {want}"


def _verdict_problems(run: Run, obj: dict, allowed: set[str]) -> list[str]:
    problems = []
    verdict = obj.get("verdict")
    if verdict not in allowed:
        problems.append(f"verdict {verdict!r}, expected {' or '.join(sorted(allowed))}")
    if verdict in EXIT_FOR_VERDICT and run.rc != EXIT_FOR_VERDICT[verdict]:
        problems.append(f"exit status {run.rc} for verdict {verdict!r}, expected {EXIT_FOR_VERDICT[verdict]}")
    return problems


def _parse(report: Reporter, check: str, subject: str, run: Run) -> dict | None:
    try:
        return run.json_line()
    except ValueError as e:
        report.fail(check, subject, f"unreadable --json output ({e})\n{run.describe()}")
        return None


def _describe_result(obj: dict) -> str:
    layout = obj.get("layout")
    if obj.get("verdict") == "match" and isinstance(layout, dict):
        if "part_sizes" in layout:
            return f"match {'+'.join(map(str, layout['part_sizes']))}"
        if layout.get("kind") == "multipart":
            return f"match {layout.get('parts')}x{layout.get('part_size')}"
        return f"match {layout.get('kind')}"
    return f"{obj.get('verdict')} ({obj.get('reason')})"


class Checker:
    """The checks etagsum must pass for each upload."""

    def __init__(self, etagsum: Etagsum, report: Reporter):
        self.etagsum = etagsum
        self.report = report

    def verify_match(self, u: Upload, check: str, *extra: str, allow_inconclusive: bool = False,
                     uploader: str | None = None) -> None:
        """`verify --json` must say match (or, where allowed, inconclusive), name the layout
        that was used and, when given, list `uploader` among the consistent uploaders."""
        run = self.etagsum.run("verify", u.path, u.etag, *extra, "--json")
        obj = _parse(self.report, check, u.subject, run)
        if obj is None:
            return
        allowed = {"match", "inconclusive"} if allow_inconclusive else {"match"}
        problems = _verdict_problems(run, obj, allowed)
        if obj.get("verdict") == "match":
            problem = layout_problem(obj.get("layout"), u.layout, u.size)
            if problem:
                problems.append(problem)
            if uploader and uploader not in (obj.get("uploaders") or []):
                problems.append(f"uploaders {obj.get('uploaders')!r} do not include {uploader!r}")
            if normalize_etag(str(obj.get("computed_etag"))) != normalize_etag(u.etag):
                problems.append(f"computed_etag {obj.get('computed_etag')!r} differs from the remote ETag")
        if obj.get("size") != u.size:
            problems.append(f"size {obj.get('size')!r}, expected {u.size}")
        if problems:
            self.report.fail(check, u.subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, u.subject, _describe_result(obj))

    def verify_inconclusive(self, u: Upload, check: str, *extra: str, advice_contains: str = "") -> None:
        """`verify --json` must say inconclusive (exit 3) with a reason and an advice."""
        run = self.etagsum.run("verify", u.path, u.etag, *extra, "--json")
        obj = _parse(self.report, check, u.subject, run)
        if obj is None:
            return
        problems = _verdict_problems(run, obj, {"inconclusive"})
        if not str(obj.get("reason") or "").strip():
            problems.append("empty reason")
        if advice_contains and advice_contains not in str(obj.get("advice") or ""):
            problems.append(f"advice {obj.get('advice')!r} does not contain {advice_contains!r}")
        if problems:
            self.report.fail(check, u.subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, u.subject, f"inconclusive ({obj.get('reason')})")

    def verify_corrupt(self, u: Upload, corrupt: Path, change: str, check: str, *extra: str) -> None:
        """With one byte changed, `verify` must not say match, and must exit non-zero."""
        run = self.etagsum.run("verify", corrupt, u.etag, *extra, "--json")
        obj = _parse(self.report, check, u.subject, run)
        if obj is None:
            return
        problems = _verdict_problems(run, obj, {"mismatch", "inconclusive"})
        if run.rc == 0:
            problems.append("exit status 0 for a changed file")
        subject = f"{u.subject} ({change})"
        if problems:
            self.report.fail(check, subject, "; ".join(problems) + "\n" + run.describe())
        else:
            self.report.ok(check, subject, f"{obj.get('verdict')}, exit {run.rc}")

    def verify_text(self, u: Upload, check: str, *extra: str) -> None:
        """The plain form prints `<path>: OK (...)` and exits 0. The ETag is given in
        double quotes, as S3 sends it and `aws s3api head-object` prints it."""
        run = self.etagsum.run("verify", u.path, f'"{u.etag}"', *extra)
        lines = run.stdout.splitlines()
        prefix = f"{u.path}: OK"
        if run.rc == 0 and len(lines) == 1 and lines[0].startswith(prefix):
            self.report.ok(check, u.subject, lines[0].removeprefix(f"{u.path}: "))
        else:
            self.report.fail(check, u.subject, f"expected one line starting {prefix!r} and exit 0\n"
                             + run.describe())

    def verify_text_inconclusive(self, u: Upload, check: str) -> None:
        """The plain form prints `<path>: INCONCLUSIVE (...)` and exits 3."""
        run = self.etagsum.run("verify", u.path, u.etag)
        prefix = f"{u.path}: INCONCLUSIVE"
        if run.rc == 3 and run.stdout.startswith(prefix):
            self.report.ok(check, u.subject, run.stdout.splitlines()[0].removeprefix(f"{u.path}: "))
        else:
            self.report.fail(check, u.subject, f"expected output starting {prefix!r} and exit 3\n"
                             + run.describe())

    def hash_equals(self, u: Upload, check: str, *options: str) -> None:
        """`hash [options] FILE` prints `<server ETag>  <path>`."""
        run = self.etagsum.run("hash", *options, u.path)
        expected = f"{u.etag}  {u.path}"
        lines = run.stdout.splitlines()
        got = lines[0] if lines else ""
        etag = got.partition("  ")[0]
        if run.rc == 0 and lines == [expected]:
            self.report.ok(check, u.subject, f"hash {' '.join(options) or '(default)'} = {etag}")
        else:
            self.report.fail(check, u.subject, f"expected {expected!r} and exit 0\n" + run.describe())
