"""Where training metrics go: ``metrics.jsonl`` in the run folder always; TensorBoard when it
is installed (``trainer.tensorboard: auto``); Weights & Biases when a project is named.
Only rank 0 writes.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sleepfm.config.training import TrainerConfig
from sleepfm.errors import UsageError

log = logging.getLogger(__name__)
METRICS_NAME = "metrics.jsonl"


class MetricsLog:
    """Appends one JSON object per record; on resume, records after the resumed step are dropped."""

    def __init__(self, run: Path, config: TrainerConfig, *, resume_step: int | None, enabled: bool,
                 run_config: dict[str, Any] | None = None) -> None:
        self.path = Path(run) / METRICS_NAME
        self.enabled = enabled
        self._tensorboard: Any = None
        self._wandb: Any = None
        if not enabled:
            return
        if resume_step is None:
            self.path.unlink(missing_ok=True)
        else:
            self._truncate_after(resume_step)
        if config.tensorboard is not False:
            if importlib.util.find_spec("tensorboard") is not None:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(log_dir=str(Path(run) / "tensorboard"), purge_step=resume_step)
            elif config.tensorboard is True:
                raise UsageError("trainer.tensorboard is true but TensorBoard is not installed",
                                 fix="pip install tensorboard, or set trainer.tensorboard=auto")
        if config.wandb_project:
            if importlib.util.find_spec("wandb") is None:
                raise UsageError("trainer.wandb_project is set but wandb is not installed",
                                 fix="pip install wandb, or remove trainer.wandb_project")
            import wandb

            self._wandb = wandb.init(project=config.wandb_project, dir=str(run), config=run_config,
                                     resume="allow", name=Path(run).name)

    def _truncate_after(self, step: int) -> None:
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
        self.path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        step = int(record.get("step", 0))
        scalars = {f"{record.get('split', 'train')}/{k}": v for k, v in record.items()
                   if isinstance(v, int | float) and k not in ("step", "epoch")}
        if self._tensorboard is not None:
            for key, value in scalars.items():
                self._tensorboard.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()


def training_progress(console: Console | None) -> Progress:
    """The progress bar of a run (steps, last loss, elapsed and remaining time); silent without a console."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("step {task.completed}/{task.total}"),
        TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=console is None, transient=False,
    )
