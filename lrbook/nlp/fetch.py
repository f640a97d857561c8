r"""Download SST-2 and GloVe where the network allows it (e.g. on Colab).

Nothing in lrbook downloads on its own: the chapter :doc:`/book/14_sentiment` calls
:func:`download` only on Colab, and the loaders of :mod:`lrbook.nlp.data` read
whatever is in the data folder. Without network :func:`download` raises
:class:`DownloadError`, says what it tried and where to put the files by hand, and
leaves no partial file behind.

Sources:

- SST-2, GLUE version: ``https://dl.fbaipublicfiles.com/glue/data/SST-2.zip``
  (7 MB; ``SST-2/train.tsv``, ``dev.tsv``, ``test.tsv``);
- GloVe 6B (Wikipedia 2014 + Gigaword 5): ``https://nlp.stanford.edu/data/glove.6B.zip``
  (822 MB; the 50, 100, 200 and 300-d files; only ``glove.6B.<dim>d.txt`` is kept).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import Request, urlopen

from .. import _validate as V
from .data import SST2_DIR, default_data_dir

SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
GLOVE_DIMS = (50, 100, 200, 300)
SOURCES = ("sst2", "glove")
CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed (no network, server error, broken archive)."""


@dataclass(frozen=True)
class Download:
    """One archive to fetch and the files to extract from it.

    Attributes
    ----------
    name : {"sst2", "glove"}
    url : str
    archive : Path
        where the archive is written while extracting (removed afterwards unless kept).
    members : tuple of (str, Path)
        archive member -> target file.
    """

    name: str
    url: str
    archive: Path
    members: tuple[tuple[str, Path], ...]

    @property
    def targets(self) -> tuple[Path, ...]:
        return tuple(t for _, t in self.members)

    def done(self) -> bool:
        """True when every target file exists."""
        return all(t.is_file() for t in self.targets)


def download_plan(folder: str | os.PathLike | None = None, what: Sequence[str] | str = SOURCES,
                  dim: int = 100) -> list[Download]:
    """What :func:`download` would fetch, and where the files go.

    Parameters
    ----------
    folder : path, optional
        default :func:`lrbook.nlp.default_data_dir`.
    what : "sst2", "glove" or a sequence of them
    dim : {50, 100, 200, 300}
        GloVe dimension to extract.

    Returns
    -------
    list of Download
    """
    folder = default_data_dir() if folder is None else Path(folder)
    what = (what,) if isinstance(what, str) else tuple(what)
    if not what:
        raise ValueError(f"what must name at least one of {', '.join(SOURCES)}; got ()")
    for w in what:
        V.choice("what", w, SOURCES)
    dim = V.integer("dim", dim)
    if dim not in GLOVE_DIMS:
        raise ValueError(f"dim must be one of {', '.join(map(str, GLOVE_DIMS))}; got {dim}")
    out = []
    if "sst2" in what:
        members = tuple((f"{SST2_DIR}/{s}.tsv", folder / SST2_DIR / f"{s}.tsv") for s in ("train", "dev", "test"))
        out.append(Download("sst2", SST2_URL, folder / "SST-2.zip", members))
    if "glove" in what:
        name = f"glove.6B.{dim}d.txt"
        out.append(Download("glove", GLOVE_URL, folder / "glove.6B.zip", ((name, folder / name),)))
    return out


def _fetch(url: str, dest: Path, timeout: float, progress: bool) -> None:
    part = dest.with_name(dest.name + ".part")
    try:
        with urlopen(Request(url, headers={"User-Agent": "lrbook"}), timeout=timeout) as resp, \
                open(part, "wb") as fh:
            total = int(resp.headers.get("Content-Length") or 0) if getattr(resp, "headers", None) else 0
            bar = None
            if progress:
                from tqdm.auto import tqdm
                bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=dest.name, leave=False)
            try:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        os.replace(part, dest)
    finally:
        if part.exists():
            part.unlink()


def _extract(item: Download) -> None:
    with zipfile.ZipFile(item.archive) as zf:
        names = set(zf.namelist())
        for member, target in item.members:
            if member not in names:
                raise DownloadError(f"{item.url}: the archive has no {member}")
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            try:
                with zf.open(member) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                os.replace(part, target)
            finally:
                if part.exists():
                    part.unlink()


def download(folder: str | os.PathLike | None = None, what: Sequence[str] | str = SOURCES, *,
             dim: int = 100, timeout: float = 60.0, keep_archive: bool = False,
             progress: bool = True) -> Path:
    """Fetch SST-2 and/or GloVe into ``folder`` (files already there are not fetched again).

    Parameters
    ----------
    folder : path, optional
        default :func:`lrbook.nlp.default_data_dir` (``$LRBOOK_DATA`` or the cache).
    what : "sst2", "glove" or a sequence of them
    dim : {50, 100, 200, 300}
        the GloVe file to keep.
    timeout : float
        seconds without an answer before giving up, > 0.
    keep_archive : bool
        keep the downloaded zip files.
    progress : bool
        show a progress bar.

    Returns
    -------
    Path
        the folder, ready for :func:`lrbook.nlp.load_sentiment`.

    Raises
    ------
    DownloadError
        when a file cannot be fetched or extracted (e.g. no network); no partial
        file is left behind.
    """
    timeout = V.real("timeout", timeout, lo=0.0, lo_open=True)
    plan = download_plan(folder, what, dim)
    root = plan[0].archive.parent
    for item in plan:
        if item.done():
            continue
        root.mkdir(parents=True, exist_ok=True)
        try:
            _fetch(item.url, item.archive, timeout, progress)
            _extract(item)
        except DownloadError:
            raise
        except (URLError, OSError, zipfile.BadZipFile, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            files = ", ".join(str(t) for t in item.targets)
            raise DownloadError(f"could not download {item.name} from {item.url}: {reason}. "
                                f"Without network, put the files there by hand: {files}") from err
        finally:
            if not keep_archive and item.archive.exists():
                item.archive.unlink()
    return root
