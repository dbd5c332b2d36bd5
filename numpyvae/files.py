"""Writing files atomically: a reader sees the old file or the new one, never half of one.

Everything numpyvae writes (checkpoints, metrics, figures, downloads, IDX files) goes into a
temporary file in the target's folder first, is flushed to disk, and is then renamed over the
target with os.replace, which is atomic within one folder.
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
    ``mode`` is "wb" or "w" (text).
    """
    tmp = temporary_sibling(path)
    try:
        with open(tmp, mode.replace("w", "x")) as f:
            yield f
            flush_to_disk(f)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def write_atomically(path, data):
    """Write ``data`` (bytes) to ``path`` through :func:`atomic_write`."""
    with atomic_write(path) as f:
        f.write(data)
