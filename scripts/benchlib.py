"""What the benchmark scripts share: a line that names the machine the figures were taken on."""

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
