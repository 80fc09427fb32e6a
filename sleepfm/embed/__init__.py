"""Signal → embedding stage: the SetTransformer foundation model, its parts, and ``sleepfm embed``.

Components (registered by :mod:`sleepfm.plugins.models`): tokenizer ``cnn-patch``
(:mod:`.tokenizer`), pooler ``attention`` (:mod:`.pooling`), model ``set-transformer``
(:mod:`.set_transformer`). :mod:`.fast` is the eval-only fast path used by the runner
(:mod:`.runner`), :mod:`.api` the Python entry point.

``sleepfm.embed`` is this package *and* the function of the public API: calling the package,
``sleepfm.embed(inputs, checkpoint, out, ...)``, calls :func:`sleepfm.embed.api.embed`. (A
plain function of that name could not coexist with the package: importing any of its modules
rebinds the attribute.)
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from sleepfm.embed.api import embed

        return embed(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage

#: The package itself, for ``sleepfm``'s lazy attribute table.
this = sys.modules[__name__]
