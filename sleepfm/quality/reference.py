"""The foreign-data warning: is this recording like the nights the model is known to work on?

A checkpoint may carry ``reference_statistics.json``: per modality, the mean and standard
deviation of the base model's 5-s embeddings over reference nights, and how far from that mean a
reference embedding lies at most, but for 1 % (the 99th percentile of their distances). An
embedding's distance is the root mean square, over its dimensions, of its deviation from the
mean in units of the standard deviation. A recording is *foreign* in a modality when more than
half of its 5-s embeddings lie beyond that percentile — a night unlike anything the model saw,
flagged before anyone reads its hypnogram.

The reference is written by ``sleepfm finetune`` (from the training nights' embeddings, beside
the fine-tuned head) and by ``sleepfm calibrate-reference`` (from a lab's own labelled nights,
for a published checkpoint). ``stage``, ``risk`` and ``run`` look for it beside the head they
use, then beside the base model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from sleepfm.clinical.inputs import recordings_and_names, scored_hypnograms
from sleepfm.clinical.models import CheckpointSet, staging_runner
from sleepfm.clinical.night import align_scored, stage_night
from sleepfm.clinical.prepare import PrepareSettings, recording_info
from sleepfm.clinical.stage import each_recording
from sleepfm.errors import InputError
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.json_input import read_json
from sleepfm.json_output import write_json
from sleepfm.labels.hypnogram import Hypnogram
from sleepfm.report.sleep_stats import agreement

REFERENCE_NAME = "reference_statistics.json"
FORMAT = "sleepfm-reference"
#: A reference 5-s embedding lies within this percentile of the reference's distances.
PERCENTILE = 99.0
#: A recording whose share of 5-s embeddings beyond the percentile exceeds this is foreign there.
MAX_OUTSIDE = 0.5


def _tokens(path: Path, modality: Modality) -> np.ndarray | None:
    """The 5-s embeddings of ``modality`` in an embedding file: padding and the chunks where quality
    masking left the modality no channel are left out."""
    from sleepfm.store.embedding_store import EmbeddingStore

    with EmbeddingStore(path) as store:
        if modality not in store.modalities:
            return None
        x, mask = store.stacked((modality,))
    rows = x[0][~mask[0]]
    rows = rows[np.isfinite(rows).all(axis=1)]
    return rows if rows.size else None


def night_tokens(path: Path) -> dict[str, np.ndarray]:
    """Per modality present, the night's 5-s embeddings (padding and missing chunks left out)."""
    found = {}
    for modality in MODALITIES:
        rows = _tokens(path, modality)
        if rows is not None:
            found[modality.value] = rows
    return found


def _distance(rows: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(((rows - mean) / std) ** 2, axis=1))


