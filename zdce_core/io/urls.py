"""Photos named by URL: ``file://`` URLs are local paths; other protocols are refused clearly.

A cluster's workers see the same files as the client through a shared folder
(NFS, Lustre, a mounted bucket), so a ``file://`` URL and the path it names
behave the same everywhere; text that is not a URL is left as it is.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def local_path(text: str) -> str:
    """The local path ``text`` names: a ``file://`` URL's path, any other text unchanged.

    Raises
    ------
    ValueError
        For a ``file://`` URL naming another host, or a URL of another
        protocol (``s3://``, ``gs://``, ...), which zdce does not read.

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
        raise ValueError(
            f"{text}: {scheme}:// URLs are not read directly; mount the bucket as a folder "
            f"(s3fs, gcsfuse, ...) or copy the photos to a folder the workers share"
        )
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{text}: a file:// URL names this machine's files (file:///PATH), not host {parts.netloc!r}")
    return unquote(parts.path)
