"""Checkpoints: one .npz file of arrays, with the JSON metadata stored inside it as bytes.

- No pickle, ever: the file is read with ``allow_pickle=False``, and a file holding pickled
  objects is refused (unpickling can run arbitrary code).
- One file, written atomically: the arrays and the metadata that describes them cannot get
  out of step, and an interrupted write leaves the previous checkpoint in place.
"""
import json
import zipfile

import numpy as np

from ..files import atomic_write
from ..vae import VAE

FORMAT = "numpyvae-checkpoint/1"
META_KEY = "meta.json"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: missing, foreign, damaged or holding pickles."""


def save_checkpoint(path, model, optimizer_state=None, meta=None):
    """Write the model's parameters, the optimizer's state and ``meta`` to ``path``.

    Parameters
    ----------
    path : str or Path, ending in .npz
    model : VAE
    optimizer_state : dict of str -> ndarray or number, optional
        As returned by an optimizer's ``state_dict()``.
    meta : dict, optional
        JSON-serializable information (the training config, progress, ...).
    """
    arrays = {"params/" + name: arr for name, arr in model.parameters().items()}
    for key, value in (optimizer_state or {}).items():
        arrays["optim/" + key] = np.asarray(value)
    document = {"format": FORMAT, "model": model.config, "meta": meta or {}}
    arrays[META_KEY] = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    dict with ``"model"`` (a VAE holding the saved parameters), ``"optimizer_state"`` (dict)
    and ``"meta"`` (dict).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except ValueError as err:
        if "Object arrays" in str(err):
            raise CheckpointError(
                f"{path} holds pickled Python objects; numpyvae never writes those and "
                f"refuses to load them, since unpickling can run arbitrary code") from None
        if "pickled data" in str(err):
            raise CheckpointError(
                f"{path} is not a readable .npz file: numpy could only read it as a pickle, "
                f"which numpyvae refuses (unpickling can run arbitrary code)") from None
        raise CheckpointError(f"{path} is not a readable .npz file: {err}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path} is not a readable .npz file: {err}") from None

    if META_KEY not in arrays:
        raise CheckpointError(f"{path} is not a numpyvae checkpoint (it has no {META_KEY})")
    try:
        document = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: its {META_KEY} is not valid JSON ({err})") from None
    if document.get("format") != FORMAT:
        raise CheckpointError(f"{path} has format {document.get('format')!r}; "
                              f"this numpyvae reads {FORMAT!r}")

    model = VAE.from_config(document["model"])
    params = {k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")}
    try:
        model.set_parameters(params)
    except ValueError as err:
        raise CheckpointError(f"{path} does not match its own model config: {err}") from None
    optimizer_state = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
    return {"model": model, "optimizer_state": optimizer_state, "meta": document["meta"]}
