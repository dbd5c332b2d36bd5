"""The VAE: encoder, reparameterization, KL, decoder and the negative ELBO, eqs. (2)-(4).

Forward, for a batch x of B examples and noise v of r draws per example:

    mu, sigma = encoder(x)                      eqs. (5)-(6)
    z_j       = mu + sigma * v_j                eq. (9)
    P(x|z_j)  = decoder(z_j)
    L_i       = 1/r sum_j -log P(x_i|z_ij) + beta KL_i      eq. (2)
    L         = 1/B sum_i L_i                   eq. (3)

and the backward runs the same steps in reverse, each with the equation it implements.
"""
import numpy as np

from . import validate
from .activations import ACTIVATIONS, get_activation
from .decoder import Decoder
from .encoder import GaussianEncoder
from .kl import kl_backward, kl_forward
from .likelihoods import LIKELIHOODS, make_likelihood
from .engine.flat import FlatArrays
from .reparam import reparameterize_backward, reparameterize_forward
from .sigma import SIGMA_PARAMETERIZATIONS

DTYPES = {"float32": np.float32, "float64": np.float64}


class VAE:
    """A variational autoencoder with a Gaussian encoder and a choice of decoder.

    Parameters
    ----------
    x_dim : int
        Size D of an observation (784 for MNIST).
    z_dim : int
        Size K of the latent code.
    hidden : int or sequence of int
        Hidden layer sizes of the encoder; the decoder uses them in reverse order.
    likelihood : {"bernoulli", "gaussian", "gaussian-fixed"}
    activation : str
        Activation of every hidden layer; see :data:`numpyvae.activations.ACTIVATIONS`.
    dtype : numpy.float32 or numpy.float64
        float32 to train, float64 to check gradients. Every array of the model has it.
    seed : int
        Seed of the initial weights, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    sigma_parameterization : {"log_var", "softplus"}
        How the encoder's second head becomes sigma; "log_var" means s = log sigma^2.
    sigma_x : float
        The fixed sigma_x of ``gaussian-fixed``.
    sigma_x_floor : float
        The floor of the learned sigma_x of ``gaussian`` (see ``likelihoods/gaussian.py``).
    mean_activation : str
        Activation on the Gaussian decoder's mean head ("identity" or e.g. "sigmoid").
    """

    def __init__(self, x_dim, z_dim, hidden=(400,), likelihood="bernoulli", activation="relu",
                 dtype=np.float32, seed=0, *, sigma_parameterization="log_var", sigma_x=1.0,
                 sigma_x_floor=1e-2, mean_activation="identity"):
        x_dim = validate.positive_int("x_dim", x_dim)
        z_dim = validate.positive_int("z_dim", z_dim)
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            hidden = tuple(validate.positive_int("hidden sizes", h) for h in hidden)
        except TypeError:
            raise ValueError(f"hidden must be a sequence of layer sizes; got {hidden!r}") from None
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {list(LIKELIHOODS)}; got {likelihood!r}")
        get_activation(activation)
        if sigma_parameterization not in SIGMA_PARAMETERIZATIONS:
            raise ValueError(f"sigma_parameterization must be one of "
                             f"{list(SIGMA_PARAMETERIZATIONS)}; got {sigma_parameterization!r}")
        if mean_activation not in ACTIVATIONS:
            raise ValueError(f"mean_activation must be one of {sorted(ACTIVATIONS)}; "
                             f"got {mean_activation!r}")
        if likelihood == "gaussian" and not sigma_x_floor > 0:
            raise ValueError(f"sigma_x_floor must be > 0 for the gaussian likelihood "
                             f"(without it sigma_x can collapse to 0); got {sigma_x_floor!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {dtype}")
        seed = validate.positive_int("seed", seed, minimum=0)

        self.x_dim, self.z_dim, self.hidden = x_dim, z_dim, hidden
        self.dtype = dtype
        self.config = {
            "x_dim": x_dim, "z_dim": z_dim, "hidden": list(hidden), "likelihood": likelihood,
            "activation": activation, "dtype": dtype.name, "seed": seed,
            "sigma_parameterization": sigma_parameterization, "sigma_x": float(sigma_x),
            "sigma_x_floor": float(sigma_x_floor), "mean_activation": mean_activation,
        }
        self.likelihood = make_likelihood(likelihood, sigma_x=sigma_x,
                                          sigma_x_floor=sigma_x_floor,
                                          mean_activation=mean_activation)

        shapes = self._layer_shapes(sigma_parameterization)
        self._params = FlatArrays(shapes, dtype)
        self._grads = FlatArrays(shapes, dtype)
        self._initialize(seed)

        self.encoder = GaussianEncoder(len(hidden), activation, sigma_parameterization,
                                       self._params, self._grads)
        self.decoder = Decoder(len(hidden), activation, self.likelihood,
                               self._params, self._grads)

    @classmethod
    def from_config(cls, config):
        """Build a model from its ``config`` dict (as saved in a checkpoint)."""
        config = dict(config)
        config["dtype"] = DTYPES.get(config.get("dtype"), config.get("dtype"))
        return cls(**config)

    # ---------------------------------------------------------------- parameters

    def _layer_shapes(self, sigma_parameterization):
        """Name -> shape of every parameter, encoder first, in the order of the forward pass."""
        shapes = {}

        def dense(name, n_in, n_out):
            shapes[name + ".W"] = (n_in, n_out)
            shapes[name + ".b"] = (n_out,)

        sizes = (self.x_dim,) + self.hidden
        for i in range(len(self.hidden)):
            dense(f"enc.h{i + 1}", sizes[i], sizes[i + 1])
        dense("enc.mu", sizes[-1], self.z_dim)
        dense("enc." + sigma_parameterization, sizes[-1], self.z_dim)
        sizes = (self.z_dim,) + self.hidden[::-1]
        for i in range(len(self.hidden)):
            dense(f"dec.h{i + 1}", sizes[i], sizes[i + 1])
        for head in self.likelihood.heads:
            dense("dec." + head, sizes[-1], self.x_dim)
        return shapes

    def _initialize(self, seed):
        # The default of PyTorch's nn.Linear, so that the two start from the same distribution.
        rng = np.random.default_rng(seed)
        for name, arr in self._params.items():
            fan_in = self._params[name[:-2] + ".W"].shape[0]
            bound = 1.0 / np.sqrt(fan_in)
            arr[...] = rng.uniform(-bound, bound, size=arr.shape)

    def parameters(self):
        """Name -> parameter array. These are the live arrays: editing one edits the model."""
        return dict(self._params.arrays)

    def gradients(self):
        """Name -> gradient array of the last backward pass (live; overwritten by the next)."""
        return dict(self._grads.arrays)

    def set_parameters(self, params):
        """Copy values into the model's parameters; names and shapes must match exactly."""
        self._params.copy_from(params, what="params")

    @property
    def flat_parameters(self):
        """All parameters as one 1-D array (a view: the optimizer updates it in place)."""
        return self._params.flat

    @property
    def flat_gradients(self):
        """All gradients as one 1-D array, laid out like :attr:`flat_parameters`."""
        return self._grads.flat

    @property
    def smooth(self):
        """Whether every function in the model is smooth (no relu kink)."""
        return ACTIVATIONS[self.config["activation"]].smooth and \
            ACTIVATIONS[self.config["mean_activation"]].smooth

    def equations_for(self, name):
        """The equations of docs/derivation.md on the backward path to parameter ``name``."""
        act_eq = {"identity": 28, "relu": 29, "leaky_relu": 30, "elu": 31, "tanh": 32,
                  "sigmoid": 33, "softplus": 34}
        c = self.config
        layer, part = name.rsplit(".", 1)
        dense = [25 if part == "W" else 26]
        hidden = [24, 27, act_eq[c["activation"]]] if self.hidden else []
        decoder_out = {"bernoulli": [16, 18], "gaussian": [19, 20, 21, 22],
                       "gaussian-fixed": [19, 20]}[c["likelihood"]]
        if c["likelihood"] != "bernoulli" and c["mean_activation"] != "identity":
            decoder_out += [27, act_eq[c["mean_activation"]]]
        sigma = {"log_var": [6, 7], "softplus": [8]}[c["sigma_parameterization"]]
        path = [4] + decoder_out
        if layer.startswith("dec.h"):
            path += hidden
        elif layer.startswith("enc."):
            path += [24, 9] + hidden                       # back through the decoder to z
            if layer != "enc." + c["sigma_parameterization"]:
                path += [10, 13]                           # mu's share
            if layer != "enc.mu":
                path += [11, 14] + sigma                   # sigma's share
            if layer.startswith("enc.h"):
                path += hidden
        return tuple(sorted(set(path + dense)))

    # ---------------------------------------------------------------- checks

    def check_x(self, x, name="x"):
        """x as a checked array of the model's dtype: shape (B, x_dim), finite, in range."""
        x = validate.float_array(name, x, ("B", self.x_dim), self.dtype)
        self.likelihood.check_data(x, name)
        return x

    def _check_v(self, v, batch_size):
        return validate.float_array("v", v, ("r", batch_size, self.z_dim), self.dtype)

    # ---------------------------------------------------------------- inference

    def encode(self, x):
        """The latent factors of x: mu and sigma of q(z|x), each (B, z_dim)."""
        x = self.check_x(x)
        return self.encoder.forward(x)

    def decode(self, z):
        """Parameters of P(x|z) for z of shape (B, z_dim) or (r, B, z_dim).

        Returns a dict: ``"mean"`` holds the Bernoulli probabilities or the Gaussian mean, and
        ``"sigma"`` holds sigma_x for the Gaussian likelihoods; Bernoulli adds ``"logits"``.
        Each has shape z.shape[:-1] + (x_dim,).
        """
        z = np.asarray(z)
        if z.ndim not in (2, 3):
            raise ValueError(f"z must have shape (B, {self.z_dim}) or (r, B, {self.z_dim}); "
                             f"got {z.shape}")
        shape = ("B", self.z_dim) if z.ndim == 2 else ("r", "B", self.z_dim)
        z = validate.float_array("z", z, shape, self.dtype)
        return _public(self.decoder.forward(z))

    def sample(self, n, rng, return_decoded=False):
        """n draws x ~ P(x|z) with z ~ N(0, I): generation, as at the end of the notes.

        Parameters
        ----------
        n : int >= 1
        rng : numpy.random.Generator
        return_decoded : bool
            Also return the decoder's output for the drawn z: a dict with ``"z"``, ``"mean"``
            (the decoder means, the usual picture of a VAE sample) and, for Gaussian
            likelihoods, ``"sigma"``.

        Returns
        -------
        x : ndarray, shape (n, x_dim)
        decoded : dict, only when ``return_decoded`` is True
        """
        n = validate.positive_int("n", n)
        validate.generator("rng", rng)
        z = rng.standard_normal((n, self.z_dim), dtype=self.dtype)          # eq. (35)
        decoded = self.decoder.forward(z)
        x = self.likelihood.sample(decoded, rng)                            # eq. (35)
        if return_decoded:
            return x, dict(_public(decoded), z=z)
        return x

    # ---------------------------------------------------------------- objective

    def _forward(self, x, v, beta, x_input=None):
        """The loss, the negative of the ELBO of eq. (1) estimated as in eq. (2), and
        everything the backward needs.

        ``x_input`` (denoising): the encoder sees it, while x stays the reconstruction target.
        """
        mu, sigma = self.encoder.forward(x if x_input is None else x_input)   # eqs. (5)-(6)
        z, reparam_cache = reparameterize_forward(mu, sigma, v)     # eq. (9)
        decoded = self.decoder.forward(z, mean=False)               # P(x|z_j): its parameters
        nll = self.likelihood.nll(x, decoded)                       # (r, B): eqs. (16)/(19)
        kl, kl_cache = kl_forward(mu, sigma)                        # (B,): eq. (12)
        recon = nll.mean(axis=0)                                    # eq. (2): 1/r sum_j
        per_example = recon + beta * kl                             # eq. (2)
        loss = float(per_example.mean())                            # eq. (3)
        state = (x, decoded, reparam_cache, kl_cache, nll.shape)
        return loss, {"recon": recon, "kl": kl, "loss": per_example}, state

    def _backward(self, beta, state):
        """Fill the gradient buffer from the state left by :meth:`_forward`."""
        x, decoded, reparam_cache, kl_cache, (r, B) = state
        dnll = np.full((r, B), 1.0 / (r * B), dtype=self.dtype)    # eq. (4)
        dkl = np.full(B, beta / B, dtype=self.dtype)                # eq. (4)
        dheads = self.likelihood.nll_backward(dnll, x, decoded)     # eqs. (18)/(20)-(22)
        dz = self.decoder.backward(dheads)                          # eqs. (23)-(34)
        dmu, dsigma = reparameterize_backward(dz, reparam_cache)    # eqs. (10)-(11)
        dmu_kl, dsigma_kl = kl_backward(dkl, kl_cache)              # eqs. (13)-(14)
        dmu += dmu_kl                                               # mu feeds z and the KL
        dsigma += dsigma_kl                                         # sigma feeds z and the KL
        self.encoder.backward(dmu, dsigma)                          # eqs. (7)/(8), (23)-(34)

    def _check_inputs(self, x, v, beta, x_input):
        x = self.check_x(x)
        v = self._check_v(v, x.shape[0])
        beta = validate.nonnegative_float("beta", beta)
        if x_input is not None:
            # Any finite input will do for the encoder: no range check, unlike the target x.
            x_input = validate.float_array("x_input", x_input, ("B", self.x_dim), self.dtype)
            if x_input.shape != x.shape:
                raise ValueError(f"x_input must have the shape of x, {x.shape}; "
                                 f"got {x_input.shape}")
        return x, v, beta, x_input

    def elbo_terms(self, x, v, beta=1.0, x_input=None):
        """The negative ELBO of each example and its parts, in nats.

        Returns a dict of arrays of shape (B,): ``"recon"`` = 1/r sum_j -log P(x|z_j),
        ``"kl"`` = KL(q(z|x) || p(z)), and ``"loss"`` = recon + beta * kl, eq. (2).
        """
        return self._forward(*self._check_inputs(x, v, beta, x_input))[1]

    def loss(self, x, v, beta=1.0, x_input=None):
        """The batch mean of the negative ELBO, eq. (3), as a float."""
        return self._forward(*self._check_inputs(x, v, beta, x_input))[0]

    def compute_gradients(self, x, v, beta=1.0, x_input=None, check=True, return_parts=False):
        """The loss; its gradients are left in :meth:`gradients` and :attr:`flat_gradients`.

        The training loop uses this: nothing is copied. ``check=False`` skips the argument
        checks, for data that was checked once up front. With ``return_parts`` it returns
        ``(loss, recon, kl)``: the batch means of the two terms as well.
        """
        if check:
            x, v, beta, x_input = self._check_inputs(x, v, beta, x_input)
        loss, terms, state = self._forward(x, v, beta, x_input)
        self._backward(beta, state)
        if return_parts:
            return loss, float(terms["recon"].mean()), float(terms["kl"].mean())
        return loss

    def loss_and_grad(self, x, v, beta=1.0, x_input=None):
        """The batch mean negative ELBO and its gradient with respect to every parameter.

        Parameters
        ----------
        x : ndarray, shape (B, x_dim)
        v : ndarray, shape (r, B, z_dim)
            Standard normal noise, r draws per example.
        beta : float >= 0
            Weight of the KL term.
        x_input : ndarray, shape (B, x_dim), optional
            What the encoder sees, when it differs from the target x (denoising).

        Returns
        -------
        loss : float
        grads : dict of str -> ndarray
            Same keys and shapes as :meth:`parameters`; fresh arrays, safe to keep.
        """
        loss = self.compute_gradients(x, v, beta, x_input)
        return loss, {name: g.copy() for name, g in self._grads.items()}

    def __repr__(self):
        c = self.config
        return (f"VAE(x_dim={c['x_dim']}, z_dim={c['z_dim']}, hidden={tuple(c['hidden'])}, "
                f"likelihood={c['likelihood']!r}, activation={c['activation']!r}, "
                f"dtype=numpy.{c['dtype']})")


def _public(decoded):
    """The decoder's output without the caches kept for the backward pass."""
    return {k: v for k, v in decoded.items() if not k.startswith("_")}
