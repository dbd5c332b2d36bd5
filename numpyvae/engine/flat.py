"""All of a model's parameters in one flat array, each named array a view into it.

Why: an optimizer step is then a handful of whole-vector operations instead of a loop over
arrays, and a checkpoint is one array. The layers never see this: each gets ordinary
(D_in, D_out) and (D_out,) arrays, which happen to be views.
"""
import numpy as np

# Start each array on a 64-byte boundary, so SIMD loads and BLAS see aligned data.
_ALIGN_BYTES = 64


class FlatArrays:
    """Named arrays that share one contiguous 1-D buffer.

    Parameters
    ----------
    shapes : dict of str -> tuple
        The name and shape of each array, in order.
    dtype : numpy float dtype

    Attributes
    ----------
    flat : ndarray, shape (total,)
        The buffer. Writing to it writes to the named arrays, and the other way round.
    arrays : dict of str -> ndarray
        The named views into ``flat``.
    """

    def __init__(self, shapes, dtype):
        dtype = np.dtype(dtype)
        step = max(1, _ALIGN_BYTES // dtype.itemsize)
        offsets, end = {}, 0
        for name, shape in shapes.items():
            size = int(np.prod(shape, dtype=np.int64))
            offsets[name] = (end, size, tuple(shape))
            end += -(-size // step) * step          # round up to the alignment step
        raw = np.zeros(end + step, dtype=dtype)
        skip = (-raw.ctypes.data % _ALIGN_BYTES) // dtype.itemsize
        self._storage = raw[skip:skip + end]
        self.arrays = {name: self._storage[start:start + size].reshape(shape)
                       for name, (start, size, shape) in offsets.items()}
        # The padding between arrays stays zero; `flat` covers it so the whole buffer can be
        # updated with one operation. Zero gradients there keep it zero under every optimizer.
        self.flat = self._storage

    def __getitem__(self, name):
        return self.arrays[name]

    def __iter__(self):
        return iter(self.arrays)

    def __len__(self):
        return len(self.arrays)

    def items(self):
        return self.arrays.items()

    def keys(self):
        return self.arrays.keys()

    def copy_from(self, arrays, what="parameters"):
        """Copy values into the named views, checking names and shapes."""
        missing = sorted(set(self.arrays) - set(arrays))
        extra = sorted(set(arrays) - set(self.arrays))
        if missing or extra:
            raise ValueError(
                f"{what} must have exactly the names {sorted(self.arrays)}; "
                f"missing {missing}, unexpected {extra}")
        for name, target in self.arrays.items():
            value = np.asarray(arrays[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"{what}[{name!r}] must have shape {target.shape}; got {value.shape}")
            target[...] = value
