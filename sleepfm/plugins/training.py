"""Built-in plugin: training losses and the ``pretrain`` / ``finetune`` commands."""

from __future__ import annotations

import typer

from sleepfm import hookimpl
from sleepfm.hookspecs import Register


@hookimpl
def sleepfm_register_losses(register: Register) -> None:
    register("contrastive", "sleepfm.train.losses.contrastive:ContrastiveLoss",
             description="SleepFM pretraining: symmetric multimodal contrastive loss, leave-one-out or pairwise.")
    register("cross-entropy", "sleepfm.train.losses.cross_entropy:CrossEntropyLoss",
             description="Staging: class-weighted token cross-entropy over scored 5-s tokens.")
    register("coxph", "sleepfm.train.losses.coxph:CoxPHLoss",
             description="Diagnosis: Cox partial likelihood per outcome (Efron, Breslow or the published sort).")


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.train.commands import finetune_app, pretrain_command

    app.command("pretrain")(pretrain_command)
    app.add_typer(finetune_app, name="finetune")
