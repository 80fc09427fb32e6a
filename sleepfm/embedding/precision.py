"""Which precision ``sleepfm embed`` runs in: fp32, or bf16 where the hardware multiplies bf16 fast.

``--precision`` takes ``fp32`` (the default), ``bf16`` or ``auto``:

* ``auto`` picks bf16 only on a CPU with AMX (the ``amx_bf16`` flag: Intel Xeon Sapphire Rapids
  and later), where bf16 matrix products run several times faster than fp32, and fp32
  everywhere else, GPUs included (ask for bf16 there). It says which, and why.
* ``bf16`` runs bf16 on a CPU with bf16 matrix instructions (AMX, AVX512-BF16, or Arm's BF16)
  and on a GPU of compute capability 8.0 or later. Without them torch multiplies bf16 in a
  generic kernel, 20-60× slower than fp32 on an AVX2 EPYC (the embedding took 14-32× as long), so
  sleepfm warns and runs fp32 instead.

The CPU's flags are read from ``/proc/cpuinfo`` (Linux). Where it cannot be read, no flag is
assumed: ``auto`` gives fp32 and ``bf16`` falls back with the warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

Precision = Literal["fp32", "bf16"]
CPUINFO = Path("/proc/cpuinfo")
#: Flags of CPUs whose bf16 matrix products beat fp32: AMX tiles, AVX512-BF16 dot products, Arm BF16.
BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


def cpu_flags(cpuinfo: Path | None = None) -> frozenset[str]:
    """The feature flags of the first processor listed in ``cpuinfo`` (default :data:`CPUINFO`;
    x86 ``flags``, Arm ``Features``). Empty where the file is missing or unreadable (not Linux,
    a restricted container)."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run uses, and the line that says why (``warn``: say it as a warning)."""

    precision: Precision
    reason: str
    warn: bool = False


def choose_precision(requested: str, device: torch.device, flags: frozenset[str] | None = None
                     ) -> PrecisionChoice:
    """The precision for ``requested`` (fp32, bf16 or auto) on ``device``; ``flags``: the CPU's
    (default: read from ``/proc/cpuinfo``)."""
    if requested == "fp32":
        return PrecisionChoice("fp32", "precision fp32")
    if requested not in ("bf16", "auto"):
        raise ValueError(f"unknown precision {requested!r}")
    if device.type == "cuda":
        if requested == "auto":
            return PrecisionChoice("fp32", "--precision auto: fp32 on the GPU (auto picks bf16 only on CPUs with AMX; "
                                           "pass --precision bf16 to use it here)")
        major, minor = torch.cuda.get_device_capability(device)
        if major < 8:  # before Ampere, bf16 products are emulated
            return PrecisionChoice("fp32", f"--precision bf16: this GPU (compute capability {major}.{minor}) has no "
                                           "native bf16 (8.0 and later have); running fp32 instead", warn=True)
        return PrecisionChoice("bf16", f"precision bf16 on the GPU (compute capability {major}.{minor})")
    flags = cpu_flags() if flags is None else flags
    native = [flag for flag in BF16_FLAGS if flag in flags]
    if requested == "auto":
        if "amx_bf16" in flags:
            return PrecisionChoice("bf16", "--precision auto: bf16, the CPU has AMX (amx_bf16), which multiplies "
                                           "bf16 several times faster than fp32")
        return PrecisionChoice("fp32", "--precision auto: fp32, the CPU has no AMX (no amx_bf16 flag in "
                                       "/proc/cpuinfo), where bf16 would not be faster")
    if native:
        return PrecisionChoice("bf16", f"precision bf16: the CPU multiplies bf16 natively ({native[0]})")
    return PrecisionChoice(
        "fp32", "--precision bf16: this CPU has no bf16 matrix instructions (no amx_bf16, avx512_bf16 or bf16 flag "
                "in /proc/cpuinfo), where bf16 products run tens of times slower than fp32; running fp32 instead "
                "(--precision auto picks bf16 only where it is faster)", warn=True)
