"""lrbook.experiments.cache: layout, atomic writes, verification, corruption handling."""

import json
import os
import warnings

import numpy as np
import pytest
from helpers.experiments import assert_same_arrays, tiny

from lrbook import __version__
from lrbook.experiments import CacheWarning, ResultCache, run_ensemble
from lrbook.experiments import cache as cache_mod
from lrbook.experiments.cache import payload_sha256


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A 2-network ensemble trained once, and the folder holding its cache."""
    folder = tmp_path_factory.mktemp("ref")
    cfg = tiny(g=(0.0, 0.9), seeds=(3,))
    return cfg, run_ensemble(cfg, cache=folder, threads=1), folder


@pytest.fixture
def cached(reference, tmp_path):
    """A fresh copy of the reference cache in ``tmp_path``."""
    cfg, res, folder = reference
    (tmp_path / "networks").mkdir()
    for k in res.keys:
        src = folder / "networks" / f"{k}.npz"
        (tmp_path / "networks" / src.name).write_bytes(src.read_bytes())
    return cfg, res, ResultCache(tmp_path)


def test_layout_metadata_and_no_pickle(cached):
    cfg, res, cache = cached
    net = cfg.networks()[1]
    path = cache.path(net.key)
    assert path == cache.root / "networks" / f"{net.key}.npz" and path.is_file()
    with np.load(path, allow_pickle=False) as z:             # plain arrays, no pickle
        arrays = {n: z[n] for n in z.files if n != "meta"}
        meta = json.loads(z["meta"].tobytes().decode())
    assert set(arrays) == {"loss", "grad_norm", "W0", "W", "W_in0", "W_in", "W_out0", "W_out"}
    assert all(a.dtype == np.float32 for a in arrays.values())
    assert arrays["W"].shape == (16, 16) and arrays["W_in"].shape == (2, 16)
    assert arrays["W_out"].shape == (16, 2) and arrays["loss"].shape == (20,)
    np.testing.assert_array_equal(arrays["W"], res.W[1])
    assert meta["schema"] == 1 and meta["lrbook_version"] == __version__ and meta["key"] == net.key
    assert meta["config"] == json.loads(json.dumps(net.to_dict()))
    assert meta["sha256"] == payload_sha256(arrays) and meta["created"]
    assert meta["summary"]["diverged_epoch"] == -1 and meta["lr"] == pytest.approx(0.05 / 16)
    assert cache.meta(net.key) == meta


def test_readme_and_no_temp_files_after_writes(reference):
    _, res, folder = reference
    cache = ResultCache(folder)
    assert "Layout" in (folder / "README.txt").read_text()
    assert cache.temp_files() == [] and sorted(cache.keys()) == sorted(res.keys)


def _flip(path, array):
    raw = bytearray(path.read_bytes())
    at = raw.find(np.ascontiguousarray(array).tobytes()[:64])
    assert at > 0
    for i in range(at + 100, at + 108):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def _rewrite(path, change_array=False, meta_change=None):
    """Rewrite a valid zip: a changed array under the old checksum, or other metadata."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {n: z[n] for n in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    if change_array:
        arrays["W"] = arrays["W"].copy()
        arrays["W"][0, 0] += 1.0
    if meta_change:
        meta.update(meta_change)
        rest = {n: a for n, a in arrays.items() if n != "meta"}
        meta["sha256"] = payload_sha256(rest)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage", "checksum",
                                    "other_version", "other_config"])
def test_corrupt_file_is_detected_reported_moved_and_recomputed(cached, damage):
    cfg, res, cache = cached
    net = cfg.networks()[0]
    path = cache.path(net.key)
    size = path.stat().st_size
    if damage == "truncate":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "flip":
        _flip(path, res.W[0])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(os.urandom(size))
    elif damage == "checksum":
        _rewrite(path, change_array=True)
    elif damage == "other_version":
        _rewrite(path, meta_change={"lrbook_version": "0.0.1"})
    else:
        _rewrite(path, meta_change={"config": {**net.to_dict(), "seed": 99}})
    with pytest.warns(CacheWarning, match=path.name) as rec:
        again = run_ensemble(cfg, cache=cache, threads=1)
    assert "recomputed" in str(rec[0].message)
    assert again.from_cache.tolist() == [False, True]          # only the damaged one retrained
    assert_same_arrays(again, res)                              # and it came out the same
    moved = list(cache.corrupt.glob(f"{net.key}.*.npz"))
    assert len(moved) == 1
    # the recomputed file is valid: a third run reads both silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = run_ensemble(cfg, cache=cache, threads=1)
    assert third.from_cache.all()