@dataclass
class Reference:
    """Reference statistics of one base model's embeddings (module docstring)."""

    modalities: dict[str, dict[str, Any]]
    nights: list[dict[str, Any]]
    source: str
    created: str = ""

    @classmethod
    def build(cls, embeddings: Sequence[Path], *, source: str,
              nights: list[dict[str, Any]] | None = None) -> Reference:
        """Statistics of the 5-s embeddings in ``embeddings`` (one file per night)."""
        nights_tokens = [night_tokens(Path(path)) for path in embeddings]
        record = nights if nights is not None else [{"file": str(p)} for p in embeddings]
        return cls.from_nights(nights_tokens, source=source, nights=record)

    @classmethod
    def from_nights(cls, tokens: Sequence[dict[str, np.ndarray]], *, source: str,
                    nights: list[dict[str, Any]]) -> Reference:
        """Statistics of per-night 5-s embeddings (:func:`night_tokens` of each night)."""
        if not tokens:
            raise InputError("no nights to build reference statistics from")
        modalities: dict[str, dict[str, Any]] = {}
        for modality in MODALITIES:
            parts = [night[modality.value] for night in tokens if modality.value in night]
            if not parts:
                continue
            rows = np.concatenate(parts).astype(np.float64)
            mean = rows.mean(axis=0)
            # A floor keeps a dimension that never moved in the reference from dividing by zero.
            std = np.maximum(rows.std(axis=0), 1e-3 * float(rows.std()) + 1e-12)
            distances = _distance(rows, mean, std)
            modalities[modality.value] = {
                "embeddings": int(rows.shape[0]), "nights": len(parts), "mean": mean.round(6).tolist(),
                "std": std.round(6).tolist(), "distance_percentile": PERCENTILE,
                "distance_threshold": float(np.percentile(distances, PERCENTILE)),
            }
        if not modalities:
            raise InputError("the reference nights hold no embeddings")
        return cls(modalities, nights, source, datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def save(self, path: Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / REFERENCE_NAME
        write_json(path, {"format": FORMAT, "format_version": 1, "source": self.source, "created": self.created,
                          "nights": self.nights, "modalities": self.modalities}, indent=1)
        return path

    @classmethod
    def load(cls, path: Path) -> Reference:
        data = read_json(Path(path), "reference statistics")
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("modalities"), dict):
            raise InputError("not a sleepfm reference statistics file", where=path,
                             fix="rebuild it with `sleepfm calibrate-reference`")
        return cls(data["modalities"], list(data.get("nights", [])), str(data.get("source", "")),
                   str(data.get("created", "")))

    def compare(self, embeddings: Path) -> dict[str, Any]:
        """How far one recording's embeddings lie from the reference, per modality, and the verdict."""
        found: dict[str, Any] = {}
        for name, stats in self.modalities.items():
            rows = _tokens(Path(embeddings), Modality(name))
            mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
            if rows is None or rows.shape[1] != mean.size:
                continue
            outside = float((_distance(rows.astype(np.float64), mean, std) > stats["distance_threshold"]).mean())
            found[name] = {"outside_fraction": round(outside, 4), "embeddings": int(rows.shape[0])}
        foreign = sorted(name for name, value in found.items() if value["outside_fraction"] > MAX_OUTSIDE)
        return {"checked": True, "foreign": bool(foreign), "foreign_modalities": foreign, "modalities": found,
                "reference_nights": len(self.nights), "reference_source": self.source}


def find_reference(folders: Iterable[Path]) -> tuple[Reference, Path] | None:
    """The first readable reference beside one of ``folders`` (checkpoint folders), or None."""
    for folder in folders:
        candidate = Path(folder) / REFERENCE_NAME
        if candidate.is_file():
            return Reference.load(candidate), candidate
    return None


def foreign_line(name: str, result: dict[str, Any]) -> str | None:
    """The one warning line for a foreign recording, or None."""
    if not result.get("foreign"):
        return None
    parts = ", ".join(f"{m} {100 * result['modalities'][m]['outside_fraction']:.0f} %"
                      for m in result["foreign_modalities"])
    return (f"{name}: unlike the nights the model was calibrated on (5-s embeddings beyond the reference's "
            f"{PERCENTILE:g}th percentile: {parts}) — check its montage and units, or fine-tune on a few labelled "
            "nights of this site (`sleepfm finetune staging`); see docs/quality.md")


def calibrate(recordings: Sequence[Path], checkpoints: Path, *, hypnograms: Sequence[Path] = (),
              hypnogram_format: str = "auto", out: Path | None = None, work: Path | None = None,
              settings: Any = None, notify: Any = None) -> tuple[Reference, Path, list[Any]]:
    """``sleepfm calibrate-reference``: reference statistics of a lab's own nights for a checkpoints
    folder (published or not). Each recording is preprocessed and embedded with ``model_base``;
    with scored hypnograms, each night is also staged with ``model_sleep_staging`` (when present)
    and its κ kept in the reference, so that a night the model stages badly is seen before it
    becomes part of "what the model knows". Written to ``out`` (a file, or a folder to hold
    ``reference_statistics.json``; default ``model_base/``). Returns the reference, its path and
    the recordings with their errors, if any."""

    settings = settings or PrepareSettings()
    target = Path(out) if out is not None else Path(checkpoints) / "model_base"
    if target.is_dir() or not target.suffix:
        target = target / REFERENCE_NAME
    found, keys = recordings_and_names([Path(p) for p in recordings], target.parent)
    scored = scored_hypnograms([Path(h) for h in hypnograms], found, fmt=hypnogram_format,
                               given=[Path(p) for p in recordings], notify=notify)
    models = CheckpointSet(Path(checkpoints)).require("base")
    staging = models.path("staging") if scored and models.has("staging") else None
    if staging is not None:
        staging_runner(staging, settings.device)  # a head that does not load fails before any work
    refused = {source: ("hypnogram", error) for source, error in scored.items() if not isinstance(error, Hypnogram)}
    contexts = {source: hypnogram for source, hypnogram in scored.items() if isinstance(hypnogram, Hypnogram)}
    done = each_recording(found.recordings, work, target.parent, models, settings, notify,
                          _Measure(staging, settings.device), keys=keys, contexts=contexts, refused=refused)
    ready = [r.result for r in done if r.ok and r.result is not None]
    if not ready:
        raise InputError("no recording could be embedded, so there is nothing to calibrate on",
                         fix="see the errors above")
    reference = Reference.from_nights([tokens for _, tokens in ready], nights=[entry for entry, _ in ready],
                                      source=f"sleepfm calibrate-reference: {len(ready)} night(s) of the lab")
    return reference, reference.save(target), done


@dataclass(frozen=True)
class _Measure:
    """calibrate-reference's step on a prepared night (picklable, as every pipeline analysis):
    its 5-s token statistics and, with a scored hypnogram and a staging head, its κ."""

    staging: Path | None
    device: str
    step: str = "calibrate"

    def __call__(self, recording: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        entry: dict[str, Any] = {"file": str(recording.source)}
        hypnogram = recording.context
        if isinstance(hypnogram, Hypnogram) and self.staging is not None:
            info = recording_info(recording)
            runner = staging_runner(self.staging, self.device)
            night = stage_night(runner.probabilities(recording.embeddings), duration=info.duration,
                                start_time=info.start_time)
            truth = align_scored(hypnogram, info.start_time, info.duration)
            n = min(truth.n_epochs, night.hypnogram.n_epochs)
            entry["kappa"] = round(float(agreement(truth.stages[:n], night.hypnogram.stages[:n]).kappa), 4)
        # Read now: without --work the embeddings are deleted with the temporary work folder.
        return entry, night_tokens(recording.embeddings)
