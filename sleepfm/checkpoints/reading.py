"""Reading weights files as untrusted input: tensors only, never code.

Every ``.pt``/``.pth`` goes through ``torch.load(weights_only=True)``: its restricted
unpickler refuses any pickle that would import or call something beyond plain containers
and tensors, *before* calling it, so a booby-trapped checkpoint is refused without its
payload running. Safetensors files cannot hold code at all.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sleepfm.errors import CheckpointError

StateDict = dict[str, torch.Tensor]

_GLOBAL = re.compile(r"unsupported GLOBAL ([^\s]+)|Unsupported global: GLOBAL ([^\s]+)")


def read_torch_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, with failures as one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("weights file not found", where=path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        if found:
            culprit = found.group(1) or found.group(2)
            raise CheckpointError(
                f"refused: its pickle asks to call {culprit}, which could run code; sleepfm loads tensors only",
                where=path,
                fix="if you trust its author, have the state dict re-saved as plain tensors or as safetensors",
            ) from None
        raise CheckpointError(f"not a readable PyTorch checkpoint ({_first_line(exc)})", where=path) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"not a readable PyTorch checkpoint ({_first_line(exc)})", where=path) from None


def read_safetensors(path: Path) -> StateDict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError("weights file not found", where=path)
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"not a readable safetensors file ({_first_line(exc)})", where=path) from None


def read_weights(path: Path) -> StateDict:
    """A state dict from a ``.safetensors`` file or a torch file (bare, or under
    ``state_dict`` / ``model_state_dict`` as the published training scripts save it),
    with the ``module.`` prefix of ``nn.DataParallel`` removed."""
    path = Path(path)
    loaded: Any = read_safetensors(path) if path.suffix == ".safetensors" else read_torch_file(path)
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not loaded:
        raise CheckpointError("holds no state dict", where=path, fix="expected a dict of parameter name → tensor")
    bad = [key for key, value in loaded.items() if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
    if bad:
        raise CheckpointError(f"entry {bad[0]!r} of its state dict is not a tensor", where=path)
    return strip_prefix(dict(loaded))


def strip_prefix(state: StateDict, prefix: str = "module.") -> StateDict:
    return {key.removeprefix(prefix): value for key, value in state.items()}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
