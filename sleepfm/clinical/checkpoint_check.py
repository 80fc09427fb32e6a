"""``sleepfm checkpoints check DIR``: what a checkpoints folder holds, whether each model loads,
and what is missing — before a long run finds out.

For each of ``model_base/``, ``model_sleep_staging/`` and ``model_diagnosis/`` (the release's
layout, :mod:`sleepfm.clinical.models`): present or missing; loaded with sleepfm's loader
(published or sleepfm format, weights matched strictly); the component, its format, embedding
width and outputs; whether it is the kind of network its folder is for; and whether a head's
embedding width is the base model's. Then the phecode names ``risk`` would use
(:func:`sleepfm.clinical.risk_table.find_label_mapping`), checked against the diagnosis head, and
which commands the folder serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepfm.errors import CheckpointError, SleepfmError

from .models import FOLDERS, CheckpointSet

#: What each role is for, and the registry kind and head task its network must have.
ROLES: dict[str, tuple[str, str, str | None]] = {
    "base": ("embeddings (every command)", "models", None),
    "staging": ("stage, run", "heads", "staging"),
    "diagnosis": ("risk, and risk tables in run", "heads", "diagnosis"),
}


@dataclass
class Part:
    """One line of the check: a model folder or the label table."""

    name: str
    status: str  # "ok", "missing" or "broken"
    detail: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FolderCheck:
    root: Path
    parts: list[Part]

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    @property
    def usable_by(self) -> list[str]:
        ok = {p.name for p in self.parts if p.status == "ok"}
        commands = []
        if {FOLDERS["base"], FOLDERS["staging"]} <= ok:
            commands += ["stage", "run"]
        if {FOLDERS["base"], FOLDERS["diagnosis"], "label_mapping.csv"} <= ok:
            commands.append("risk")
        return commands

    @property
    def ok(self) -> bool:
        """Nothing present is broken, and at least one command can use the folder."""
        return not any(p.status == "broken" for p in self.parts) and bool(self.usable_by)


def _describe(checkpoint: Any) -> str:
    params = checkpoint.params
    parameters = sum(p.numel() for p in checkpoint.module.parameters())
    bits = [f"{checkpoint.name} ({checkpoint.source} format)", f"embed_dim {params.get('embed_dim', '?')}"]
    if "num_classes" in params:
        bits.append(f"{params['num_classes']} outputs")
    if params.get("max_seq_length") and checkpoint.kind == "heads":
        bits.append(f"up to {params['max_seq_length']} tokens")
    return ", ".join(bits) + f", {parameters:,} parameters: loads"


def _check_model(root: Path, role: str, base_ok: bool) -> Part:
    from sleepfm.checkpoints import load_checkpoint

    name = FOLDERS[role]
    needed_by, kind, task = ROLES[role]
    path = root / name
    if not path.exists():
        return Part(name, "missing", f"missing: needed by {needed_by}")
    try:
        checkpoint = load_checkpoint(path)
    except SleepfmError as exc:
        return Part(name, "broken", f"does not load: {' '.join(str(exc).split())}")
    found_task = getattr(type(checkpoint.module), "task", None)
    if checkpoint.kind != kind or (task is not None and found_task != task):
        what = f"a {found_task} head" if checkpoint.kind == "heads" else f"a {checkpoint.kind[:-1]}"
        wanted = f"a {task} head" if task else "a base model"
        return Part(name, "broken", f"holds {what} ({checkpoint.name}), not {wanted}")
    if role != "base" and base_ok:
        try:
            CheckpointSet(root).check_sizes(role)  # the check stage, risk and run make before any work
        except CheckpointError as exc:
            return Part(name, "broken", exc.what + ": a head trained on another base model")
    return Part(name, "ok", _describe(checkpoint), dict(checkpoint.params))


def _check_labels(root: Path, diagnosis: Part) -> Part:
    from sleepfm.labels.tables import read_label_mapping

    from .risk_table import find_label_mapping, packaged_label_mapping

    path = find_label_mapping(None, root)
    own = "sleepfm's copy of the released phecode table" if path == packaged_label_mapping() else str(path)
    outputs = diagnosis.params.get("num_classes") if diagnosis.status == "ok" else None
    try:
        rows = len(read_label_mapping(path, outputs, ordered=True))
    except SleepfmError as exc:  # its message names the file
        return Part("label_mapping.csv", "broken", " ".join(str(exc).split()))
    return Part("label_mapping.csv", "ok", f"{own}, {rows:,} phecodes" + (
        " (none in the folder; pass --labels to use another)" if path == packaged_label_mapping() else ""))


def check_checkpoints(root: Path) -> FolderCheck:
    """Check the checkpoints folder ``root`` (module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise CheckpointError("checkpoints folder not found" if not root.exists() else "not a folder", where=root,
                              fix="give the folder holding model_base/, model_sleep_staging/, model_diagnosis/")
    base = _check_model(root, "base", False)
    parts = [base, *(_check_model(root, role, base.status == "ok") for role in ("staging", "diagnosis"))]
    parts.append(_check_labels(root, parts[2]))
    return FolderCheck(root, parts)
