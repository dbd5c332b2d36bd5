"""The IDX format of the MNIST files: read and write, raw or gzip-compressed.

An IDX file is a 4-byte magic number, one 4-byte size per dimension, then the data, all
big-endian (http://yann.lecun.com/exdb/mnist/, "file formats"):

    bytes 0-1   zero
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                           0x0D float32, 0x0E float64
    byte  3     number of dimensions n
    then        n sizes, each a 4-byte unsigned int, then the values in C order.

So the MNIST images start with 0x00000803 (= 2051: uint8, 3-D) and the labels with
0x00000801 (= 2049: uint8, 1-D).
"""
import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from ..files import write_atomically
from .errors import DatasetError

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
TYPE_CODES = {np.dtype(t).newbyteorder("="): code for code, t in IDX_TYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


def is_gzip(path):
    """Whether the file at ``path`` starts with the gzip magic bytes 1f 8b."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_decompressed(path):
    """The content of ``path`` as bytes, decompressed when the file is gzipped.

    Compression is recognised by the file's first bytes, not its name. A damaged gzip stream
    raises :class:`DatasetError` naming the file.
    """
    path = Path(path)
    if not is_gzip(path):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as err:
        raise DatasetError(f"{path} is not a complete gzip file ({err})") from None


def sha256_decompressed(path):
    """SHA-256 (hex) of the decompressed content of ``path``, read in chunks of 1 MB."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
    except (EOFError, OSError, zlib.error) as err:
        raise DatasetError(f"{path} is not a complete gzip file ({err})") from None
    return digest.hexdigest()


def parse_idx(data, source="IDX data"):
    """The array held by the bytes of an IDX file.

    Parameters
    ----------
    data : bytes
        The whole (decompressed) file.
    source : str
        What to call the data in an error message, such as its path.

    Returns
    -------
    ndarray
        Of the shape in the header and the file's type in native byte order; a fresh,
        writable array (an MNIST image file gives uint8 of shape (N, 28, 28)).
    """
    if len(data) < 4:
        raise DatasetError(f"{source} is truncated: {len(data)} bytes, shorter than the "
                           f"4-byte magic number of an IDX file")
    magic = int.from_bytes(data[:4], "big")
    if data[:2] == GZIP_MAGIC:
        raise DatasetError(f"{source} is gzip-compressed; decompress it first "
                           f"(read_idx does this for a file)")
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in IDX_TYPES or ndim < 1:
        raise DatasetError(
            f"{source} has magic number 0x{magic:08X} ({magic}), not that of an IDX file: "
            f"expected two zero bytes, a type code in "
            f"{{{', '.join(f'0x{c:02X}' for c in IDX_TYPES)}}} and a number of dimensions "
            f">= 1 (MNIST images: 0x00000803 = 2051, labels: 0x00000801 = 2049)")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(f"{source} is truncated: the header of a {ndim}-D IDX file takes "
                           f"{header_size} bytes; got {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header_size
    if got != expected:
        problem = "is truncated" if got < expected else "has extra bytes after its data"
        raise DatasetError(f"{source} {problem}: its header declares shape {shape} of "
                           f"{dtype.newbyteorder('=').name}, {expected} bytes of data; "
                           f"the file holds {got}")
    values = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize,
                           offset=header_size)
    # astype copies: a writable array in native byte order, independent of ``data``.
    return values.astype(dtype.newbyteorder("=")).reshape(shape)


def read_idx(path):
    """Read an IDX file, raw or gzipped (recognised by its first bytes, not its name).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray
        The array in the file, e.g. uint8 of shape (60000, 28, 28) for
        ``train-images-idx3-ubyte``.
    """
    return parse_idx(read_decompressed(path), source=str(path))


def format_idx(array):
    """The bytes of the IDX file holding ``array`` (shape and dtype kept).

    Parameters
    ----------
    array : array_like, at least 1-D, of uint8, int8, int16, int32, float32 or float64
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in TYPE_CODES:
        raise ValueError(f"array must have an IDX type (uint8, int8, int16, int32, float32, "
                         f"float64); got dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions for IDX; got {array.ndim}")
    if any(n >= 2 ** 32 for n in array.shape):
        raise ValueError(f"array's sizes must fit in 4 bytes for IDX; got {array.shape}")
    header = bytes([0, 0, TYPE_CODES[native], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    big_endian = np.ascontiguousarray(array, dtype=native.newbyteorder(">"))
    return header + big_endian.tobytes()


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, atomically (a temporary file, then os.replace).

    Parameters
    ----------
    path : str or os.PathLike
    array : array_like, see :func:`format_idx`
    compress : bool, optional
        gzip the file; by default, when ``path`` ends with ``.gz``. The gzip header carries no
        time stamp or name, so the same array always gives the same bytes.
    """
    path = Path(path)
    data = format_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    write_atomically(path, data)

