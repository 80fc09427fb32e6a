"""HDF5 embedding stores: per study, one 5-s and one 5-min embedding series per modality.

sleepfm layout (one file per study)::

    /5s/<MODALITY>    float32 (n_chunks * 60, E)   row r ↔ seconds [5r, 5r + 5)
    /5min/<MODALITY>  float32 (n_chunks, E)        row k ↔ minutes [5k, 5k + 5)

for each modality present; file attributes (:data:`ATTRS`): ``format``
(``"sleepfm-embeddings"``), ``checkpoint``, ``n_chunks``, ``patch_seconds`` (5),
``chunk_seconds`` (300), ``embed_dim``, ``modalities_missing`` (JSON list),
``channels`` (JSON object modality → channel names used), ``partial_chunk``
(``"drop"``/``"pad"``), ``padded_tokens`` (tokens of the last chunk that are padding, 0 if
none), ``source_file``, ``sleepfm_version``. Quality masking adds ``quality`` (``"mask"`` or
``"off"``), ``masked_channels`` (JSON: channel → chunks it was left out of),
``masked_reasons`` (channel → the checks that did it), ``masked_fraction`` (left-out
channel-chunks over all) and ``chunks_missing`` (JSON: modality → chunks where no channel was
left; their rows are zeros and :meth:`EmbeddingStore.stacked` masks them).

The published layout is two files per study in two folders: ``<name>/<id>.hdf5`` holding
root datasets ``BAS``, ``RESP``, ``EKG``, ``EMG`` of 5-s embeddings, and
``<name>_5min_agg/<id>.hdf5`` the same names with 5-min embeddings. :class:`EmbeddingStore`
reads both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sleepfm import __version__
from sleepfm.errors import InputError, SleepfmError
from sleepfm.interfaces.modality import MODALITIES, Modality
from sleepfm.store.h5_output import H5Output

FORMAT = "sleepfm-embeddings"
TOKENS = "5s"
POOLED = "5min"
ATTRS = (
    "format", "checkpoint", "n_chunks", "patch_seconds", "chunk_seconds", "embed_dim", "modalities_missing",
    "channels", "partial_chunk", "padded_tokens", "source_file", "sleepfm_version",
)


def write_embeddings(
    path: Path,
    tokens: Mapping[Modality, np.ndarray],
    pooled: Mapping[Modality, np.ndarray],
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write a sleepfm-layout embedding file atomically (temporary name, then rename).

    ``tokens[m]`` is (n_chunks * 60, E), ``pooled[m]`` is (n_chunks, E); modalities absent
    from ``tokens`` are recorded in ``modalities_missing``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    present = [m for m in MODALITIES if m in tokens]
    output = H5Output(path.with_name(f".{path.name}.{os.getpid()}.tmp"))
    try:
        handle = output.file
        for modality in present:
            handle.create_dataset(f"{TOKENS}/{modality.value}", data=np.asarray(tokens[modality], np.float32))
            handle.create_dataset(f"{POOLED}/{modality.value}", data=np.asarray(pooled[modality], np.float32))
        first = np.asarray(pooled[present[0]]) if present else np.zeros((0, 0))
        defaults: dict[str, Any] = {
            "format": FORMAT,
            "n_chunks": int(first.shape[0]),
            "patch_seconds": 5.0,
            "chunk_seconds": 300.0,
            "embed_dim": int(first.shape[1]) if first.ndim == 2 else 0,
            "modalities_missing": json.dumps([m.value for m in MODALITIES if m not in tokens]),
            "padded_tokens": 0,
            "sleepfm_version": __version__,
        }
        for key, value in {**defaults, **dict(attrs or {})}.items():
            handle.attrs[key] = json.dumps(value) if isinstance(value, dict | list) else value
    except BaseException:
        output.discard()
        raise
    output.commit(path)
    return path


def published_paths(folder: Path, stem: str) -> tuple[Path, Path]:
    """Where the published layout puts a study's 5-s and 5-min files: ``folder/<stem>.hdf5`` and
    ``<folder>_5min_agg/<stem>.hdf5`` (the twin :class:`EmbeddingStore` looks for)."""
    folder = Path(folder)
    return folder / f"{stem}.hdf5", folder.with_name(folder.name + "_5min_agg") / f"{stem}.hdf5"


def write_published_embeddings(
    folder: Path, stem: str, tokens: Mapping[Modality, np.ndarray], pooled: Mapping[Modality, np.ndarray]
) -> tuple[Path, Path]:
    """Write the published two-folder layout for existing downstream scripts: root datasets named
    by modality, float32, chunked (128, E), resizable rows, no attributes. Both files are written
    under temporary names and renamed once both are complete."""
    targets = published_paths(folder, stem)
    temporaries = [path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in targets]
    try:
        for tmp, series in zip(temporaries, (tokens, pooled), strict=True):
            tmp.parent.mkdir(parents=True, exist_ok=True)
            output = H5Output(tmp)
            try:
                for modality in MODALITIES:
                    if modality in series:
                        data = np.asarray(series[modality], dtype=np.float32)
                        output.file.create_dataset(modality.value, data=data, chunks=(128, data.shape[1]),
                                                   maxshape=(None, data.shape[1]))
            except BaseException:
                output.discard()
                raise
            output.finish()
        for tmp, path in zip(temporaries, targets, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        raise
    return targets


class EmbeddingStore:
    """Read access to an embedding file of either layout.

    For a published 5-s file, pass ``pooled_path`` (the ``_5min_agg`` twin) to read 5-min
    embeddings too; when omitted it is looked for in the sibling ``<folder>_5min_agg``.
    """

    def __init__(self, path: Path, *, pooled_path: Path | None = None) -> None:
        self.path = Path(path)
        self._file = _open(self.path)
        self.published = TOKENS not in self._file
        self._pooled_file: h5py.File | None = None
        if self.published:
            self._tokens = {m: self._file[m.value] for m in MODALITIES if m.value in self._file}
            twin = pooled_path or self.path.parent.with_name(self.path.parent.name + "_5min_agg") / self.path.name
            if Path(twin).is_file():
                self._pooled_file = _open(Path(twin))
                self._pooled = {m: self._pooled_file[m.value] for m in self._tokens if m.value in self._pooled_file}
            else:
                self._pooled = {}
            self.attrs: dict[str, Any] = {}
        else:
            self._tokens = {m: self._file[f"{TOKENS}/{m.value}"] for m in MODALITIES if m.value in self._file[TOKENS]}
            self._pooled = {m: self._file[f"{POOLED}/{m.value}"] for m in self._tokens}
            self.attrs = {k: _decode(v) for k, v in self._file.attrs.items()}

    @property
    def modalities(self) -> list[Modality]:
        """Modalities present, in :data:`MODALITIES` order."""
        return [m for m in MODALITIES if m in self._tokens]

    @property
    def missing(self) -> list[Modality]:
        return [m for m in MODALITIES if m not in self._tokens]

    @property
    def n_tokens(self) -> int:
        return max((int(d.shape[0]) for d in self._tokens.values()), default=0)

    @property
    def embed_dim(self) -> int:
        return next((int(d.shape[1]) for d in self._tokens.values()), 0)

    @property
    def padded_tokens(self) -> int:
        return int(self.attrs.get("padded_tokens", 0) or 0)

    def tokens(self, modality: Modality) -> np.ndarray:
        """5-s embeddings of ``modality``, float32 (S, E)."""
        return np.asarray(self._tokens[Modality(modality)][()], dtype=np.float32)

    def pooled(self, modality: Modality) -> np.ndarray:
        """5-min embeddings of ``modality``, float32 (n_chunks, E)."""
        modality = Modality(modality)
        if modality not in self._pooled:
            raise InputError(f"no 5-min embeddings for {modality.value}", where=self.path,
                             fix="keep the published <name>_5min_agg folder beside the 5-s folder")
        return np.asarray(self._pooled[modality][()], dtype=np.float32)

    def stacked(self, modalities: tuple[Modality, ...] = MODALITIES, max_tokens: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Head input for this study: ``x`` float32 (M, S, E) and ``mask`` bool (M, S), True = pad.

        A missing modality is zeros and fully masked, and so are the chunks where quality
        masking left a modality no channel (``chunks_missing``); trailing padding tokens of a
        padded last chunk are masked in every modality.
        """
        length = self.n_tokens if max_tokens is None else min(self.n_tokens, max_tokens)
        x = np.zeros((len(modalities), length, self.embed_dim), dtype=np.float32)
        mask = np.ones((len(modalities), length), dtype=bool)
        real = length - max(0, self.padded_tokens - (self.n_tokens - length))
        for i, modality in enumerate(modalities):
            if modality in self._tokens:
                data = self._tokens[modality][:length]
                x[i, : data.shape[0]] = data
                mask[i, : min(data.shape[0], real)] = False
        missing = self.attrs.get("chunks_missing") or {}
        chunks = int(self.attrs.get("n_chunks") or 0)
        per_chunk = self.n_tokens // chunks if chunks else 0
        for i, modality in enumerate(modalities):
            for chunk in missing.get(modality.value, []) if isinstance(missing, dict) and per_chunk else []:
                mask[i, int(chunk) * per_chunk: (int(chunk) + 1) * per_chunk] = True
        return x, mask

    def close(self) -> None:
        self._file.close()
        if self._pooled_file is not None:
            self._pooled_file.close()

    def __enter__(self) -> EmbeddingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_current(path: Path, checkpoint: Path, partial_chunk: str, *, quality: str | None = None,
               precision: str | None = None) -> bool:
    """Whether ``path`` is a complete embedding store made with ``checkpoint`` and ``partial_chunk``
    (and, when given, the quality mode and the precision that ran), so that a rerun may keep it."""
    if not Path(path).is_file():
        return False
    try:
        with EmbeddingStore(path) as store:
            attrs = store.attrs
    except (SleepfmError, OSError):
        return False
    wanted = {"checkpoint": str(Path(checkpoint).resolve()), "partial_chunk": partial_chunk, "quality": quality,
              "precision": precision}
    return all(attrs.get(key) == value for key, value in wanted.items() if value is not None)


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise InputError("embedding file not found", where=path) from None
    except OSError as exc:
        raise InputError(f"not a readable HDF5 file ({exc})", where=path, fix="re-run `sleepfm embed`") from None


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value
