"""Download the files of MNIST or Fashion-MNIST from public mirrors, with urllib only,
verified and atomic.

For each missing file, each mirror is tried in turn. A download goes into a temporary file in
the data folder; its decompressed content must have the expected SHA-256; only then is it
renamed into place (os.replace, atomic). Whatever goes wrong (a 404, a dropped connection, a
wrong checksum) the temporary file is removed, so the folder never holds a partial file. When
no mirror works, :class:`DownloadError` lists every URL tried and what went wrong with each.
"""
import http.client
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..files import flush_to_disk, temporary_sibling
from .errors import DatasetError, DownloadError
from .idx import CHUNK, is_gzip, sha256_decompressed
from .paths import DATA_DIR_ENV, dataset_folder, find_data_file
from .sources import FASHION_MNIST, MNIST

DEFAULT_TIMEOUT = 60.0   # seconds without a byte before a mirror counts as failed
USER_AGENT = "numpyvae"
URL_SCHEMES = ("http", "https", "file")


class _ConnectionDropped(Exception):
    """The server closed the connection before sending all the bytes it announced."""

    def __init__(self, received, expected):
        super().__init__(f"connection closed after {received} of {expected} bytes")


def resolve_mirrors(mirrors=None, source=MNIST):
    """The mirror URLs to try, in order.

    ``mirrors`` if given (a list, or one comma-separated string); else the source's
    environment variable ($NUMPYVAE_MNIST_MIRRORS, $NUMPYVAE_FASHION_MNIST_MIRRORS), a
    comma-separated list; else the source's own mirrors (for MNIST
    :data:`~numpyvae.datasets.sources.DEFAULT_MIRRORS`). A mirror is a folder URL (http,
    https or file) under which ``<name>.gz`` is fetched.

    Parameters
    ----------
    mirrors : list of str or str, optional
    source : IdxSource
        :data:`~numpyvae.datasets.sources.MNIST` or
        :data:`~numpyvae.datasets.sources.FASHION_MNIST`.

    Returns
    -------
    list of str
    """
    origin = "mirrors"
    if mirrors is None:
        mirrors, origin = os.environ.get(source.mirrors_env, ""), f"${source.mirrors_env}"
        if not mirrors.strip():
            return list(source.mirrors)
    if isinstance(mirrors, str):
        mirrors = mirrors.split(",")
    try:
        mirrors = [m.strip() for m in mirrors]
    except (TypeError, AttributeError):
        raise ValueError(f"{origin} must be a list of mirror URLs (str); "
                         f"got {mirrors!r}") from None
    mirrors = [m for m in mirrors if m]
    if not mirrors:
        raise ValueError(f"{origin} must name at least one mirror URL; got none")
    for mirror in mirrors:
        if urllib.parse.urlsplit(mirror).scheme not in URL_SCHEMES:
            raise ValueError(f"{origin} must hold URLs starting with http://, https:// or "
                             f"file://; got {mirror!r}")
    return mirrors


def file_url(mirror, filename):
    """``mirror`` joined with ``filename``, with exactly one slash between them."""
    return mirror.rstrip("/") + "/" + filename


def download_file(filename, data_dir, sha256, mirrors=None, progress=True,
                  timeout=DEFAULT_TIMEOUT, source=MNIST):
    """Fetch ``<filename>.gz`` from the first mirror that gives a good copy.

    Parameters
    ----------
    filename : str
        The file's canonical name without ``.gz``, e.g. ``"train-images-idx3-ubyte"``.
    data_dir : str or os.PathLike
        The folder to put it in (created if needed).
    sha256 : str
        Expected SHA-256 (hex) of the decompressed content.
    mirrors : list of str, optional
        See :func:`resolve_mirrors`.
    progress : bool
        Show a progress line on stderr, rewritten in place with ``\\r``.
    timeout : float
        Seconds to wait for the server at any one moment.
    source : IdxSource
        Whose mirrors to use when ``mirrors`` is None, and which variable to name when none
        works.

    Returns
    -------
    pathlib.Path
        The file written: ``<filename>.gz`` (or ``<filename>`` if a mirror served it raw).
    """
    mirrors = resolve_mirrors(mirrors, source)
    folder = Path(data_dir)
    _check_writable(folder)
    failures = []
    for mirror in mirrors:
        url = file_url(mirror, filename + ".gz")
        try:
            return _fetch_verified(url, folder, filename, sha256.lower(), progress, timeout)
        except (OSError, http.client.HTTPException, _ConnectionDropped, DatasetError) as err:
            failures.append(f"  {url}: {_describe(err, timeout)}")
            if progress and mirror != mirrors[-1]:
                print(f"{failures[-1].strip()}; trying the next mirror", file=sys.stderr)
    raise DownloadError(
        f"could not download {filename} into {folder}; tried {len(mirrors)} "
        f"mirror{'s' if len(mirrors) > 1 else ''}:\n" + "\n".join(failures) +
        f"\nNothing was left in {folder}. Set ${source.mirrors_env} to a comma-separated "
        f"list of mirror URLs (e.g. a proxy you can reach), or copy the file there yourself.")


