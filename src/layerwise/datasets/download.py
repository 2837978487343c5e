"""Fetch a file over HTTP(S), verify its SHA-256, and only then move it into place.

The body streams into a temporary file in the destination folder (see
:func:`~layerwise.datasets.atomic.atomic_write`), hashed on the way. An HTTP error, a timeout, a
connection that drops before ``Content-Length`` bytes arrived, or a checksum mismatch deletes the
temporary file and tries the next mirror; when every mirror has failed, :class:`DownloadError`
lists each URL with what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from layerwise.errors import ConfigError, DataError, DownloadError, LayerwiseError
from layerwise.files.fileio import atomic_write
from layerwise.version import __version__

__all__ = ["download", "sha256_file", "DEFAULT_TIMEOUT"]

#: Seconds a connect or a single read may block before the attempt counts as failed.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 digest of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str | Sequence[str],
    dest: str | os.PathLike[str],
    sha256: str,
    progress: bool = True,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download ``url`` to ``dest``, verified by SHA-256; mirrors are tried in order.

    Parameters
    ----------
    url : str or sequence of str
        The file's URL, or several mirrors of the same file tried first to last. Only ``http``
        and ``https`` are accepted.
    dest : path-like
        Final path. Written atomically: it appears, complete and verified, or not at all.
    sha256 : str
        Expected hex digest of the file.
    progress : bool, default True
        Show a tqdm progress bar on stderr. Pass ``sys.stderr.isatty()`` to hide it in logs.
    timeout : float, default 30
        Seconds for the connection and for each read.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        Every URL failed (HTTP status, network error, timeout, short body, wrong checksum, the
        file could not be written). The message lists each URL with the expected and the actual
        outcome; no temporary file is left.
    DataError
        ``dest``'s folder does not exist and cannot be created (a parent of it is a file).
    ConfigError
        No URL given.
    """
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise ConfigError(f"download({dest}): no URL given")
    dest = Path(dest)
    # The cache folder is layerwise's own, made on first use; a folder the user named was
    # checked to exist before any download started (see mnist.fetch).
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"{dest.parent}: cannot create the folder to download {dest.name} into: "
            f"{exc.strerror or exc}"
        ) from exc
    failures: list[str] = []
    for u in urls:
        try:
            _download_one(u, dest, sha256.lower(), progress, timeout)
            return dest
        except DownloadError as exc:
            failures.append(str(exc))
    if len(failures) == 1:
        raise DownloadError(failures[0])
    raise DownloadError(
        f"could not download {dest.name} from any of {len(urls)} mirrors:\n  "
        + "\n  ".join(failures)
    )


def _download_one(url: str, dest: Path, sha256: str, progress: bool, timeout: float) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise DownloadError(f"{url}: expected an http or https URL, found scheme {scheme!r}")
    request = urllib.request.Request(url, headers={"User-Agent": f"layerwise/{__version__}"})
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            atomic_write(dest) as out,
        ):
            length_header = response.headers.get("Content-Length")
            expected_len = int(length_header) if length_header and length_header.isdigit() else None
            h = hashlib.sha256()
            received = 0
            with tqdm(
                total=expected_len,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
                leave=True,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            # http.client's read(amt) returns b"" when the peer closes early instead of raising
            # IncompleteRead, so the length check is ours to make.
            if expected_len is not None and received != expected_len:
                raise DownloadError(
                    f"{url}: connection dropped: expected {expected_len} bytes (Content-Length), "
                    f"received {received}"
                )
            actual = h.hexdigest()
            if actual != sha256:
                raise DownloadError(
                    f"{url}: checksum mismatch: expected SHA-256 {sha256}, found {actual} "
                    f"({received} bytes)"
                )
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"{url}: HTTP error: expected status 200, found {exc.code} {exc.reason}"
        ) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: could not connect: {exc.reason}") from exc
    except TimeoutError as exc:
        raise DownloadError(f"{url}: timed out: no data for {timeout:g} s") from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        # IncompleteRead, RemoteDisconnected, ConnectionResetError...
        raise DownloadError(
            f"{url}: connection dropped: expected a complete response, found "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    except LayerwiseError:
        raise  # e.g. fileio's OutputError: dest cannot be written, said before anything is
    except OSError as exc:  # the disk is full, the folder went away, ...
        raise DownloadError(f"{url}: could not write {dest}: {exc.strerror or exc}") from exc
