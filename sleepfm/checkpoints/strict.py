"""Strict loading of a state dict, with a readable table when it does not fit."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sleepfm.errors import CheckpointError

#: Rows shown per kind of mismatch before "… and N more".
MAX_ROWS = 12

# Top-level state-dict names that say which published network a checkpoint holds.
_SIGNATURES = {
    "patch_embedding": "a base (set-transformer) checkpoint",
    "fc": "a staging (lstm-staging) checkpoint",
    "demo_embedding": "a diagnosis-with-demographics (coxph-demo) checkpoint",
    "disease_heads": "a diagnosis (coxph) checkpoint",
}


class CheckpointMismatchError(CheckpointError):
    """A state dict whose keys or shapes differ from the model's.

    ``str()`` is a summary line followed by :attr:`table`; the CLI prints the table on
    stderr and the summary as its one-line error.
    """

    def __init__(self, summary: str, table: str, *, where: str | Path | None = None, fix: str | None = None):
        super().__init__(summary, where=where, fix=fix)
        self.table = table
        self.missing: list[str] = []
        self.unexpected: list[str] = []
        self.mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []

    def __str__(self) -> str:
        return f"{self.message}\n{self.table}"


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in tensor.shape) + ("," if tensor.dim() == 1 else "") + ")"


def mismatch_table(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> tuple[list, list, list, str]:
    """``(missing, unexpected, mismatched, table)`` comparing the model's and the file's state dicts."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    mismatched = [(k, tuple(expected[k].shape), tuple(found[k].shape))
                  for k in expected if k in found and expected[k].shape != found[k].shape]
    rows = [(k, _shape(expected[k]), "missing") for k in missing[:MAX_ROWS]]
    if len(missing) > MAX_ROWS:
        rows.append((f"… and {len(missing) - MAX_ROWS} more missing", "", ""))
    rows += [(k, "unexpected", _shape(found[k])) for k in unexpected[:MAX_ROWS]]
    if len(unexpected) > MAX_ROWS:
        rows.append((f"… and {len(unexpected) - MAX_ROWS} more unexpected", "", ""))
    rows += [(k, _shape(expected[k]), _shape(found[k])) for k, _, _ in mismatched[:MAX_ROWS]]
    if len(mismatched) > MAX_ROWS:
        rows.append((f"… and {len(mismatched) - MAX_ROWS} more with other shapes", "", ""))
    header = ("key", "model expects", "checkpoint has")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return missing, unexpected, mismatched, "\n".join(lines)


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], *, where: str | Path, what: str) -> None:
    """``module.load_state_dict(state, strict=True)``, or :class:`CheckpointMismatchError`."""
    check_strict(module, state, where=where, what=what)
    module.load_state_dict(state, strict=True)


def check_strict(module: nn.Module, state: dict[str, torch.Tensor], *, where: str | Path, what: str) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state`` has exactly ``module``'s keys and shapes
    (``module`` may live on the meta device: only names and shapes are compared)."""
    expected = module.state_dict()
    missing, unexpected, mismatched, table = mismatch_table(expected, state)
    if missing or unexpected or mismatched:
        counts = ", ".join(f"{n} {label}" for n, label in (
            (len(missing), "missing"), (len(unexpected), "unexpected"), (len(mismatched), "of another shape"),
        ) if n)
        error = CheckpointMismatchError(
            f"weights do not fit {what}: {counts} (key: model expects / checkpoint has)", table,
            where=where, fix=_hint(expected, state),
        )
        error.missing, error.unexpected, error.mismatched = missing, unexpected, mismatched
        raise error


def _hint(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    model_tops = {key.split(".", 1)[0] for key in expected}
    file_tops = {key.split(".", 1)[0] for key in found}
    for top, description in _SIGNATURES.items():
        if top in file_tops and top not in model_tops:
            return f"the file looks like {description}; check config.json beside it"
    return "check that config.json describes the network these weights were trained with"
