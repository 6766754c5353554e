"""Import Keras (and TensorFlow) lazily and safely, from any thread, GUI or not.

napari's canvas on Mesa (llvmpipe, radeonsi…) loads a shared libLLVM; TensorFlow bundles its own
LLVM. Imported plainly after such a canvas exists, TensorFlow binds to Mesa's copy and crashes
(segmentation fault). ``RTLD_DEEPBIND`` makes TensorFlow's libraries prefer their own symbols; it is
used only when a libLLVM is already mapped into the process.
"""

from __future__ import annotations

import os
import sys
import threading

_LOCK = threading.Lock()


def llvm_loaded() -> bool:
    """Whether a shared libLLVM is mapped into this process (Mesa's OpenGL drivers load one)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any("libLLVM" in line for line in maps)
    except OSError:
        return False


def import_tensorflow() -> None:
    """Import TensorFlow (when it is the Keras backend) without clashing with Mesa's LLVM."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    with _LOCK:
        if "tensorflow" in sys.modules:
            return
        deepbind = getattr(os, "RTLD_DEEPBIND", 0)
        if not deepbind or not llvm_loaded():
            import tensorflow  # noqa: F401

            return
        old = sys.getdlopenflags()
        sys.setdlopenflags(old | deepbind)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.setdlopenflags(old)


def import_keras():
    """The ``keras`` module, its backend imported safely first."""
    import_tensorflow()
    import keras

    return keras
