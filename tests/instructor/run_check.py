"""A run's test numbers recomputed from its checkpoint alone: the autograder's check of task
'trained-model' (not in the student copy).

The run folder a student hands in reports its last epoch's test_loss, test_recon and test_kl
in metrics.jsonl, a text file anyone can edit. Its checkpoint.npz holds the parameters the
numbers came from. This module recomputes the numbers from those parameters, with nothing of
numpyvae: the package under test is the student's and could have been changed, so the
checkpoint is read with numpy (``allow_pickle=False``) and json, the forward pass is written out
again in plain numpy, and the test images are read from this project's own copy of
numpyvae/data/mnist-mini.npz (in the autograder, the reference's), not through the package.

- KL, eq. (12), in closed form: exact, no noise.
- Reconstruction, eq. (16), and negative ELBO, eq. (2): Monte Carlo means over ``DRAWS``
  noise draws per test image, eq. (9), from a fixed seed (the same checkpoint always gives the
  same numbers). Each comes with its standard error, and with the spread of the estimate the
  run itself reports, which takes one draw per image. With 16 draws, for a model trained with
  the set command, the standard error is about 0.03 nats and one draw's spread about 0.12.

Everything is computed in float64 from the float32 parameters and images; the run computed in
float32, which moves its KL by about 2e-7 nats. Only what the set configuration uses is
written out: the Bernoulli decoder, s = log sigma^2 for the encoder's sigma, and a few
activations; anything else is refused by name (extend ``ACTIVATIONS`` or the forward pass
before setting such a configuration; tests/instructor/test_run_check.py checks that the set
one is recomputable).
"""
import json
import zipfile
from collections import namedtuple
from functools import lru_cache
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MNIST_MINI = PROJECT_ROOT / "numpyvae" / "data" / "mnist-mini.npz"
FORMAT = "numpyvae-checkpoint/1"
META_KEY = "meta.json"
DRAWS = 16        # noise draws per test image for the Monte Carlo means
SEED = 2718       # of those draws: fixed, so that a grade can be reproduced


def _softplus(a):
    """log(1 + exp(a)) without overflow: max(a, 0) + log(1 + exp(-|a|)), eq. (17)."""
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


# The hidden layers' activations this check knows, written out (no constants to keep in step).
ACTIVATIONS = {
    "relu": lambda a: np.maximum(a, 0),
    "tanh": np.tanh,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "softplus": _softplus,
}
LIKELIHOODS = ("bernoulli",)
SIGMA_PARAMETERIZATIONS = ("log_var",)
DATASETS = {("mnist-mini", "none")}     # (dataset, binarize) whose test images are read here

Estimate = namedtuple("Estimate", ["value", "mc_stderr", "one_draw_sd", "draws"])
Estimate.__doc__ = """A test number recomputed from a checkpoint, in nats per test image.

value : the KL exactly, or a Monte Carlo mean over ``draws`` noise draws per image
mc_stderr : the standard error of ``value`` (0 for the KL)
one_draw_sd : the standard deviation of the same mean taken with one draw per image, as a
    run's metrics.jsonl reports it (0 for the KL)
draws : the noise draws per image (0: no noise)
"""


class CheckpointError(ValueError):
    """A checkpoint that cannot be recomputed: unreadable, foreign, inconsistent (the student's
    to fix; the message says what is wrong)."""


class Unsupported(CheckpointError):
    """A well-formed checkpoint of a configuration this module does not write out."""


