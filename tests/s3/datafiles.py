"""Test files and the harness's own ETag arithmetic.

The ETag computed here is only a sanity check of the harness: it proves that
the part layout read back from the server is the one the server used. The
verdict under test always comes from etagsum.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
_CHUNK = 4 * MIB


@dataclass(frozen=True)
class Layout:
    """A part layout as etagsum's JSON reports it."""

    kind: str  # "single", "multipart" (uniform parts) or "explicit" (listed part sizes)
    part_size: int | None = None
    parts: int | None = None
    part_sizes: tuple[int, ...] = ()

    @staticmethod
    def single() -> "Layout":
        return Layout("single")

    @staticmethod
    def multipart(part_size: int, parts: int) -> "Layout":
        return Layout("multipart", part_size, parts)

    @staticmethod
    def explicit(part_sizes: list[int]) -> "Layout":
        return Layout("explicit", part_sizes[0], len(part_sizes), tuple(part_sizes))

    def to_json(self) -> dict:
        if self.kind == "single":
            return {"kind": "single"}
        return {"kind": "multipart", "part_size": self.part_size, "parts": self.parts}

    def __str__(self) -> str:
        if self.kind == "single":
            return "single"
        if self.kind == "explicit":
            return "+".join(map(str, self.part_sizes))
        return f"{self.parts}x{self.part_size}"


def uniform_part_sizes(size: int, part_size: int) -> list[int]:
    """Sizes of the parts of `size` bytes cut into `part_size` pieces (at least one part)."""
    if size == 0:
        return [0]
    full, rest = divmod(size, part_size)
    return [part_size] * full + ([rest] if rest else [])


def _md5_ranges(path: Path, part_sizes: list[int]) -> list[bytes]:
    digests = []
    with path.open("rb") as f:
        for part in part_sizes:
            h = hashlib.md5()
            left = part
            while left:
                block = f.read(min(left, _CHUNK))
                if not block:
                    raise ValueError(f"{path} is shorter than the parts {part_sizes}")
                h.update(block)
                left -= len(block)
            digests.append(h.digest())
        if f.read(1):
            raise ValueError(f"{path} is longer than the parts {part_sizes}")
    return digests


def single_etag(path: Path) -> str:
    """The ETag of a single PUT: the hex MD5 of the bytes."""
    return _md5_ranges(path, [path.stat().st_size])[0].hex()


def multipart_etag(path: Path, part_sizes: list[int]) -> str:
    """The ETag of a multipart upload with these part sizes."""
    digests = _md5_ranges(path, part_sizes)
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def etag_for_layout(path: Path, layout: Layout) -> str:
    if layout.kind == "single":
        return single_etag(path)
    if layout.kind == "explicit":
        return multipart_etag(path, list(layout.part_sizes))
    return multipart_etag(path, uniform_part_sizes(path.stat().st_size, layout.part_size))


class FileFactory:
    """Writes deterministic pseudo-random files (and corrupted copies) into a directory."""

    def __init__(self, directory: Path, seed: str):
        self.directory = directory
        self.seed = seed
        self._files: dict[str, Path] = {}
        self._corrupted: dict[Path, tuple[Path, str]] = {}

    def file(self, size: int, name: str | None = None) -> Path:
        """A file of `size` bytes whose content depends only on the seed, the size and the name."""
        name = name or f"f{size}"
        if name not in self._files:
            path = self.directory / f"{name}.bin"
            rng = random.Random(f"{self.seed}:{name}:{size}")
            with path.open("wb") as f:
                left = size
                while left:
                    n = min(left, _CHUNK)
                    f.write(rng.randbytes(n))
                    left -= n
            self._files[name] = path
        return self._files[name]

    def corrupted(self, original: Path) -> tuple[Path, str]:
        """A copy of `original` with one byte flipped (one byte appended when it is empty).

        Returns the copy and a description of the change.
        """
        if original in self._corrupted:
            return self._corrupted[original]
        path = original.with_name(original.stem + ".corrupt.bin")
        data = bytearray(original.read_bytes())
        if data:
            offset = random.Random(f"{self.seed}:flip:{original.name}").randrange(len(data))
            data[offset] ^= 0x01
            change = f"byte {offset} flipped"
        else:
            data.append(0)
            change = "one byte appended to the empty file"
        path.write_bytes(data)
        self._corrupted[original] = (path, change)
        return path, change
