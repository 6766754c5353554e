"""Fetch one cell of the public Hu et al. chromosome-image set, pinned by SHA-256.

The cell zip is taken, in this order, from the shared dataset folder (``$NAPARI_KARYOTYPE_DATA`` or
``../shared/data/chromosome-images``), from the user cache (``$NAPARI_KARYOTYPE_CACHE``, else
``$XDG_CACHE_HOME/napari-karyotype``, else ``~/.cache/napari-karyotype``) or, on first use, from
the authors' GitHub repository. A download is verified before it is kept: a partial or mismatching
file never stays in the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from napari_karyotype.errors import KaryotypeError

BASE_URL = "https://github.com/Xi-Hu/Chromosome-Images/raw/master/新建文件夹/"
"""Where the authors publish one zip per cell (folder name as in the repository)."""

SAMPLE_CELL = "173449.035"
"""The sample cell: 46,XY with one image per chromosome, no duplicates."""

PINNED_SHA256 = {
    SAMPLE_CELL: "fead988028b799cd54bb6e2a6fc272df0f4bd3cdae3052c5b8bc7a7c5032840e",
}
"""SHA-256 of the published zips this package may download."""

CACHE_ENV = "NAPARI_KARYOTYPE_CACHE"
_CHUNK = 1 << 16


def cache_dir() -> Path:
    """The download cache: ``$NAPARI_KARYOTYPE_CACHE``, ``$XDG_CACHE_HOME/napari-karyotype`` or
    ``~/.cache/napari-karyotype`` (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "napari-karyotype"


def cell_url(cell: str) -> str:
    """The percent-encoded download URL of one cell zip."""
    return urllib.parse.quote(f"{BASE_URL}{cell}.zip", safe=":/")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pin(cell: str, sha256: str | None) -> str:
    pin = sha256 or PINNED_SHA256.get(cell)
    if not pin:
        raise KaryotypeError(f"no pinned SHA-256 for cell {cell!r}: pass sha256=… to fetch it")
    return pin.lower()


def _shared_copy(cell: str, pin: str) -> Path | None:
    from napari_karyotype.datasets.chromosomes import shared_data_dir

    folder = shared_data_dir()
    if folder is None:
        return None
    path = folder / f"{cell}.zip"
    if path.is_file() and sha256_of(path) == pin:
        return path
    return None


def _download(url: str, target: Path, pin: str, timeout: float) -> None:
    """Download ``url`` to ``target`` via a temporary file; keep it only if its hash is ``pin``."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KaryotypeError(
            f"cannot create the cache folder {target.parent}: {err.strerror}"
        ) from None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != pin:
            raise KaryotypeError(
                f"download of {target.name} does not match its pinned SHA-256; not kept"
            )
        os.replace(tmp, target)
    except urllib.error.HTTPError as err:
        raise KaryotypeError(f"cannot download {target.name}: HTTP {err.code} from {url}") from None
    except urllib.error.URLError as err:
        raise KaryotypeError(
            f"cannot download {target.name}: offline or unreachable ({err.reason}); "
            f"set NAPARI_KARYOTYPE_DATA to a local copy of the Hu et al. set"
        ) from None
    except (TimeoutError, OSError) as err:
        raise KaryotypeError(f"cannot download {target.name}: {err}") from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch_cell(
    cell: str = SAMPLE_CELL,
    *,
    sha256: str | None = None,
    timeout: float = 30.0,
    use_shared: bool = True,
) -> Path:
    """Path to the verified zip of one Hu et al. cell, downloading it once if needed.

    ``sha256`` pins a cell that is not in :data:`PINNED_SHA256`. Raises a one-line
    :class:`KaryotypeError` when offline, on an HTTP error or on a hash mismatch.
    """
    pin = _pin(cell, sha256)
    if use_shared:
        shared = _shared_copy(cell, pin)
        if shared is not None:
            return shared
    target = cache_dir() / f"{cell}.zip"
    if target.is_file():
        if sha256_of(target) == pin:
            return target
        target.unlink()  # corrupted or tampered: fetch again
    _download(cell_url(cell), target, pin, timeout)
    return target


def load_cell(cell: str = SAMPLE_CELL, **kwargs) -> list:
    """The :class:`~napari_karyotype.datasets.chromosomes.Chromosome` images of one fetched cell."""
    from napari_karyotype.datasets.chromosomes import load_chromosomes

    return load_chromosomes([fetch_cell(cell, **kwargs)])
