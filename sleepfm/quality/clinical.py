"""What ``stage``, ``risk`` and ``run`` say about a recording's signal quality: the verdict from the
flags ``preprocess`` kept, what embedding masked, and the foreign-data check.

One dict per recording, merged into its statistics JSON and the run report
(:func:`recording_quality`), and the warning lines for the console (:func:`warnings_for`). A
recording judged unusable is still staged; every output about it carries the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sleepfm.errors import SleepfmError


def recording_quality(signals: Path, embeddings: Path, checkpoint_folders: Iterable[Path]) -> dict[str, Any]:
    """``verdict``, ``reasons``, ``usable_fraction`` per modality, ``masked_fraction``, ``chunks_missing``
    and ``foreign_data`` of one prepared recording."""
    from sleepfm.quality.assess import CheckSet, assess_store
    from sleepfm.quality.reference import find_reference
    from sleepfm.quality.summary import judge
    from sleepfm.store.embedding_store import EmbeddingStore
    from sleepfm.store.signal_store import SignalStore

    with SignalStore(signals) as store:
        flags = store.quality_flags() or assess_store(store, CheckSet.from_config())
        quality = judge(flags, list(store.channels))
    with EmbeddingStore(embeddings) as embedded:
        attrs = embedded.attrs
    result: dict[str, Any] = {
        "verdict": quality.verdict, "reasons": quality.reasons,
        "usable_fraction": {m: v["usable_fraction"] for m, v in quality.modalities.items() if v["channels"]},
        "masking": attrs.get("quality", "off"), "masked_fraction": float(attrs.get("masked_fraction", 0.0) or 0.0),
        "chunks_missing": attrs.get("chunks_missing") or {},
    }
    try:
        found = find_reference(checkpoint_folders)
    except SleepfmError as exc:
        result["foreign_data"] = {"checked": False, "reason": str(exc)}
        return result
    if found is None:
        result["foreign_data"] = {"checked": False, "reason": "no reference statistics beside the checkpoints "
                                  "(`sleepfm calibrate-reference` builds them)"}
    else:
        reference, path = found
        result["foreign_data"] = {**reference.compare(embeddings), "reference": str(path)}
    return result


def warnings_for(name: str, quality: dict[str, Any]) -> list[str]:
    """Console lines: an unusable verdict, and a foreign recording."""
    from sleepfm.quality.reference import foreign_line

    lines = []
    if quality["verdict"] == "unusable":
        lines.append(f"{name}: signal quality unusable ({quality['reasons'][0] if quality['reasons'] else ''}); "
                     "staged anyway, flagged in its outputs — see `sleepfm qc`")
    foreign = foreign_line(name, quality.get("foreign_data", {}))
    if foreign:
        lines.append(foreign)
    return lines


def flag_text(quality: dict[str, Any] | None) -> str:
    """A short flag for titles and tables ("" when there is nothing to flag)."""
    if not quality:
        return ""
    parts = []
    if quality.get("verdict") in ("degraded", "unusable"):
        parts.append(f"signal quality {quality['verdict'].upper()}")
    if quality.get("foreign_data", {}).get("foreign"):
        parts.append("FOREIGN DATA")
    return " — ".join(parts)


def epochs_without_signal(embeddings: Path, n_epochs: int) -> np.ndarray:
    """bool (n_epochs,): the 30-s epochs in which quality masking left every modality present without
    a channel. The staging head still gives them probabilities (from the night around them), but
    nothing was measured there: they are reported unscored (UNS)."""
    from sleepfm.store.embedding_store import EmbeddingStore

    with EmbeddingStore(embeddings) as store:
        missing = store.attrs.get("chunks_missing") or {}
        present = [m.value for m in store.modalities]
        chunks = int(store.attrs.get("n_chunks") or 0)
        tokens = store.n_tokens
    blank = np.zeros(n_epochs, dtype=bool)
    if not isinstance(missing, dict) or not present or not chunks or tokens % chunks or (tokens // chunks) % 6:
        return blank
    empty = set.intersection(*(set(missing.get(m, [])) for m in present))
    per_chunk = tokens // chunks // 6  # 30-s epochs per chunk
    for chunk in empty:
        blank[int(chunk) * per_chunk: (int(chunk) + 1) * per_chunk] = True
    return blank
