"""py3langid's model, decompressed once into the toolkit cache and memory-mapped from there.

py3langid ships its model as an LZMA-compressed npz and decompresses all 68 MB on every load:
0.4-0.7 s of every run that detects a language (translate's default ``--src auto``), more on a
loaded machine. Here it is decompressed once into ``$TOOLKIT_CACHE/langid/<model>-<size>-<mtime>/``
(a new folder when py3langid ships another file), one ``.npy`` per array, and memory-mapped:
classifying a text reads only the table rows of the features it contains. The arrays are the ones
py3langid's own ``load_model`` returns; whatever goes wrong (another model layout, a cache that
cannot be written) falls back to py3langid's loader.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def cache_folder(source: Path) -> Path:
    """The folder of decompressed arrays for py3langid's ``source`` model, made on first use."""
    import io
    import lzma
    import os
    import shutil

    import numpy as np

    from toolkit.config import toolkit_cache

    if not source.name.endswith(".npz.xz"):
        raise ValueError(f"{source.name}: not the npz+LZMA layout this cache reads")
    stat = source.stat()
    folder = toolkit_cache() / "langid" / f"{source.name.removesuffix('.npz.xz')}-{stat.st_size}-{stat.st_mtime_ns}"
    if all((folder / f"{name}.npy").is_file() for name in ARRAYS):
        return folder
    partial = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with lzma.open(source) as compressed, np.load(io.BytesIO(compressed.read()), allow_pickle=False) as data:
            for name in ARRAYS:
                np.save(partial / f"{name}.npy", data[name], allow_pickle=False)
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder (files deleted by hand)
        try:
            os.replace(partial, folder)  # whole or absent, even with runs side by side
        except OSError:
            if not all((folder / f"{name}.npy").is_file() for name in ARRAYS):
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _indexable(values: Any) -> memoryview:
    """An integer array as py3langid's DFA walk indexes it (like its stdlib ``array``), without a copy."""
    if not values.dtype.isnative or not values.flags.c_contiguous:
        raise ValueError("unexpected array layout")
    return memoryview(values).cast("B").cast(values.dtype.char)


def load_identifier() -> Any:
    """py3langid's ``LanguageIdentifier`` (normalised probabilities) on its shipped model."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    try:
        folder = cache_folder(MODEL_DIR / MODEL_FILE)
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode=None if name == "classes" else "r",
                                allow_pickle=False) for name in ARRAYS}
        return LanguageIdentifier(np.asarray(arrays["ptc"]), np.asarray(arrays["pc"]), arrays["classes"].tolist(),
                                  _indexable(arrays["nextmove"]), arrays["out_feat"].tolist(), norm_probs=True,
                                  tk_row=_indexable(arrays["nextmove_row"]))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        log.debug("py3langid's model from its own loader (%s)", exc)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
