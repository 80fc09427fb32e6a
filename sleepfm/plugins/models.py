"""Built-in plugin: the SleepFM networks (tokenizer, poolers, foundation model, heads) and the
commands that use them (``embed``, ``convert-checkpoint``, ``checkpoints check``)."""

from __future__ import annotations

import typer

from sleepfm import hookimpl
from sleepfm.hookspecs import Register


@hookimpl
def sleepfm_register_tokenizers(register: Register) -> None:
    register("cnn-patch", "sleepfm.embedding.tokenizer:CnnPatchTokenizer",
             description="Published SleepFM tokenizer: a 6-block 1-D CNN per 5-s patch of each channel.")


@hookimpl
def sleepfm_register_poolers(register: Register) -> None:
    register("attention", "sleepfm.embedding.pooling:AttentionPooler",
             description="One transformer layer over the set, then a masked mean (lone-slot shortcut per row).")


@hookimpl
def sleepfm_register_models(register: Register) -> None:
    register("set-transformer", "sleepfm.embedding.set_transformer:SetTransformer",
             description="SleepFM foundation model: tokenizer, channel pooler, transformer encoder, temporal pooler.")


@hookimpl
def sleepfm_register_heads(register: Register) -> None:
    register("lstm-staging", "sleepfm.head.staging:LstmStagingHead",
             description="Published sleep-staging head: modality pooling, transformer, BiLSTM, 5 stage logits.")
    register("coxph-demo", "sleepfm.head.coxph:CoxPHDemoHead",
             description="Published disease-risk head: BiLSTM over the night plus age and sex, one log-hazard each.")
    register("coxph", "sleepfm.head.coxph:CoxPHHead",
             description="Disease-risk head without demographics: BiLSTM over the night, one log-hazard each.")


@hookimpl
def sleepfm_register_commands(app: typer.Typer) -> None:
    from sleepfm.cli.checkpoint_cmd import checkpoints_app, convert_checkpoint_command
    from sleepfm.cli.embed_cmd import embed_command

    app.command("embed")(embed_command)
    app.command("convert-checkpoint")(convert_checkpoint_command)
    app.add_typer(checkpoints_app, name="checkpoints")
