"""Fetching a pinned cell: shared copy first, verified downloads, one-line offline errors.

The network is never touched: every test that could reach it replaces ``urlopen``.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request

import pytest

from napari_karyotype.errors import KaryotypeError
from napari_karyotype.samples import fetch

PAYLOAD = b"PK\x03\x04 pretend zip " * 5000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, no shared dataset, and a network that must not be used."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(fetch.CACHE_ENV, str(folder))
    monkeypatch.setattr("napari_karyotype.datasets.chromosomes.shared_data_dir", lambda: None)

    def no_network(*args, **kwargs):
        raise AssertionError("the test reached for the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return folder


def _serve(monkeypatch, data: bytes, calls: list):
    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        return _Response(data)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def test_url_is_percent_encoded():
    url = fetch.cell_url("173449.035")
    assert url == (
        "https://github.com/Xi-Hu/Chromosome-Images/raw/master/"
        "%E6%96%B0%E5%BB%BA%E6%96%87%E4%BB%B6%E5%A4%B9/173449.035.zip"
    )
    assert url.isascii()


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(fetch.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fetch.cache_dir() == tmp_path / "xdg" / "napari-karyotype"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fetch.cache_dir() == tmp_path / "home" / ".cache" / "napari-karyotype"
    monkeypatch.setenv(fetch.CACHE_ENV, str(tmp_path / "mine"))
    assert fetch.cache_dir() == tmp_path / "mine"


def test_download_is_verified_cached_and_reused(cache, monkeypatch):
    calls: list = []
    _serve(monkeypatch, PAYLOAD, calls)
    path = fetch.fetch_cell("demo.001", sha256=PAYLOAD_SHA, timeout=7)
    assert path == cache / "demo.001.zip" and path.read_bytes() == PAYLOAD
    assert calls == [(fetch.cell_url("demo.001"), 7)]
    assert fetch.fetch_cell("demo.001", sha256=PAYLOAD_SHA) == path
    assert len(calls) == 1  # second call served from the cache
    assert sorted(p.name for p in cache.iterdir()) == ["demo.001.zip"]


def test_tampered_download_is_rejected_and_not_kept(cache, monkeypatch):
    _serve(monkeypatch, PAYLOAD[:-1] + b"!", [])
    with pytest.raises(KaryotypeError, match="does not match its pinned SHA-256") as err:
        fetch.fetch_cell("demo.001", sha256=PAYLOAD_SHA)
    assert "\n" not in str(err.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_tampered_cache_is_replaced(cache, monkeypatch):
    cache.mkdir()
    (cache / "demo.001.zip").write_bytes(b"tampered")
    calls: list = []
    _serve(monkeypatch, PAYLOAD, calls)
    path = fetch.fetch_cell("demo.001", sha256=PAYLOAD_SHA)
    assert path.read_bytes() == PAYLOAD and len(calls) == 1


def test_offline_is_a_one_line_error(cache, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(KaryotypeError) as err:
        fetch.fetch_cell()
    message = str(err.value)
    assert "\n" not in message and "offline" in message and fetch.SAMPLE_CELL in message
    assert err.value.__suppress_context__  # no chained traceback
    assert not cache.exists() or list(cache.iterdir()) == []


def test_timeout_mid_download_keeps_no_partial_file(cache, monkeypatch):
    class Stalling(_Response):
        def read(self, n=-1):
            if self.tell() > 0:
                raise TimeoutError("timed out")
            return super().read(n)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Stalling(PAYLOAD))
    with pytest.raises(KaryotypeError, match="timed out"):
        fetch.fetch_cell("demo.001", sha256=PAYLOAD_SHA)
    assert list(cache.iterdir()) == []


def test_http_error_names_the_status(cache, monkeypatch):
    def not_found(url, timeout=None):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(KaryotypeError, match="HTTP 404"):
        fetch.fetch_cell()


def test_unpinned_cell_is_refused(cache):
    with pytest.raises(KaryotypeError, match="no pinned SHA-256"):
        fetch.fetch_cell("161923.054")


@pytest.mark.data
def test_shared_copy_is_used_without_network(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(fetch.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    path = fetch.fetch_cell()
    assert path.parent == data_dir and path.name == f"{fetch.SAMPLE_CELL}.zip"
    assert fetch.sha256_of(path) == fetch.PINNED_SHA256[fetch.SAMPLE_CELL]
    assert not (tmp_path / "cache").exists()
    chromosomes = fetch.load_cell()
    assert len(chromosomes) == 46
    assert sorted(c.cls for c in chromosomes if c.cls in "XY") == ["X", "Y"]


@pytest.mark.data
def test_pinned_download_of_the_real_bytes(data_dir, cache, monkeypatch):
    real = (data_dir / f"{fetch.SAMPLE_CELL}.zip").read_bytes()
    calls: list = []
    _serve(monkeypatch, real, calls)
    path = fetch.fetch_cell()
    assert path.parent == cache and path.read_bytes() == real and len(calls) == 1
