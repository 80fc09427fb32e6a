"""Dataset names for channel labels: unique, HDF5-safe, and equal to the published names.

The published converter names each dataset by MNE's channel name. MNE strips the label
and renames repeated labels ``X-0``, ``X-1``, ... (in file order; when such a name is
already taken it tries ``X-a``, ``X-b``, ...). Labels containing ``/`` became nested HDF5
groups there, which no loader ever read (SPEC §1.6, REF-BUG §10.2).

Our rule, applied in this order:

1. the label, stripped; an empty label becomes ``channel-<position>`` (1-based);
2. repeated labels get MNE's suffixes — so every name the published converter could
   write is written identically, and the published ``channel_groups.json`` entries such as
   ``SpO2-0`` keep matching;
3. ``/`` becomes ``-`` (``F3/A2`` → ``F3-A2``), and the names ``.`` and ``..`` get a
   trailing ``_``; a name this makes equal to another gets ``-1``, ``-2``, ... appended.

The original label is always kept in the dataset's ``label`` attribute.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence


def mne_unique_names(labels: Sequence[str]) -> list[str]:
    """MNE's renaming of repeated channel names (deterministic: repeated labels in sorted order)."""
    names = list(labels)
    counts = Counter(names)
    for stem in sorted(label for label, count in counts.items() if count > 1):
        positions = [i for i, name in enumerate(names) if name == stem]
        for number, position in enumerate(positions):
            for suffix in (str(number), *string.ascii_lowercase):
                candidate = f"{stem}-{suffix}"
                if candidate not in names:
                    break
            else:
                raise ValueError(f"cannot make {stem!r} unique")
            names[position] = candidate
    return names


def dataset_names(labels: Sequence[str]) -> list[str]:
    """One unique, HDF5-safe dataset name per label, in order (see the module docstring)."""
    stripped = [label.strip() or f"channel-{i + 1}" for i, label in enumerate(labels)]
    names = mne_unique_names(stripped)
    taken = {name for name in names if "/" not in name and name not in (".", "..")}
    for i, name in enumerate(names):
        if "/" not in name and name not in (".", ".."):
            continue
        safe = name.replace("/", "-")
        if safe in (".", ".."):
            safe += "_"
        candidate, number = safe, 0
        while candidate in taken:
            number += 1
            candidate = f"{safe}-{number}"
        names[i] = candidate
        taken.add(candidate)
    return names