def download_missing(folder, checksums, source=MNIST, mirrors=None, progress=True,
                     timeout=DEFAULT_TIMEOUT):
    """Download every file of ``checksums`` that is missing from ``folder``.

    A file counts as present when ``<name>`` or ``<name>.gz`` exists; present files are not
    checked here (the loader checks them on every read).

    Parameters
    ----------
    folder : str or os.PathLike
        The folder of the dataset's files themselves (for Fashion-MNIST, the subfolder).
    checksums : dict of str -> str
        File name (without .gz) -> SHA-256 of its decompressed content.
    source : IdxSource
        Whose mirrors to try; see :func:`resolve_mirrors`.
    mirrors : list of str, optional
    progress : bool
    timeout : float

    Returns
    -------
    dict of str -> pathlib.Path
        Each file name and where it is now.
    """
    folder = Path(folder)
    created = not folder.exists()
    paths = {}
    try:
        for name, sha256 in checksums.items():
            paths[name] = find_data_file(folder, name) or download_file(
                name, folder, sha256, mirrors=mirrors, progress=progress, timeout=timeout,
                source=source)
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()                     # leave no empty folder behind
        raise
    return paths


def download_mnist(data_dir=None, mirrors=None, checksums=None, progress=True,
                   timeout=DEFAULT_TIMEOUT):
    """Download the MNIST files missing from the data folder.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        See :func:`~numpyvae.datasets.paths.resolve_data_dir` (argument, then $NUMPYVAE_DATA,
        then the per-user cache). The files go directly into it.
    mirrors : list of str, optional
        See :func:`resolve_mirrors`.
    checksums : dict of str -> str, optional
        File name (without .gz) -> SHA-256 of its decompressed content; by default the four
        MNIST files, :data:`~numpyvae.datasets.sources.MNIST_SHA256`.
    progress : bool
    timeout : float

    Returns
    -------
    dict of str -> pathlib.Path
        Each file name and where it is now.
    """
    return download_missing(dataset_folder(MNIST.subfolder, data_dir),
                            MNIST.sha256 if checksums is None else checksums, MNIST,
                            mirrors=mirrors, progress=progress, timeout=timeout)


def download_fashion_mnist(data_dir=None, mirrors=None, checksums=None, progress=True,
                           timeout=DEFAULT_TIMEOUT):
    """Download the Fashion-MNIST files missing from the subfolder ``fashion-mnist``.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        The data folder, as for :func:`download_mnist`; the files go into its subfolder
        ``fashion-mnist`` (created if needed).
    mirrors : list of str, optional
        See :func:`resolve_mirrors`; by default $NUMPYVAE_FASHION_MNIST_MIRRORS, else
        :data:`~numpyvae.datasets.sources.FASHION_MNIST_MIRRORS`.
    checksums : dict of str -> str, optional
        By default :data:`~numpyvae.datasets.sources.FASHION_MNIST_SHA256`.
    progress : bool
    timeout : float

    Returns
    -------
    dict of str -> pathlib.Path
    """
    return download_missing(dataset_folder(FASHION_MNIST.subfolder, data_dir),
                            FASHION_MNIST.sha256 if checksums is None else checksums,
                            FASHION_MNIST, mirrors=mirrors, progress=progress, timeout=timeout)


def _check_writable(folder):
    """Create ``folder`` if needed and make sure a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temporary_sibling(folder / "numpyvae-write-test")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as err:
        raise DownloadError(f"cannot write into the data folder {folder} ({err}); choose "
                            f"another with --data-dir or ${DATA_DIR_ENV}") from None


def _fetch_verified(url, folder, filename, sha256, progress, timeout):
    """Download ``url`` into a temporary file, check it, rename it into place."""
    tmp = temporary_sibling(folder / filename)
    try:
        with open(tmp, "xb") as out:
            _stream(url, out, progress, timeout)
            flush_to_disk(out)
        got = sha256_decompressed(tmp)
        if got != sha256:
            raise DatasetError(f"checksum mismatch: the decompressed content has SHA-256 "
                               f"{got}, expected {sha256}")
        final = folder / (filename + ".gz" if is_gzip(tmp) else filename)
        os.replace(tmp, final)
        return final
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def _stream(url, out, progress, timeout):
    """Copy the body at ``url`` into the open file ``out``, showing progress."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        line = _ProgressLine(url, total, progress)
        received = 0
        try:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                received += len(chunk)
                line.update(received)
        finally:
            line.close()
        # http.client returns b"" (no error) when the server hangs up early: count the bytes.
        if total is not None and received < total:
            raise _ConnectionDropped(received, total)


def _describe(err, timeout):
    """One line saying what went wrong with one mirror."""
    if isinstance(err, urllib.error.HTTPError):
        err.close()   # an HTTPError holds the open response
        return f"HTTP error {err.code} ({err.reason})"
    if isinstance(err, urllib.error.URLError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s (timed out)"
    if isinstance(err, http.client.IncompleteRead):
        return f"connection closed after {len(err.partial)} bytes; more were announced"
    if isinstance(err, (_ConnectionDropped, DatasetError)):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _size(n_bytes):
    """``n_bytes`` for people: "28.9 kB", "9.9 MB"."""
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.1f} kB"


class _ProgressLine:
    """``downloading <url>: 3.1 MB of 9.9 MB (31%)`` on stderr, rewritten in place with \\r."""

    def __init__(self, url, total, enabled):
        self.url, self.total, self.enabled = url, total, enabled
        self.shown = None
        self.width = 0

    def update(self, received):
        if not self.enabled:
            return
        if self.total:
            step = 100 * received // self.total        # redraw once per percent
            text = (f"downloading {self.url}: {_size(received)} of {_size(self.total)} "
                    f"({step}%)")
        else:
            step = received // 100_000                 # or once per 100 kB
            text = f"downloading {self.url}: {_size(received)}"
        if step != self.shown:
            self.shown = step
            sys.stderr.write("\r" + text.ljust(self.width))
            sys.stderr.flush()
            self.width = len(text)

    def close(self):
        if self.enabled and self.shown is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()
