"""Import Keras (and TensorFlow) lazily and safely, from any thread, GUI or not.

napari's canvas on Mesa (llvmpipe, radeonsi…) loads a shared libLLVM; TensorFlow bundles its own
LLVM. Imported plainly after such a canvas exists, TensorFlow binds to Mesa's copy and crashes
(segmentation fault). ``RTLD_DEEPBIND`` makes TensorFlow's libraries prefer their own symbols; it is
used only when a libLLVM is already mapped into the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings

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


@contextlib.contextmanager
def quiet_native_logs():
    """Drop what TensorFlow, absl and CUDA write to stderr; Python's own lines still show.

    TensorFlow's C++ logs ("I0000 … oneDNN", "E0000 … failed call to cuInit") are written to
    file descriptor 2 before any log level applies, so descriptor 2 goes to /dev/null while
    ``sys.stderr`` (the tool's messages, tracebacks, faulthandler) writes to the real stderr.
    TensorFlow's and Keras' Python loggers and warnings are muted too.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (embedded interpreter)
        yield
        return
    old_stderr = sys.stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    levels = {name: logging.getLogger(name).level for name in ("tensorflow", "absl", "keras")}
    try:
        try:  # Python's stderr writes to descriptor 2 (not when a test captures it)
            on_fd2 = sys.stderr.fileno() == 2
        except (AttributeError, OSError, ValueError):
            on_fd2 = False
        os.dup2(devnull, 2)
        if on_fd2:
            sys.stderr = os.fdopen(
                os.dup(real), "w", buffering=1, encoding="utf-8", errors="replace"
            )
        for name in levels:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            for module in ("tensorflow", "keras", "absl", "google"):
                warnings.filterwarnings("ignore", module=module)
            yield
    finally:
        if sys.stderr is not old_stderr:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
                sys.stderr.close()
            sys.stderr = old_stderr
        os.dup2(real, 2)
        os.close(real)
        os.close(devnull)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
