"""The published checkpoint folders: their ``config.json`` read as it is, and written back.

A published folder holds ``config.json`` and the weights: ``best.pt`` (``{"state_dict": …}``)
for the base model, ``best.pth`` (a bare state dict) for the fine-tuned heads, keys
prefixed ``module.`` (SPEC §5, §7.1, §8.1). The base config is flat (``embed_dim``,
``num_heads``, …, beside training settings); head configs keep the network's arguments
under ``model_params``. Training settings are kept (``extra="allow"``) but not used here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, NonNegativeFloat, PositiveFloat, PositiveInt, ValidationError

from sleepfm.errors import CheckpointError
from sleepfm.validation import format_validation_error

#: Published class name → (registry kind, registry name).
PUBLISHED_CLASSES: dict[str, tuple[str, str]] = {
    "SetTransformer": ("models", "set-transformer"),
    "SleepEventLSTMClassifier": ("heads", "lstm-staging"),
    "DiagnosisFinetuneFullLSTMCOXPHWithDemo": ("heads", "coxph-demo"),
    "DiagnosisFinetuneFullLSTMCOXPH": ("heads", "coxph"),
}
#: Weights file name of each kind, and whether its dict wraps the state dict in "state_dict".
WEIGHTS_FILE = {"models": ("best.pt", True), "heads": ("best.pth", False)}
WEIGHTS_CANDIDATES = ("best.pt", "best.pth", "checkpoint.pt", "checkpoint.pth")
# The published SetTransformer has this positional-encoding length built in.
PUBLISHED_BASE_PE = 128
DEFAULT_CHANNELS = [4, 8, 16, 32, 64, 128]


class PublishedBaseConfig(BaseModel):
    """``model_base/config.json``: the SetTransformer arguments it holds, plus the signal
    settings every downstream step assumes (``sampling_freq`` Hz, ``sampling_duration`` min)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: Literal["SetTransformer"] = "SetTransformer"
    in_channels: int = 1
    patch_size: PositiveInt = 640
    embed_dim: PositiveInt = 128
    num_heads: PositiveInt = 8
    num_layers: PositiveInt = 6
    pooling_head: PositiveInt = 4
    dropout: NonNegativeFloat = 0.1
    sampling_freq: PositiveFloat = 128.0
    sampling_duration: PositiveFloat = 5.0
    modality_types: list[str] = ["BAS", "RESP", "EKG", "EMG"]

    def model_params(self) -> dict[str, Any]:
        pooler = {"name": "attention", "params": {"num_heads": self.pooling_head}}
        return {
            "patch_size": self.patch_size, "embed_dim": self.embed_dim, "num_heads": self.num_heads,
            "num_layers": self.num_layers, "dropout": self.dropout, "max_seq_length": PUBLISHED_BASE_PE,
            "tokenizer": {"name": "cnn-patch", "params": {}},
            "channel_pooler": pooler, "temporal_pooler": pooler,
        }

    def signal(self) -> dict[str, float]:
        return {"sampling_rate": float(self.sampling_freq), "chunk_seconds": float(self.sampling_duration) * 60}


class PublishedHeadConfig(BaseModel):
    """``model_sleep_staging/config.json`` or ``model_diagnosis/config.json``."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: Literal[
        "SleepEventLSTMClassifier", "DiagnosisFinetuneFullLSTMCOXPHWithDemo", "DiagnosisFinetuneFullLSTMCOXPH"
    ]
    model_params: dict[str, Any]


def read_published_config(data: dict[str, Any], where: str) -> tuple[str, str, dict[str, Any], dict[str, float]]:
    """``(kind, name, params, signal)`` from a published ``config.json``'s content."""
    model = data.get("model")
    if model not in PUBLISHED_CLASSES:
        known = ", ".join(PUBLISHED_CLASSES)
        raise CheckpointError(f"config.json names model {model!r}, which sleepfm cannot build", where=where,
                              fix=f"published models sleepfm loads: {known}")
    kind, name = PUBLISHED_CLASSES[model]
    try:
        if kind == "models":
            base = PublishedBaseConfig.model_validate(data)
            return kind, name, base.model_params(), base.signal()
        head = PublishedHeadConfig.model_validate(data)
    except ValidationError as exc:
        raise CheckpointError("invalid config.json: " + "; ".join(format_validation_error(exc)), where=where) from None
    return kind, name, dict(head.model_params), {}


def published_config_for(kind: str, name: str, params: dict[str, Any], signal: dict[str, float]) -> dict[str, Any]:
    """A published-shape ``config.json`` for a sleepfm model, when the published code can build it.

    Raises :class:`CheckpointError` naming the setting the published classes cannot express.
    """
    model = next((cls for cls, target in PUBLISHED_CLASSES.items() if target == (kind, name)), None)
    if model is None:
        raise CheckpointError(f"{kind} {name!r} has no published equivalent",
                              fix=f"published networks: {', '.join(n for _, n in PUBLISHED_CLASSES.values())}")
    if kind == "heads":
        head_params = {k: v for k, v in params.items() if k not in ("dim_feedforward", "num_covariates")}
        _require(params.get("dim_feedforward", 2048) == 2048, "dim_feedforward must be 2048")
        _require(params.get("num_covariates", 2) == 2, "the published demographics layer takes 2 covariates")
        return {"model_params": head_params, "model": model}
    tokenizer, channel, temporal = params["tokenizer"], params["channel_pooler"], params["temporal_pooler"]
    _require(tokenizer["name"] == "cnn-patch" and tokenizer["params"].get("channels", DEFAULT_CHANNELS)
             == DEFAULT_CHANNELS and tokenizer["params"].get("kernel_size", 5) == 5,
             "the tokenizer must be cnn-patch with the published widths and kernel")
    _require(channel["name"] == temporal["name"] == "attention", "both poolers must be attention")
    heads = {channel["params"].get("num_heads", 8), temporal["params"].get("num_heads", 8)}
    _require(len(heads) == 1, "both poolers must have the same number of heads (published pooling_head)")
    _require(params.get("max_seq_length", PUBLISHED_BASE_PE) == PUBLISHED_BASE_PE,
             f"max_seq_length must be {PUBLISHED_BASE_PE}")
    _require(all(p.get("dim_feedforward", 2048) == 2048 for p in (params, channel["params"], temporal["params"])),
             "dim_feedforward must be 2048")
    return {
        "model": model, "in_channels": 1, "embed_dim": params["embed_dim"], "num_heads": params["num_heads"],
        "num_layers": params["num_layers"], "pooling_head": heads.pop(), "dropout": params["dropout"],
        "sampling_duration": _plain(signal.get("chunk_seconds", 300.0) / 60),
        "sampling_freq": _plain(signal.get("sampling_rate", 128.0)),
        "patch_size": params["patch_size"], "modality_types": ["BAS", "RESP", "EKG", "EMG"],
    }


def _plain(value: float) -> int | float:
    # The published scripts compute sample counts from these; keep whole numbers integers.
    return int(value) if float(value).is_integer() else value


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise CheckpointError(f"the published code cannot build this network: {what}",
                              fix="keep it in sleepfm's format")