def read_checkpoint(path):
    """The parameters, model configuration and metadata of a numpyvae checkpoint file.

    Parameters
    ----------
    path : str or Path, a .npz file written by numpyvae's save_checkpoint

    Returns
    -------
    dict with ``"params"`` (name -> ndarray), ``"model"`` (the model's config dict) and
    ``"meta"`` (the run's metadata: ``"config"``, ``"position"``).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:                   # closed whatever numpy makes of it
            loaded = np.load(f, allow_pickle=False)
            if not hasattr(loaded, "files"):          # an .npy file: one array, no archive
                raise CheckpointError(f"{path} is a single array, not an .npz archive")
            with loaded as npz:
                arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise CheckpointError(f"there is no checkpoint {path}") from None
    except ValueError as err:
        if isinstance(err, CheckpointError):
            raise
        if "pickle" in str(err) or "Object arrays" in str(err):   # refused, not unpickled
            raise CheckpointError(f"{path} holds pickled Python objects, which numpyvae never "
                                  f"writes and which are never unpickled here") from None
        raise CheckpointError(f"{path} is not a readable .npz file: {err}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path} is not a readable .npz file: {err}") from None
    if META_KEY not in arrays:
        raise CheckpointError(f"{path} is not a numpyvae checkpoint: it has no {META_KEY}")
    try:
        document = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: its {META_KEY} is not valid JSON ({err})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise CheckpointError(f"{path} has format {found!r}, not {FORMAT!r}")
    model, meta = document.get("model"), document.get("meta")
    if not isinstance(model, dict) or not isinstance(meta, dict) \
            or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{path}: its {META_KEY} lacks the model's config or the run's")
    shared = sorted(set(model) & set(meta["config"]))
    differ = [f"{key} = {model[key]!r} in the model, {meta['config'][key]!r} in the run's "
              f"configuration" for key in shared if model[key] != meta["config"][key]]
    if differ:
        raise CheckpointError(f"{path}: the model it holds is not the one its own run "
                              f"configuration describes: " + "; ".join(differ))
    params = {key[len("params/"):]: value for key, value in arrays.items()
              if key.startswith("params/")}
    return {"params": params, "model": model, "meta": meta}


def parameter_shapes(model):
    """Name -> shape of every parameter of a Bernoulli VAE with s = log sigma^2."""
    shapes = {}

    def dense(name, n_in, n_out):
        shapes[name + ".W"], shapes[name + ".b"] = (n_in, n_out), (n_out,)

    hidden = list(model["hidden"])
    sizes = [model["x_dim"]] + hidden
    for i in range(len(hidden)):
        dense(f"enc.h{i + 1}", sizes[i], sizes[i + 1])
    dense("enc.mu", sizes[-1], model["z_dim"])
    dense("enc.log_var", sizes[-1], model["z_dim"])
    sizes = [model["z_dim"]] + hidden[::-1]
    for i in range(len(hidden)):
        dense(f"dec.h{i + 1}", sizes[i], sizes[i + 1])
    dense("dec.logits", sizes[-1], model["x_dim"])
    return shapes


def check_model(model, params):
    """Raise Unsupported for a model this module does not write out, CheckpointError for
    parameters that do not fit it; return the parameters as float64 arrays."""
    for key, known in (("likelihood", LIKELIHOODS), ("activation", tuple(ACTIVATIONS)),
                       ("sigma_parameterization", SIGMA_PARAMETERIZATIONS)):
        if model.get(key) not in known:
            raise Unsupported(f"the checkpoint's model has {key} = {model.get(key)!r}; the "
                              f"autograder's recomputation (tests/instructor/run_check.py) "
                              f"writes out only {', '.join(map(repr, known))}")
    try:
        shapes = parameter_shapes(model)
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"the checkpoint's model config is incomplete ({err!r})") from None
    missing, extra = sorted(set(shapes) - set(params)), sorted(set(params) - set(shapes))
    if missing or extra:
        raise CheckpointError(f"the checkpoint's parameters do not fit its model: missing "
                              f"{missing}, unexpected {extra}")
    out = {}
    for name, shape in shapes.items():
        value = params[name]
        if value.dtype.kind != "f" or value.shape != shape:
            raise CheckpointError(f"parameter {name} is {value.dtype} of shape {value.shape}; "
                                  f"its model needs floats of shape {shape}")
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"parameter {name} holds non-finite values")
        out[name] = value.astype(np.float64)
    return out


@lru_cache(maxsize=2)
def _mnist_mini_test(path):
    with np.load(path, allow_pickle=False) as npz:
        images = npz["test_images"]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{path}: test_images is {images.dtype} of shape {images.shape}, "
                         f"expected uint8 (N, 28, 28)")
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)   # pixel / 255
    x.flags.writeable = False
    return x


def load_test_images(config, path=MNIST_MINI):
    """The test images of a run's dataset as the run saw them: float32 rows, pixel / 255.

    Parameters
    ----------
    config : dict, the run's configuration (its ``dataset`` and ``binarize``)
    path : Path, the bundled subset (this project's, never the package under test's)

    Returns
    -------
    ndarray of float32, shape (N, 784), read-only
    """
    key = (config.get("dataset"), config.get("binarize", "none"))
    if key not in DATASETS:
        raise Unsupported(f"the run's data is dataset = {key[0]!r}, binarize = {key[1]!r}; "
                          f"the autograder's recomputation reads only "
                          f"{', '.join(f'{d} ({b})' for d, b in sorted(DATASETS))}")
    return _mnist_mini_test(Path(path))


def encode(params, model, x):
    """mu and s = log sigma^2 of q(z|x), eqs. (5)-(6): each (N, K) for x of shape (N, D)."""
    act = ACTIVATIONS[model["activation"]]
    h = x
    for i in range(len(model["hidden"])):
        h = act(h @ params[f"enc.h{i + 1}.W"] + params[f"enc.h{i + 1}.b"])
    return (h @ params["enc.mu.W"] + params["enc.mu.b"],
            h @ params["enc.log_var.W"] + params["enc.log_var.b"])


def decode_logits(params, model, z):
    """The Bernoulli decoder's logits a, (N, D), for z of shape (N, K)."""
    act = ACTIVATIONS[model["activation"]]
    h = z
    for i in range(len(model["hidden"])):
        h = act(h @ params[f"dec.h{i + 1}.W"] + params[f"dec.h{i + 1}.b"])
    return h @ params["dec.logits.W"] + params["dec.logits.b"]


