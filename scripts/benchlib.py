"""What the benchmark scripts share: a line that names the machine the figures were taken on, sizes
written as 1GiB, and the page-cached test file."""

import os
import platform


def machine() -> str:
    """CPU model, core count, kernel and the SIMD extensions the MD5 kernels use."""
    model, flags = "unknown cpu", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown cpu":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1]
    except OSError:
        pass
    simd = [x for x in ("avx512f", "avx512bw", "avx2") if f" {x} " in f" {flags} "]
    return (f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"simd: {' '.join(simd) or 'none'}")


def parse_size(s: str) -> int:
    """A byte count: 1073741824, 1GiB, 1G, 512MiB."""
    units = {"k": 10, "m": 20, "g": 30, "t": 40}
    t = s.strip().lower().removesuffix("ib").removesuffix("b")
    if t and t[-1] in units:
        return int(t[:-1]) << units[t[-1]]
    return int(t)


def make_file(path, size: int) -> None:
    """Incompressible, deterministic content; written once and reused by every script."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    block = bytearray(os.urandom(1 << 20))
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            block[0:8] = (int.from_bytes(block[0:8], "little") + 1).to_bytes(8, "little")
            left -= n


def warm(path) -> None:
    """Reads the file once, so that it is in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass
