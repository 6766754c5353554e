"""Which files a batch analyses: the standard library only, so the command line can count the
images (and start its worker processes) before it imports the pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""Files of these types are taken from a folder given to :func:`collect_images`."""

OUTPUT_SUFFIXES = ("_labels.tif", "_karyogram.png")
"""Names ``analyze.write_outputs`` gives; such files in an input folder are not analysed."""


def collect_images(inputs: Iterable[str | Path], out_dir: str | Path | None = None) -> list[Path]:
    """The image files named, and those of named folders (sorted; not recursive).

    Files inside ``out_dir`` and files named like outputs (``*_labels.tif``, ``*_karyogram.png``)
    are left out of folders. A name that does not exist is kept (and fails when read).
    """
    out = Path(out_dir).resolve() if out_dir is not None else None
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if out is not None and path.resolve() == out:
                continue
            for f in sorted(path.iterdir()):
                if (
                    f.is_file()
                    and f.suffix.lower() in IMAGE_SUFFIXES
                    and not f.name.lower().endswith(OUTPUT_SUFFIXES)
                ):
                    found.append(f)
        else:
            found.append(path)
    return found