def elbo_terms(params, model, x, v):
    """The KL of each example and its reconstruction for each noise draw.

    Parameters
    ----------
    params : dict of float64 arrays (from :func:`check_model`)
    model : dict, the checkpoint's model config
    x : ndarray, shape (N, D), values in [0, 1]
    v : ndarray, shape (R, N, K), standard normal noise

    Returns
    -------
    kl : ndarray of float64, shape (N,), eq. (12)
    nll : ndarray of float64, shape (R, N): -log P(x | z_r), eq. (16), z_r = mu + sigma v_r
    """
    x = np.asarray(x, dtype=np.float64)
    mu, s = encode(params, model, x)
    kl = 0.5 * np.sum(mu * mu + np.exp(s) - 1 - s, axis=1)      # eq. (12), sigma^2 = e^s
    sigma = np.exp(s / 2)                                         # eq. (6)
    nll = np.empty((len(v), len(x)))
    for r in range(len(v)):                                       # one draw at a time: memory
        a = decode_logits(params, model, mu + sigma * v[r])       # eq. (9)
        nll[r] = np.sum(_softplus(a) - x * a, axis=1)             # eq. (16), softplus (17)
    return kl, nll


def estimates(kl, nll):
    """The three test numbers and their errors from :func:`elbo_terms`'s output.

    With R draws per image and s_i^2 the variance of image i's nll over its draws
    (ddof = 1), the mean over the N images and R draws has standard error
    sqrt(mean_i s_i^2 / (N R)), and the same mean with one draw per image (a run's) has
    standard deviation sqrt(mean_i s_i^2 / N). The KL adds no noise, so the negative ELBO,
    recon + KL, eq. (2), has the reconstruction's errors.
    """
    draws, n = nll.shape
    if draws < 2:
        raise ValueError(f"need at least 2 draws per image to estimate the noise; got {draws}")
    mean_var = float(np.mean(np.var(nll, axis=0, ddof=1)))
    one_draw_sd = float(np.sqrt(mean_var / n))
    mc_stderr = one_draw_sd / float(np.sqrt(draws))
    recon, kl_mean = float(nll.mean()), float(kl.mean())
    return {"test_kl": Estimate(kl_mean, 0.0, 0.0, 0),
            "test_recon": Estimate(recon, mc_stderr, one_draw_sd, draws),
            "test_loss": Estimate(recon + kl_mean, mc_stderr, one_draw_sd, draws)}


def recompute(checkpoint, x, draws=DRAWS, rng=None):
    """The test numbers a checkpoint's parameters give on the test images x.

    Parameters
    ----------
    checkpoint : dict from :func:`read_checkpoint`
    x : ndarray, shape (N, D), the test images (:func:`load_test_images`)
    draws : int >= 2, noise draws per image
    rng : numpy.random.Generator, optional (default: seeded with ``SEED``)

    Returns
    -------
    dict ``test_kl``, ``test_recon``, ``test_loss`` -> :class:`Estimate`
    """
    model = checkpoint["model"]
    params = check_model(model, checkpoint["params"])
    if x.shape[1] != model["x_dim"]:
        raise CheckpointError(f"the checkpoint's model takes x_dim = {model['x_dim']}; the "
                              f"test images have {x.shape[1]} pixels")
    rng = np.random.default_rng(SEED) if rng is None else rng
    v = rng.standard_normal((draws, len(x), model["z_dim"]))
    return estimates(*elbo_terms(params, model, x, v))