def test_flipped_bytes_caught_by_our_checksum_even_without_zip_crc(cached, monkeypatch):
    """The sha256 check stands on its own: switch off the zip CRC check and the flipped
    array still never comes back as data."""
    cfg, res, cache = cached
    net = cfg.networks()[1]
    _flip(cache.path(net.key), res.W[1])
    import zipfile
    monkeypatch.setattr(zipfile.ZipExtFile, "_update_crc", lambda self, data: None)
    with pytest.warns(CacheWarning, match="sha256 checksum"):
        assert cache.load(net) is None


def test_temp_files_are_ignored_and_stale_ones_cleaned(cached):
    cfg, res, cache = cached
    net = cfg.networks()[0]
    host = cache_mod._host()
    dead = cache.networks / f".{net.key}.{host}.999999999.abcd.tmp"       # no such pid
    alive = cache.networks / f".{net.key}.{host}.{os.getpid()}.ef01.tmp"
    other = cache.networks / f".{net.key}.elsewhere.123.aaaa.tmp"
    good = cache.path(net.key).read_bytes()
    for p in (dead, alive, other):
        p.write_bytes(good[: len(good) // 2])                             # half-written
    assert sorted(cache.keys()) == sorted(res.keys)
    assert set(cache.temp_files()) == {dead, alive, other}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_ensemble(cfg, cache=cache, threads=1).from_cache.all()
    assert cache.clean_temp() == [dead]
    assert alive.exists() and other.exists()
    os.utime(other, (0, 0))                                               # very old
    assert cache.clean_temp(max_age_s=3600) == [other]


def test_interrupted_write_leaves_old_file_and_no_temp(cached, monkeypatch):
    cfg, res, cache = cached
    net = cfg.networks()[0]
    part = cache.load(net)
    before = cache.path(net.key).read_bytes()

    def half_then_interrupt(f, **arrays):
        f.write(b"PK\x03\x04 partial zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod.np, "savez", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        cache.save(part)
    assert cache.path(net.key).read_bytes() == before
    assert cache.temp_files() == []


def test_missing_folder_and_bad_keys(tmp_path):
    cache = ResultCache(tmp_path / "nowhere")
    net = tiny().networks()[0]
    assert cache.load(net) is None and cache.keys() == [] and net not in cache
    assert cache.clean_temp() == [] and cache.discard(net.key) is None
    with pytest.raises(ValueError, match="key must be 64 lowercase hex characters; got '../x'"):
        cache.path("../x")


def test_default_folder_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LRBOOK_CACHE", str(tmp_path / "c"))
    assert ResultCache().root == tmp_path / "c"
    cfg = tiny(g=(0.0,), seeds=(0,), epochs=3)
    run_ensemble(cfg, threads=1)
    assert (tmp_path / "c" / "networks" / f"{cfg.networks()[0].key}.npz").is_file()


# --------------------------------------------------------------------------- issue 20: unusable caches
@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: every write under ``folder`` fails with EACCES, as in a read-only
    folder (chmod does not stop root, who runs some CI containers)."""
    import builtins
    import errno
    from pathlib import Path

    roots = []

    def inside(p):
        try:
            p = Path(os.fsdecode(os.fspath(p))).absolute()
        except TypeError:
            return False
        return any(p == r or r in p.parents for r in roots)

    def deny(p):
        raise PermissionError(errno.EACCES, "Permission denied", str(p))

    real_open, real_replace, real_unlink, real_mkdir = builtins.open, os.replace, os.unlink, Path.mkdir

    def fake_open(file, mode="r", *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wxa+") and inside(file):
            deny(file)
        return real_open(file, mode, *a, **k)

    def fake_replace(src, dst, *a, **k):
        if inside(src) or inside(dst):
            deny(dst)
        return real_replace(src, dst, *a, **k)

    def fake_unlink(path, *a, **k):
        if inside(path):
            deny(path)
        return real_unlink(path, *a, **k)

    def fake_mkdir(self, *a, **k):
        if inside(self) and not self.is_dir():
            deny(self)
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "replace", fake_replace)
    monkeypatch.setattr(os, "unlink", fake_unlink)
    monkeypatch.setattr(Path, "mkdir", fake_mkdir)

    def make(folder):
        roots.append(Path(folder).absolute())
        return folder
    return make


def _counting_train(monkeypatch, events):
    """Record ("train", K) for every ensemble trained by run_ensemble / sweep."""
    from lrbook.experiments import run as run_mod
    from lrbook.training import train

    def counted(model, *a, **k):
        events.append(("train", model.K))
        return train(model, *a, **k)

    monkeypatch.setattr(run_mod, "train", counted)


def test_read_only_cache_with_a_corrupt_file_warns_leaves_it_and_recomputes(cached, read_only):
    """Item 5: no PermissionError from the quarantine of a read-only cache."""
    cfg, res, cache = cached
    net = cfg.networks()[0]
    path = cache.path(net.key)
    path.write_bytes(b"garbage")
    read_only(cache.root)
    with pytest.warns(CacheWarning) as rec:
        again = run_ensemble(cfg, cache=ResultCache(cache.root), threads=1)
    text = " ".join(str(w.message) for w in rec)
    assert "is not writable" in text and "reading it only" in text
    assert "left in place" in text and "treated as missing" in text
    assert again.from_cache.tolist() == [False, True]
    assert_same_arrays(again, res)
    assert path.read_bytes() == b"garbage" and not cache.corrupt.exists()     # nothing moved or written


def test_unwritable_cache_is_found_before_training_and_only_read(tmp_path, read_only, monkeypatch):
    """Item 5: the cache is checked before the training, not after it (when the work would be lost)."""
    from lrbook.experiments import run as run_mod
    from lrbook.training import train

    folder = tmp_path / "ro"
    folder.mkdir()
    read_only(folder)
    seen = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")

        def counted(model, *a, **k):                       # how many warnings when training starts
            seen.append([str(w.message) for w in rec if issubclass(w.category, CacheWarning)])
            return train(model, *a, **k)

        monkeypatch.setattr(run_mod, "train", counted)
        res = run_ensemble(tiny(g=(0.0,), seeds=(0,), epochs=3), cache=folder, threads=1)
    assert len(seen) == 1 and len(seen[0]) == 1 and "not writable" in seen[0][0]
    assert res.n_trained == 1 and list(folder.iterdir()) == []
    cache = ResultCache(folder, read_only=True)
    assert cache.check() is False and cache.save(run_mod.split_result(res, list(res.networks))[0]) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_chmod_read_only_folder_is_read_not_written(cached):
    cfg, res, cache = cached
    cache.path(cfg.networks()[0].key).write_bytes(b"garbage")
    for p in (cache.root / "networks", cache.root):
        p.chmod(0o555)
    try:
        with pytest.warns(CacheWarning, match="not writable"):
            again = run_ensemble(cfg, cache=cache.root, threads=1)
        assert again.from_cache.tolist() == [False, True]
    finally:
        for p in (cache.root, cache.root / "networks"):
            p.chmod(0o755)


def test_cache_that_is_a_file_is_refused_before_training(tmp_path, monkeypatch):
    events = []
    _counting_train(monkeypatch, events)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run_ensemble(tiny(g=(0.0,), seeds=(0,), epochs=3), cache=f, threads=1)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "networks").write_text("x")
    from lrbook.experiments import sweep
    with pytest.raises(ValueError, match="networks is a file"):
        sweep(tiny(g=(0.0,), seeds=(0,), epochs=3), cache=tmp_path / "c", progress=False)
    assert events == []


def test_empty_cache_path_is_refused(tmp_path, monkeypatch):
    """Item 6: "" would silently mean the current folder."""
    from lrbook.experiments import sweep
    monkeypatch.chdir(tmp_path)
    for bad in ("", "  "):
        with pytest.raises(ValueError, match="folder must be a non-empty path"):
            ResultCache(bad)
        with pytest.raises(ValueError, match="cache must be a non-empty folder path"):
            run_ensemble(tiny(), cache=bad)
        with pytest.raises(ValueError, match="cache must be a non-empty folder path"):
            sweep(tiny(), cache=bad, progress=False)
    with pytest.raises(TypeError, match="folder must be a path"):
        ResultCache(3)
    assert list(tmp_path.iterdir()) == []
