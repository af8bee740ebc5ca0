"""Photos named by URL: ``file://`` URLs are local paths; object storage (``s3://``, ``gs://``, ...) goes through fsspec.

Text that is not a URL is a local path (or glob) and is left as it is; a
``file://`` URL is the same local path. Any other URL becomes a :class:`URL`,
read and written through `fsspec <https://filesystem-spec.readthedocs.io>`_
with the protocol's package (``s3fs``, ``gcsfs``), which the user installs as
an extra (``pip install 'zdce[s3]'``). Credentials and endpoints come from
where those packages find them (for S3: ``AWS_ACCESS_KEY_ID`` and the other
``AWS_*`` variables, ``~/.aws`` profiles, instance roles; ``AWS_ENDPOINT_URL``
for an S3-compatible server); nothing here reads, stores or prints them.

Object stores have no partial objects: an object appears under its key when
its upload completes (one PUT, or a multipart upload's completion), never
before. :func:`staged` writes locally and uploads the finished file, so a
write that fails or is killed leaves no object at the final key.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Protocol -> (package fsspec needs, our extra that installs it).
_PACKAGES = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs")}


@dataclass(frozen=True, order=True)
class URL:
    """An object (or a prefix of objects) in storage that fsspec reaches: ``protocol://bucket/key``.

    Enough of :class:`pathlib.PurePath`'s interface for planning a batch:
    ``name``, ``stem``, ``suffix``, ``parent``, ``/`` and ``relative_to``.

    Examples
    --------
    >>> url = URL("s3", "archive/night/a.jpg")
    >>> str(url.parent / "sub" / "b.png"), url.stem, url.relative_to(URL("s3", "archive"))
    ('s3://archive/night/sub/b.png', 'a', PurePosixPath('night/a.jpg'))
    """

    protocol: str
    key: str  # bucket and key, without a leading or trailing "/"

    def __str__(self) -> str:
        return f"{self.protocol}://{self.key}"

    @property
    def _path(self) -> PurePosixPath:
        return PurePosixPath(self.key)

    @property
    def name(self) -> str:
        return self._path.name

    @property
    def stem(self) -> str:
        return self._path.stem

    @property
    def suffix(self) -> str:
        return self._path.suffix

    @property
    def parent(self) -> URL:
        return URL(self.protocol, str(self._path.parent))

    def __truediv__(self, other: str | os.PathLike) -> URL:
        return URL(self.protocol, str(self._path / PurePosixPath(os.fspath(other))))

    def relative_to(self, other: URL) -> PurePosixPath:
        return self._path.relative_to(other._path)

    def is_relative_to(self, other: object) -> bool:
        return isinstance(other, URL) and other.protocol == self.protocol and self._path.is_relative_to(other._path)


Location = Path | URL


def local_path(text: str) -> str:
    """The local path ``text`` names: a ``file://`` URL's path, any other text unchanged.

    Raises
    ------
    ValueError
        For a ``file://`` URL naming another host, or a URL of another
        protocol (see :func:`location` for those).

    Examples
    --------
    >>> local_path("file:///srv/night%20shots/a.jpg")
    '/srv/night shots/a.jpg'
    >>> local_path("shots/*.jpg")
    'shots/*.jpg'
    """
    match = _SCHEME.match(text)
    if not match:
        return text
    scheme = match.group(1).lower()
    if scheme != "file":
        raise ValueError(f"{text}: a local path or file:// URL is needed here, not a {scheme}:// URL")
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{text}: a file:// URL names this machine's files (file:///PATH), not host {parts.netloc!r}")
    return unquote(parts.path)


def location(text: str) -> str | URL:
    """What an INPUT or OUTDIR argument names: local path text (globs kept) or an object-storage :class:`URL`.

    Raises
    ------
    ValueError
        For a URL whose protocol needs a package that is not installed (the
        message names the install command), or that fsspec does not know.

    Examples
    --------
    >>> location("file:///srv/a.jpg"), location("shots/*.jpg")
    ('/srv/a.jpg', 'shots/*.jpg')
    >>> location("s3://archive/night/")
    URL(protocol='s3', key='archive/night')
    """
    match = _SCHEME.match(text)
    if not match or match.group(1).lower() == "file":
        return local_path(text)
    protocol = match.group(1).lower()
    key = text[match.end():].strip("/")
    if not key:
        raise ValueError(f"{text}: name a bucket, e.g. {protocol}://BUCKET/PREFIX/")
    filesystem(protocol, text)  # refused here, once, rather than photo by photo
    return URL(protocol, key)


@functools.cache
def _filesystem(protocol: str):
    import fsspec

    # Listings are read fresh each time: a rerun must see the objects written since.
    return fsspec.filesystem(protocol, use_listings_cache=False)


def filesystem(protocol: str, text: str = ""):
    """The fsspec file system for ``protocol``, one per process; ``text`` names the argument in errors."""
    package, extra = _PACKAGES.get(protocol, (None, None))
    where = f"{text}: " if text else ""
    try:
        return _filesystem(protocol)
    except ImportError:
        install = f"pip install 'zdce[{extra}]'" if extra else f"pip install fsspec and the package for {protocol}://"
        need = package or "fsspec"
        raise ValueError(f"{where}{protocol}:// URLs need {need}; install it with: {install}") from None
    except ValueError:
        raise ValueError(f"{where}{protocol}:// is not a storage protocol fsspec knows; use s3://, gs:// or a local path") from None


def _fs(url: URL):
    return filesystem(url.protocol)


def _visible(key: str, base: str) -> bool:
    # Hidden names are skipped as in local folders.
    return not any(part.startswith(".") for part in PurePosixPath(key).relative_to(base).parts)


def is_folder(url: URL) -> bool:
    """Whether objects exist below ``url`` as a prefix (``bucket/prefix/``)."""
    return _fs(url).isdir(url.key)


def exists(url: URL) -> bool:
    return _fs(url).exists(url.key)


def objects(url: URL, *, recursive: bool) -> list[URL]:
    """The visible objects below the prefix ``url``, sorted; with ``recursive``, in sub-prefixes too."""
    keys = _fs(url).find(url.key, maxdepth=None if recursive else 1)
    return sorted(URL(url.protocol, k) for k in keys if _visible(k, url.key))


def matches(pattern: URL, base: URL, *, recursive: bool) -> list[URL]:
    """The visible objects whose keys match the glob ``pattern`` (``**`` only with ``recursive``)."""
    key = pattern.key if recursive else pattern.key.replace("**", "*")
    fs = _fs(pattern)
    found = fs.glob(key)
    return sorted(URL(pattern.protocol, k) for k in found if _visible(k, base.key) and not fs.isdir(k))


def _by_prefix(targets: Iterable[Location]) -> tuple[list[Path], dict[URL, set[URL]]]:
    local: list[Path] = []
    remote: dict[URL, set[URL]] = {}
    for target in targets:
        if isinstance(target, URL):
            remote.setdefault(target.parent, set()).add(target)
        else:
            local.append(target)
    return local, remote


def _listing(prefix: URL) -> dict[str, dict]:
    """Key -> fsspec's details, for the objects directly below ``prefix``: one listing request."""
    try:
        return {info["name"]: info for info in _fs(prefix).ls(prefix.key, detail=True)}
    except FileNotFoundError:
        return {}


