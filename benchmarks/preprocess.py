"""Benchmark: ``sleepfm preprocess`` against the published converter's algorithm, in one go.

    python benchmarks/preprocess.py [--hours 8] [--workers 2] [--repeat 1]

1. Writes a synthetic night in a temporary folder: 16 channels, 8 at 256 Hz, 7 at 32 Hz
   and 1 at 1 Hz (the mix of the reference ``mixed_rates.edf``), coloured noise plus
   slow sines, EDF+C, 8 hours by default.
2. Runs (a) the baseline: the published converter's steps followed literally (SPEC §1:
   MNE ``read_raw_edf(preload=True)``, per-channel Butterworth ``filtfilt`` at the file
   rate, ``np.interp`` to 128 Hz, whole-night z-score, ``np.stack``, one gzip float16
   dataset per channel) and (b) ``sleepfm preprocess --workers N`` on the same file, each
   in its own subprocess.
3. Prints wall time and peak memory of each — peak RSS of the process tree, sampled every
   10 ms and checked against the kernel's ``ru_maxrss`` — and the ratios, then checks that
   the two outputs hold the same float16 numbers.

Goals (issue 3): ≥ 5× faster, ≤ ¼ of the baseline's peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RATES = {256: ["EKG", "EOG-L", "EOG-R", "EMG", "EEG1", "EEG2", "EEG3", "Leg"],
         32: ["Pres", "Flow", "Snore", "Thor", "Abdo", "Therm", "Pos"],
         1: ["SpO2"]}


def make_night(path: Path, hours: float) -> Path:
    from sleepfm.read.edf_writer import MIXED_RATES, synthetic_recording

    assert list(MIXED_RATES) == [label for labels in RATES.values() for label in labels]
    return synthetic_recording(path, hours * 3600, MIXED_RATES, edf_plus=True)


def published_baseline(source: Path, target: Path, rate: float = 128.0) -> None:
    """The published converter's algorithm, step by step (reference README, SPEC §1.4-1.6)."""
    import h5py
    import mne
    import numpy as np
    from scipy import signal

    raw = mne.io.read_raw_edf(source, preload=True, verbose="error")
    names, file_rate = raw.ch_names, raw.info["sfreq"]
    signals = []
    for name in names:
        x = raw.get_data(picks=[name])[0]
        duration = len(x) / file_rate
        old = np.linspace(0, duration, len(x), endpoint=False)
        new = np.linspace(0, duration, int(duration * rate), endpoint=False)
        if file_rate > rate:
            b, a = signal.butter(4, (rate / 2) / (file_rate / 2), "low")
            x = signal.filtfilt(b, a, x)
        y = np.interp(new, old, x)
        mean, std = y.mean(), y.std()
        y = (y - mean) / std if std != 0 else y - mean
        if np.isnan(y).any():
            continue
        signals.append(y)
    stacked = np.stack(signals)
    with h5py.File(target, "w") as handle:
        for name, y in zip(names, stacked, strict=False):
            handle.create_dataset(name, data=y.astype(np.float16), dtype="float16",
                                  chunks=(int(300 * rate),), compression="gzip")


def run_measured(command: list[str]) -> tuple[float, float, float]:
    """Run ``command``; return (wall seconds, peak RSS in MB of its process tree, CPU seconds)."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(process.pid)
            while not stop.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                    peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree))
                except psutil.Error:
                    pass
                stop.wait(0.01)
        except psutil.Error:
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    # ru_maxrss (kB on Linux) covers the process and its waited-for children one at a time
    # (and whatever this process held when it spawned the child: keep this process small);
    # the sampler adds up concurrent processes. Report the larger.
    return wall, max(peak[0], usage.ru_maxrss * 1024) / 2**20, usage.ru_utime + usage.ru_stime


def compare(baseline: Path, ours: Path) -> str:
    import h5py
    import numpy as np

    with h5py.File(baseline) as a, h5py.File(ours) as b:
        names = sorted(a)
        missing = [n for n in names if n not in b]
        equal = [n for n in names if n in b and np.array_equal(a[n][:], b[n][:])]
        worst = max((float(np.max(np.abs(a[n][:].astype(np.float32) - b[n][:].astype(np.float32))))
                     for n in names if n in b), default=0.0)
    verdict = f"{len(equal)}/{len(names)} channels identical in float16"
    if missing:
        verdict += f"; missing in ours: {', '.join(missing)}"
    if len(equal) < len(names):
        verdict += f"; largest difference {worst:g}"
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (medians are compared)")
    parser.add_argument("--baseline", nargs=2, metavar=("EDF", "H5"), help=argparse.SUPPRESS)
    parser.add_argument("--make-night", metavar="EDF", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        published_baseline(Path(args.baseline[0]), Path(args.baseline[1]))
        return
    if args.make_night:
        make_night(Path(args.make_night), args.hours)
        return

    with tempfile.TemporaryDirectory(prefix="sleepfm-bench-") as folder:
        folder_path = Path(folder)
        night = folder_path / "night.edf"
        # In a subprocess: this process must stay small (see run_measured).
        subprocess.run([sys.executable, __file__, "--hours", str(args.hours), "--make-night", str(night)], check=True)
        size = night.stat().st_size / 2**20
        print(f"synthetic night: {args.hours:g} h, 16 channels (8 × 256 Hz, 7 × 32 Hz, 1 × 1 Hz), {size:.0f} MB EDF+C")
        base_runs, our_runs = [], []
        for i in range(args.repeat):
            base_out = folder_path / f"baseline-{i}.h5"
            load = os.getloadavg()[0]
            base_runs.append(run_measured([sys.executable, __file__, "--baseline", str(night), str(base_out)]))
            our_dir = folder_path / f"ours-{i}"
            our_runs.append(run_measured([sys.executable, "-m", "sleepfm", "preprocess", str(night),
                                          "--out", str(our_dir), "--workers", str(args.workers)]))
            (bw, bm, bc), (ow, om, oc) = base_runs[-1], our_runs[-1]
            print(f"run {i + 1} (load {load:.1f}): baseline {bw:.2f} s, {bm:.0f} MB, {bc:.1f} CPU-s | "
                  f"sleepfm {ow:.2f} s, {om:.0f} MB, {oc:.1f} CPU-s | {bw / ow:.2f}×")
        base = [statistics.median(run[k] for run in base_runs) for k in range(3)]
        ours = [statistics.median(run[k] for run in our_runs) for k in range(3)]
        speed, memory = base[0] / ours[0], ours[1] / base[1]
        print()
        print(f"{'median of ' + str(args.repeat):28s}{'wall (s)':>10s}{'peak RSS (MB)':>16s}{'CPU (s)':>10s}")
        print(f"{'baseline (published steps)':28s}{base[0]:10.2f}{base[1]:16.0f}{base[2]:10.1f}")
        print(f"{f'sleepfm --workers {args.workers}':28s}{ours[0]:10.2f}{ours[1]:16.0f}{ours[2]:10.1f}")
        print(f"speed-up {speed:.2f}× (goal ≥ 5×: {'met' if speed >= 5 else 'NOT met'}); "
              f"memory {memory:.3f} of baseline (goal ≤ 0.25: {'met' if memory <= 0.25 else 'NOT met'}); "
              f"CPU time {base[2] / ours[2]:.2f}× less")
        print("outputs:", compare(folder_path / "baseline-0.h5", folder_path / "ours-0" / "night.h5"))
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
