"""sleepfm: the SleepFM sleep foundation model as a toolkit.

The Python API mirrors the command line; heavy modules (torch, MNE) are imported only
when the function that needs them is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from sleepfm.hookspecs import hookimpl
from sleepfm.lazy import lazy_attributes

# name -> "module:attribute", resolved on first access (PEP 562) so `import sleepfm` stays light.
_LAZY: dict[str, str] = {
    "read_hypnogram": "sleepfm.labels:read_hypnogram",
    "load_model": "sleepfm.checkpoints.folder:load_model",
    "embed": "sleepfm.embedding.api:embed",
    "read_recording": "sleepfm.read:read_recording",
    "preprocess": "sleepfm.preprocessing.api:preprocess",
    "evaluate_staging": "sleepfm.evaluate.api:evaluate_staging",
    "evaluate_diagnosis": "sleepfm.evaluate.api:evaluate_diagnosis",
    "synthesize_cohort": "sleepfm.demo.synth:synthesize_cohort",
    "run_demo": "sleepfm.demo.pipeline:run_demo",
    "run_cohort": "sleepfm.clinical.api:run_cohort",
    "stage": "sleepfm.clinical.api:stage",
    "risk": "sleepfm.clinical.api:risk",
}


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)


__all__ = ["__version__", "hookimpl", *_LAZY]