def existing(targets: Iterable[Location]) -> set[Location]:
    """Which of ``targets`` exist: local ones one by one, objects by listing each prefix once."""
    local, remote = _by_prefix(targets)
    present: set[Location] = {path for path in local if path.exists()}
    for prefix, wanted in remote.items():
        keys = _listing(prefix)
        present |= {url for url in wanted if url.key in keys}
    return present


def written_since(targets: Iterable[Location], since: float) -> set[Location]:
    """Which of ``targets`` were modified at or after ``since`` (seconds since the epoch), listed as :func:`existing`."""
    local, remote = _by_prefix(targets)
    written: set[Location] = set()
    for path in local:
        try:
            if path.stat().st_mtime >= since:
                written.add(path)
        except OSError:
            continue
    for prefix, wanted in remote.items():
        keys = _listing(prefix)
        for url in wanted:
            info = keys.get(url.key)
            when = info and (info.get("LastModified") or info.get("mtime") or info.get("updated"))
            if when and _seconds(when) >= since:
                written.add(url)
    return written


def _seconds(when) -> float:
    # s3fs gives a datetime, gcsfs an ISO 8601 text.
    from datetime import datetime

    return (when if isinstance(when, datetime) else datetime.fromisoformat(str(when).replace("Z", "+00:00"))).timestamp()


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="zdce-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def local_copy(source: Location) -> Iterator[Path]:
    """A local file with ``source``'s bytes: the path itself, or a download (same name) removed afterwards."""
    if not isinstance(source, URL):
        yield source
        return
    with _scratch() as folder:
        copy = folder / source.name
        _fs(source).get_file(source.key, copy)
        yield copy


@contextlib.contextmanager
def staged(target: Location) -> Iterator[Path]:
    """Where to write ``target``: the path itself, or a local file uploaded to ``target`` when the block succeeds.

    The upload is one object store write (a PUT, or a multipart upload that
    the store makes visible only on completion): no partial object is ever
    at ``target``'s key.
    """
    if not isinstance(target, URL):
        yield target
        return
    with _scratch() as folder:
        local = folder / target.name
        yield local
        _fs(target).put_file(local, target.key)
