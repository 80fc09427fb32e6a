"""Signal → embedding stage: the SetTransformer foundation model, its parts, and ``sleepfm embed``.

Components (registered by :mod:`sleepfm.plugins.models`): tokenizer ``cnn-patch``
(:mod:`.tokenizer`), pooler ``attention`` (:mod:`.pooling`), model ``set-transformer``
(:mod:`.set_transformer`). :mod:`.fast` is the eval-only fast path used by the runner
(:mod:`.runner`), :mod:`.api` the Python entry point ``sleepfm.embed(...)``.
"""
