"""How the dataset compression of ``sleepfm preprocess`` trades size for time (docs/preprocess.md).

    python benchmarks/compression.py [--hours 8]

Converts one synthetic mixed-rate night (as ``benchmarks/preprocess.py`` makes it) once
per codec with ``--workers 2``, each in its own process, and prints for each: CPU seconds
of the whole conversion, wall seconds, file size against the raw float16 data, the time to
read the whole night back, and the time to read one 5-minute block of every channel (what
embedding reads), both in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CODECS = [("none", None), ("lzf", None), ("gzip", 1), ("gzip", 4), ("zstd", 1), ("zstd", 5)]

READ = """
import sys, time
from sleepfm.store.signal_store import SignalStore
started = time.perf_counter()
with SignalStore(sys.argv[1]) as store:
    opened = time.perf_counter()
    names = [c.name for c in store.channels]
    store.read_block(names, 38400 * 10, 38400 * 11)
    block = time.perf_counter() - opened
    store.read_block(names, 0, store.n_samples)
print(time.perf_counter() - started, block)
"""


def run(command: list[str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=8.0)
    args = parser.parse_args()
    bench = Path(__file__).with_name("preprocess.py")
    with tempfile.TemporaryDirectory(prefix="sleepfm-codecs-") as folder:
        night = Path(folder) / "night.edf"
        subprocess.run([sys.executable, str(bench), "--hours", str(args.hours), "--make-night", str(night)],
                       check=True)
        raw = None
        print(f"{'codec':10s}{'cpu (s)':>9s}{'wall (s)':>10s}{'size':>8s}{'read all (s)':>14s}{'read 5 min (ms)':>17s}")
        for codec, level in CODECS:
            out = Path(folder) / f"{codec}-{level}"
            command = [sys.executable, "-m", "sleepfm", "preprocess", str(night), "--out", str(out),
                       "--workers", "2", "--set", f"compression={codec}"]
            if level is not None:
                command += ["--set", f"compression_level={level}"]
            wall, cpu, _ = run(command)
            size = (out / "night.h5").stat().st_size
            raw = raw or size if codec == "none" else raw
            _, _, timing = run([sys.executable, "-c", READ, str(out / "night.h5")])
            read_all, read_block = (float(v) for v in timing.split())
            name = codec + (f"-{level}" if level is not None else "")
            print(f"{name:10s}{cpu:9.2f}{wall:10.2f}{size / raw:8.3f}{read_all:14.2f}{read_block * 1000:17.1f}")
        print(f"(size relative to 'none' = {raw / 2**20:.0f} MB; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
