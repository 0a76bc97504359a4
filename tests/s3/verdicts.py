"""Judging the output of `etagsum check`: one JSON line per object, or one text line per object.

Shared by the tree checks (listings.py, inventory.py, example_files.py). Each judge compares a run
with the list of answers the harness expects and reports one `ok` or `FAIL` line for the run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from checks import Reporter, Run, layout_problem, normalize_etag
from datafiles import Layout

# The exit status each verdict asks for; over a run, 2 beats 1 beats 3 beats 0.
EXIT_FOR = {"match": 0, "inconclusive": 3, "mismatch": 1, "missing": 1, "extra": 1, "error": 2}
_PRECEDENCE = (2, 1, 3, 0)

# The word the text output gives each verdict (`NAME: WORD (...)`), as `md5sum -c` and `verify` do.
WORD_FOR = {
    "match": "OK",
    "mismatch": "MISMATCH",
    "inconclusive": "INCONCLUSIVE",
    "missing": "MISSING",
    "extra": "EXTRA",
    "error": "FAILED",
}

REQUIRED_FIELDS = ("key", "path", "size", "local_size", "remote_etag", "computed_etag", "verdict",
                   "layout", "reason", "reason_code")


def combined_status(statuses) -> int:
    """The status of several runs (or objects) together: an error over a mismatch over an
    inconclusive verdict over OK."""
    present = set(statuses)
    return next((s for s in _PRECEDENCE if s in present), 0)


def shard_of(key: str | bytes, count: int) -> int:
    """The shard (1-based) of `count` that holds `key`: the first 8 bytes of MD5(key), big-endian,
    modulo `count`, plus one. Written here from the documented rule, not taken from etagsum."""
    raw = key.encode() if isinstance(key, str) else key
    return int.from_bytes(hashlib.md5(raw).digest()[:8], "big") % count + 1


def same_path(a, b) -> bool:
    return a is not None and b is not None and os.path.normpath(str(a)) == os.path.normpath(str(b))


@dataclass(frozen=True)
class Expect:
    """What etagsum must say about one object of a listing."""

    key: str
    path: Path
    verdict: str
    size: int | None = None  # the listing's size (None for an extra file)
    local_size: int | None = None  # the local file's size (None when it is missing)
    etag: str | None = None  # the listing's ETag, quotes stripped
    layout: Layout | None = None  # the layout a match must name
    reason_code: str | None = None  # required reason_code, when the rules fix it

    @property
    def status(self) -> int:
        return EXIT_FOR[self.verdict]


def json_lines(stdout: str) -> list[dict]:
    """Every line of stdout as a JSON object (ValueError naming the first line that is not one)."""
    objs = []
    for n, line in enumerate(stdout.splitlines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"stdout line {n} is not JSON ({e}): {line[:200]!r}") from None
        if not isinstance(obj, dict):
            raise ValueError(f"stdout line {n} is not a JSON object: {line[:200]!r}")
        objs.append(obj)
    return objs


def count_verdicts(objs) -> str:
    counts = Counter(o.get("verdict") for o in objs)
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: str(kv[0])))


def _object_problems(o: dict, e: Expect) -> list[str]:
    p = []
    missing = [f for f in REQUIRED_FIELDS if f not in o]
    if missing:
        p.append(f"fields {missing} absent")
    if o.get("verdict") != e.verdict:
        p.append(f"verdict {o.get('verdict')!r}, expected {e.verdict!r} (reason {o.get('reason')!r})")
    if not same_path(o.get("path"), e.path):
        p.append(f"path {o.get('path')!r}, expected {str(e.path)!r}")
    if e.verdict != "extra":
        if o.get("size") != e.size:
            p.append(f"size {o.get('size')!r}, expected {e.size}")
        if normalize_etag(str(o.get("remote_etag"))) != e.etag:
            p.append(f"remote_etag {o.get('remote_etag')!r}, expected {e.etag!r}")
    if o.get("local_size") != e.local_size:
        p.append(f"local_size {o.get('local_size')!r}, expected {e.local_size!r}")
    if e.verdict == "match":
        if normalize_etag(str(o.get("computed_etag"))) != e.etag:
            p.append(f"computed_etag {o.get('computed_etag')!r} is not the remote ETag {e.etag}")
        if e.layout is not None and e.size is not None:
            problem = layout_problem(o.get("layout"), e.layout, e.size)
            if problem:
                p.append(problem)
    elif e.verdict == "mismatch":
        computed = o.get("computed_etag")
        if computed is not None and normalize_etag(str(computed)) == e.etag:
            p.append(f"computed_etag {computed!r} equals the remote ETag, yet the verdict is mismatch")
    if e.verdict != "match" and not str(o.get("reason") or "").strip():
        p.append("empty reason")
    if e.reason_code and o.get("reason_code") != e.reason_code:
        p.append(f"reason_code {o.get('reason_code')!r}, expected {e.reason_code!r}")
    return p


def judge_json(report: Reporter, check: str, subject: str, run: Run, expected: list[Expect],
               status: int | None = None) -> list[dict] | None:
    """`check --json`: exactly the expected objects, the listed ones in listing order (extras may
    come anywhere), each with the expected fields; the exit status; a summary on stderr.

    Returns the parsed lines (also when a problem was found), or None when stdout is not JSON lines.
    """
    try:
        objs = json_lines(run.stdout)
    except ValueError as e:
        report.fail(check, subject, f"{e}\n{run.describe()}")
        return None
    problems = []
    want_listed = [e for e in expected if e.verdict != "extra"]
    want_extra = [e for e in expected if e.verdict == "extra"]
    got_listed = [o for o in objs if o.get("verdict") != "extra"]
    got_extra = [o for o in objs if o.get("verdict") == "extra"]

    got_keys = [o.get("key") for o in got_listed]
    want_keys = [e.key for e in want_listed]
    if got_keys != want_keys:
        if Counter(got_keys) == Counter(want_keys):
            problems.append("objects not in listing order")
        else:
            absent = sorted(set(want_keys) - set(got_keys))
            unexpected = sorted(set(got_keys) - set(want_keys), key=str)
            twice = sorted(k for k, n in Counter(got_keys).items() if n > 1)
            problems.append(f"keys differ: absent {absent}, unexpected {unexpected}, more than once {twice}")
    by_key = {o.get("key"): o for o in got_listed}
    for e in want_listed:
        if e.key in by_key:
            problems += [f"{e.key}: {x}" for x in _object_problems(by_key[e.key], e)]

    extra_by_path = {os.path.normpath(str(o.get("path"))): o for o in got_extra}
    want_extra_paths = {os.path.normpath(str(e.path)) for e in want_extra}
    if set(extra_by_path) != want_extra_paths or len(got_extra) != len(want_extra):
        problems.append(f"extra files {sorted(o.get('path') for o in got_extra)}, "
                        f"expected {sorted(want_extra_paths)}")
    for e in want_extra:
        o = extra_by_path.get(os.path.normpath(str(e.path)))
        if o is not None:
            if o.get("key") != e.key:
                problems.append(f"extra {e.path}: key {o.get('key')!r}, expected {e.key!r} (PREFIX + path)")
            problems += [f"extra {e.path}: {x}" for x in _object_problems(o, e) if "remote_etag" not in x]
            if o.get("remote_etag") is not None:
                problems.append(f"extra {e.path}: remote_etag {o.get('remote_etag')!r}, expected null")

    want_status = combined_status(e.status for e in expected) if status is None else status
    _conclude(report, check, subject, run, problems, want_status, count_verdicts(objs))
    return objs


def judge_lines(report: Reporter, check: str, subject: str, run: Run, expected: list[Expect],
                quiet: bool = False) -> None:
    """The text form: one `NAME: WORD` line per object (NAME the key or the local path; WORD as
    in WORD_FOR, perhaps followed by details), the listed ones in listing order; with `--quiet`
    no OK line; the exit status; a summary on stderr."""
    shown = [e for e in expected if not (quiet and e.verdict == "match")]
    lines = run.stdout.splitlines()
    problems = []
    listed = [e for e in shown if e.verdict != "extra"]
    extras = [e for e in shown if e.verdict == "extra"]
    if len(lines) != len(shown):
        problems.append(f"{len(lines)} lines on stdout, expected {len(shown)}")

    def matches(line: str, e: Expect) -> bool:
        word = WORD_FOR[e.verdict]
        for name in (e.key, str(e.path)):
            head = f"{name}: {word}"
            if line == head or line.startswith(head + " "):
                return True
        return False

    # Listed objects in order; extras anywhere among the remaining lines.
    rest = list(lines)
    position = 0
    for e in listed:
        while position < len(rest) and not matches(rest[position], e):
            position += 1
        if position == len(rest):
            problems.append(f"no line `{e.key}: {WORD_FOR[e.verdict]}` (or with the path {e.path}) in order")
            position = 0
            continue
        rest.pop(position)
    for e in extras:
        hit = next((i for i, line in enumerate(rest) if matches(line, e)), None)
        if hit is None:
            problems.append(f"no line `{e.path}: EXTRA`")
        else:
            rest.pop(hit)
    if rest and not problems:
        problems.append(f"unexpected lines: {rest[:5]}")
    _conclude(report, check, subject, run, problems, combined_status(e.status for e in expected),
              f"{len(lines)} lines")


def _conclude(report: Reporter, check: str, subject: str, run: Run, problems: list[str],
              want_status: int, passed: str) -> None:
    """Adds what every run must show (the exit status, a summary on stderr) and reports the check."""
    if run.rc != want_status:
        problems.append(f"exit status {run.rc}, expected {want_status}")
    if not run.stderr.strip():
        problems.append("no summary on stderr")
    if problems:
        report.fail(check, subject, "; ".join(problems) + "\n" + run.describe())
    else:
        report.ok(check, subject, f"{passed}; exit {run.rc}")


def judge_failure(report: Reporter, check: str, subject: str, run: Run, names: list[str]) -> None:
    """A listing etagsum must refuse: exit status 2 and a message on stderr naming the file."""
    problems = []
    if run.rc != 2:
        problems.append(f"exit status {run.rc}, expected 2")
    missing = [n for n in names if n not in run.stderr]
    if missing:
        problems.append(f"stderr does not name {missing}")
    if problems:
        report.fail(check, subject, "; ".join(problems) + "\n" + run.describe())
    else:
        first = next((line for line in run.stderr.splitlines() if any(n in line for n in names)), "")
        report.ok(check, subject, f"exit 2: {first.strip()[:160]}")


def judge_shards(report: Reporter, check: str, subject: str, whole: list[dict], whole_rc: int,
                 shards: list[tuple[int, Run]], count: int) -> None:
    """N shard runs against one unsharded run: every line in the shard its key hashes to, the
    union of (key, verdict) equal to the unsharded run's, no key twice, and the combined exit
    status equal to the unsharded one."""
    problems = []
    union: list[tuple] = []
    statuses = []
    for k, run in shards:
        try:
            objs = json_lines(run.stdout)
        except ValueError as e:
            problems.append(f"shard {k}/{count}: {e}")
            continue
        statuses.append(run.rc)
        for o in objs:
            key = o.get("key")
            if not isinstance(key, str) or shard_of(key, count) != k:
                problems.append(f"shard {k}/{count} printed {key!r}, which hashes to shard "
                                f"{shard_of(key, count) if isinstance(key, str) else '?'}")
            union.append((key, o.get("verdict"), o.get("path")))
        own = combined_status(EXIT_FOR.get(o.get("verdict"), 2) for o in objs)
        if run.rc != own:
            problems.append(f"shard {k}/{count} exit status {run.rc}, its verdicts ask for {own}")
    twice = [k for k, n in Counter((u[0], u[2]) for u in union).items() if n > 1]
    if twice:
        problems.append(f"objects in more than one shard: {twice}")
    want = Counter((o.get("key"), o.get("verdict"), o.get("path")) for o in whole)
    got = Counter(union)
    if got != want:
        problems.append(f"union differs from the unsharded run: only sharded {sorted(got - want, key=str)}, "
                        f"only unsharded {sorted(want - got, key=str)}")
    if statuses and combined_status(statuses) != whole_rc:
        problems.append(f"combined exit status {combined_status(statuses)} (of {statuses}), "
                        f"unsharded {whole_rc}")
    sizes = [len(json_lines(r.stdout)) if r.stdout else 0 for _, r in shards] if not problems else []
    if problems:
        detail = "\n".join(r.describe() for _, r in shards[:3])
        report.fail(check, subject, "; ".join(problems) + "\n" + detail)
    else:
        report.ok(check, subject, f"{count} shards of {sizes} objects = {len(whole)}; "
                  f"statuses {statuses} -> {combined_status(statuses)}")
