"""Everything a plugin author needs, from one module.

A plugin package imports from here only, never from sleepfm's internal modules, so that
sleepfm can reorganise its internals without breaking labs' packages::

    from sleepfm.plugin import Cohort, ConfigModel, Study, hookimpl, require_folder, walk

Names resolve on first use (PEP 562): importing this module does not import torch, so a
plugin's registration module stays as light as ``sleepfm plugins`` needs it to be. The
torch interfaces (``Tokenizer``, ``Pooler``, ``Model``, ``Head``, ``Loss``) import torch
when first touched.

What is here, by kind (docs/plugins.md has the map of kinds, interfaces and hooks):

* registration: :data:`hookimpl`, :class:`Register`;
* interfaces: :class:`SignalReader`, :class:`Recording`, :class:`ChannelInfo`,
  :class:`ChannelMapper`, :class:`ChannelAssignment`, :class:`LabelReader`,
  :class:`HypnogramWriter`, :class:`HypnogramExport`, :class:`Cohort`, :class:`Study`,
  :class:`PairingRule` (and :class:`NameTemplates`, a rule from file-name templates),
  :class:`TorchComponent`, :class:`Tokenizer`, :class:`Pooler`, :class:`Model`, :class:`Head`,
  :class:`Loss`, :class:`QualityCheck` (with the :class:`ChannelSignal` a check is handed);
* data types: :class:`Modality`, :data:`MODALITIES`, :class:`Hypnogram`, :class:`Stage`,
  :class:`StageMapping`, :data:`EVENT_COLUMNS`, :func:`empty_events`;
* configuration: :class:`ConfigModel` (the base of every config), :class:`ComponentSpec`;
* errors: :class:`SleepfmError`, :class:`InputError`, :class:`UsageError`,
  :class:`ConfigError`, :class:`CheckpointError`;
* helpers for cohort adapters: folder walking (:func:`require_folder`, :func:`walk`,
  :func:`check_unique`, :func:`is_signal_file`, :func:`find_recordings`), pairing hypnograms
  with recordings by the registered rules (:func:`pair_hypnograms`, :func:`pairing_rules`),
  table reading (:func:`read_table`, :func:`numbers`, :func:`map_sex`,
  :func:`demographics_frame`, :func:`outcome_frame`, :data:`STUDY_ID`; :func:`read_age_sex` and
  :func:`read_outcomes` for tables in sleepfm's and the published formats, docs/tables.md),
  :func:`read_hypnogram`, and :class:`TableMapper` (an exact-label channel table to subclass);
* helpers for models and heads: :func:`sinusoid_table` (the published positional table).
"""

from __future__ import annotations

from sleepfm.hookspecs import Register, hookimpl
from sleepfm.lazy import lazy_attributes

#: name → "module:attribute", imported on first access.
_EXPORTS: dict[str, str] = {
    # interfaces
    "SignalReader": "sleepfm.interfaces.signal_reader:SignalReader",
    "Recording": "sleepfm.interfaces.signal_reader:Recording",
    "ChannelInfo": "sleepfm.interfaces.signal_reader:ChannelInfo",
    "ChannelMapper": "sleepfm.interfaces.channel_mapper:ChannelMapper",
    "ChannelAssignment": "sleepfm.interfaces.channel_mapper:ChannelAssignment",
    "LabelReader": "sleepfm.interfaces.label_reader:LabelReader",
    "HypnogramWriter": "sleepfm.interfaces.hypnogram_writer:HypnogramWriter",
    "HypnogramExport": "sleepfm.interfaces.hypnogram_writer:HypnogramExport",
    "Cohort": "sleepfm.interfaces.cohort:Cohort",
    "PairingRule": "sleepfm.interfaces.pairing_rule:PairingRule",
    "NameTemplates": "sleepfm.interfaces.pairing_rule:NameTemplates",
    "Study": "sleepfm.interfaces.cohort:Study",
    "TorchComponent": "sleepfm.interfaces.component:TorchComponent",
    "Tokenizer": "sleepfm.interfaces.tokenizer:Tokenizer",
    "Pooler": "sleepfm.interfaces.pooler:Pooler",
    "Model": "sleepfm.interfaces.model:Model",
    "Head": "sleepfm.interfaces.head:Head",
    "Loss": "sleepfm.interfaces.loss:Loss",
    "QualityCheck": "sleepfm.interfaces.quality_check:QualityCheck",
    "ChannelSignal": "sleepfm.interfaces.quality_check:ChannelSignal",
    # data types
    "Modality": "sleepfm.interfaces.modality:Modality",
    "MODALITIES": "sleepfm.interfaces.modality:MODALITIES",
    "Hypnogram": "sleepfm.labels.hypnogram:Hypnogram",
    "Stage": "sleepfm.labels.hypnogram:Stage",
    "StageMapping": "sleepfm.labels.hypnogram:StageMapping",
    "EVENT_COLUMNS": "sleepfm.labels.hypnogram:EVENT_COLUMNS",
    "empty_events": "sleepfm.labels.hypnogram:empty_events",
    # configuration
    "ConfigModel": "sleepfm.config.base:ConfigModel",
    "ComponentSpec": "sleepfm.config.base:ComponentSpec",
    # errors
    "SleepfmError": "sleepfm.errors:SleepfmError",
    "InputError": "sleepfm.errors:InputError",
    "UsageError": "sleepfm.errors:UsageError",
    "ConfigError": "sleepfm.errors:ConfigError",
    "CheckpointError": "sleepfm.errors:CheckpointError",
    # cohort adapter helpers
    "require_folder": "sleepfm.cohorts.files:require_folder",
    "walk": "sleepfm.cohorts.files:walk",
    "check_unique": "sleepfm.cohorts.files:check_unique",
    "is_signal_file": "sleepfm.cohorts.files:is_signal_file",
    "find_recordings": "sleepfm.read.discover:find_recordings",
    "pair_hypnograms": "sleepfm.cohorts.pairing:pair_hypnograms",
    "pairing_rules": "sleepfm.cohorts.pairing:pairing_rules",
    "STUDY_ID": "sleepfm.labels.tables:STUDY_ID",
    "read_table": "sleepfm.labels.tables:read_table",
    "numbers": "sleepfm.labels.tables:numbers",
    "map_sex": "sleepfm.labels.tables:map_sex",
    "demographics_frame": "sleepfm.labels.tables:demographics_frame",
    "outcome_frame": "sleepfm.labels.tables:outcome_frame",
    "read_age_sex": "sleepfm.labels.tables:read_age_sex",
    "read_outcomes": "sleepfm.labels.tables:read_outcomes",
    "read_hypnogram": "sleepfm.labels:read_hypnogram",
    "TableMapper": "sleepfm.map.table:TableMapper",
    # model and head helpers
    "sinusoid_table": "sleepfm.embedding.positional:sinusoid_table",
}


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS)


__all__ = ["Register", "hookimpl", *_EXPORTS]
