"""Writing files atomically: a reader sees the old file or the new one, never half of one.

Everything numpyvae writes (checkpoints, metrics, figures, downloads, IDX files) goes into a
temporary file in the target's folder first, is flushed to disk, and is then renamed over the
target with os.replace, which is atomic within one folder.

The commands check an output path before they start working (:func:`check_file_target`,
:func:`check_folder_target`), so that a path that cannot be written is one clear message at
the start, not an error after the work.
"""
import os
import uuid
from contextlib import contextmanager
from pathlib import Path


def temporary_sibling(path):
    """A fresh, unused name next to ``path``: ``.<name>.<random>.part`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")


def flush_to_disk(f):
    """Push an open file's data to the disk, so that a crash after the rename cannot leave an
    empty file under the final name."""
    f.flush()
    os.fsync(f.fileno())


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; when the block ends normally, move it there.

    If the block raises, the temporary file is removed and ``path`` is untouched.
    ``mode`` is "wb" or "w" (text). An OSError of the writing (a full disk, a folder that is
    gone) names ``path``, not the temporary file.
    """
    tmp = temporary_sibling(path)
    try:
        with open(tmp, mode.replace("w", "x")) as f:
            yield f
            flush_to_disk(f)
        os.replace(tmp, path)
    except BaseException as err:
        if tmp.exists():
            tmp.unlink()
        if isinstance(err, OSError) and err.errno is not None \
                and err.filename in (None, os.fspath(tmp)):
            raise OSError(err.errno, err.strerror, os.fspath(path)) from err
        raise


def write_atomically(path, data):
    """Write ``data`` (bytes) to ``path`` through :func:`atomic_write`."""
    with atomic_write(path) as f:
        f.write(data)


def check_file_target(name, path):
    """Check, before any work, that a file can be written at ``path``.

    ``path`` may be new or a regular file (which will be replaced); its folder must exist
    and be writable. Nothing is created.

    Parameters
    ----------
    name : str
        What ``path`` is to the user, such as ``"--out"``; the message starts with it.
    path : str or os.PathLike

    Raises
    ------
    ValueError
        Naming ``name``, ``path`` and what is wrong with it.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} {path}: expected the name of a file, got a folder")
    if path.exists() and not path.is_file():
        raise ValueError(f"{name} {path}: expected the name of a regular file, got a "
                         f"device, pipe or socket")
    problem = _folder_problem(path.parent, create=False)
    if problem:
        raise ValueError(f"{name} {path}: cannot write the file: {problem}")


def check_folder_target(name, path):
    """Check, before any work, that files can be written into the folder ``path``.

    ``path`` may be an existing folder, or a new one that can be created (with any missing
    parents). Nothing is created.

    Parameters
    ----------
    name : str
        What ``path`` is to the user, such as ``"--out"``; the message starts with it.
    path : str or os.PathLike

    Raises
    ------
    ValueError
        Naming ``name``, ``path`` and what is wrong with it.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path}: expected a folder, got an existing file")
    problem = _folder_problem(path, create=True)
    if problem:
        raise ValueError(f"{name} {path}: cannot create the folder: {problem}")


def _folder_problem(folder, create):
    """Why files cannot be written into ``folder`` (created first when ``create``), or None."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if existing != folder and not create:
        return f"the folder {folder} does not exist"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no permission to write in {existing}"
    return None


def _nearest_existing(path):
    """``path`` itself if it exists, else its closest parent that does."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")
