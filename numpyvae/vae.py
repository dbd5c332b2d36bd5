"""The VAE: encoder, reparameterization, KL, decoder and the negative ELBO, eqs. (2)-(4).

Forward, for a batch x of B examples and noise v of r draws per example:

    mu, sigma = encoder(x)                      eqs. (5)-(6)
    z_j       = mu + sigma * v_j                eq. (9)
    P(x|z_j)  = decoder(z_j)
    L_i       = 1/r sum_j -log P(x_i|z_ij) + beta KL_i      eq. (2)
    L         = 1/B sum_i L_i                   eq. (3)

and the backward runs the same steps in reverse, each with the equation it implements.

With ``n_classes`` the model is a conditional VAE (Sohn et al.): every call takes the integer
labels y of the examples, the encoder reads [x, onehot(y)], the decoder [z, onehot(y)], and
the loss is the negative of the conditional ELBO, eq. (55) (docs/derivation.md, section 15).

With ``objective="iwae"`` the loss is instead the importance-weighted bound of Burda et al.,
with the r draws of v as its S importance samples (docs/derivation.md, section 11.1):

    log w_ij  = log P(x_i|z_ij) + log p(z_ij) - log q(z_ij|x_i)     eqs. (37)-(38)
    L         = -1/B sum_i log (1/S) sum_j w_ij                     eq. (49)
"""
import numpy as np

from . import validate
from .activations import ACTIVATIONS, get_activation
from .decoder import Decoder
from .encoder import GaussianEncoder
from .evaluate import log_weights
from .iwae import iwae_bound_backward, iwae_bound_forward, log_weights_backward
from .kl import kl_backward, kl_forward
from .likelihoods import DEFAULT_MEAN_ACTIVATION, DEFAULT_SIGMA_X, LIKELIHOODS, make_likelihood
from .engine.flat import FlatArrays
from .reparam import reparameterize_backward, reparameterize_forward
from .sigma import SIGMA_PARAMETERIZATIONS

DTYPES = {"float32": np.float32, "float64": np.float64}
OBJECTIVES = ("elbo", "iwae")


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
    likelihood : {"bernoulli", "gaussian", "gaussian-shared", "gaussian-fixed"}
    activation : str
        Activation of every hidden layer; see :data:`numpyvae.activations.ACTIVATIONS`.
    dtype : numpy.float32 or numpy.float64
        float32 to train, float64 to check gradients. Every array of the model has it.
    seed : int
        Seed of the initial weights, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    sigma_parameterization : {"log_var", "softplus"}
        How the encoder's second head becomes sigma; "log_var" means s = log sigma^2.
    sigma_x : float, optional
        The fixed sigma_x of ``gaussian-fixed`` (default
        :data:`numpyvae.likelihoods.DEFAULT_SIGMA_X`, 0.1; why is in ``likelihoods/gaussian.py``).
    sigma_x_floor : float
        The floor of the learned sigma_x of ``gaussian`` and ``gaussian-shared`` (see
        ``likelihoods/gaussian.py``).
    mean_activation : str, optional
        Activation on the Gaussian decoder's mean head: "sigmoid" (the default for the
        Gaussian likelihoods), "identity" or another of ACTIVATIONS. Unused by Bernoulli,
        whose config records "identity".
    n_classes : int >= 2, optional
        The number C of classes of a conditional VAE: the first hidden layer of each network
        also reads onehot(y), through the parameters ``enc.h1.Wy`` and ``dec.h1.Wy`` of shape
        (C, hidden size), and every call takes the labels y, integers 0..C-1 of shape (B,).
        None (the default) is the unconditional VAE, which takes no labels.
    """

    def __init__(self, x_dim, z_dim, hidden=(400,), likelihood="bernoulli", activation="relu",
                 dtype=np.float32, seed=0, *, sigma_parameterization="log_var", sigma_x=None,
                 sigma_x_floor=1e-2, mean_activation=None, n_classes=None):
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
        if mean_activation is None:
            mean_activation = "identity" if likelihood == "bernoulli" else DEFAULT_MEAN_ACTIVATION
        if sigma_x is None:
            sigma_x = DEFAULT_SIGMA_X
        if mean_activation not in ACTIVATIONS:
            raise ValueError(f"mean_activation must be one of {sorted(ACTIVATIONS)}; "
                             f"got {mean_activation!r}")
        if likelihood in ("gaussian", "gaussian-shared") and not sigma_x_floor > 0:
            raise ValueError(f"sigma_x_floor must be > 0 for the {likelihood} likelihood "
                             f"(without it sigma_x can collapse to 0); got {sigma_x_floor!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {dtype}")
        seed = validate.positive_int("seed", seed, minimum=0)
        if n_classes is not None:
            n_classes = validate.positive_int("n_classes", n_classes, minimum=2)
            if not hidden:
                raise ValueError("n_classes needs at least one hidden layer: the label enters "
                                 "the first hidden layer of each network; got hidden=()")

        self.x_dim, self.z_dim, self.hidden = x_dim, z_dim, hidden
        self.n_classes = n_classes
        self.dtype = dtype
        self.config = {
            "x_dim": x_dim, "z_dim": z_dim, "hidden": list(hidden), "likelihood": likelihood,
            "activation": activation, "dtype": dtype.name, "seed": seed,
            "sigma_parameterization": sigma_parameterization, "sigma_x": float(sigma_x),
            "sigma_x_floor": float(sigma_x_floor), "mean_activation": mean_activation,
            "n_classes": n_classes,
        }
        self.likelihood = make_likelihood(likelihood, sigma_x=sigma_x,
                                          sigma_x_floor=sigma_x_floor,
                                          mean_activation=mean_activation)

        shapes = self._layer_shapes(sigma_parameterization)
        self._params = FlatArrays(shapes, dtype)
        self._grads = FlatArrays(shapes, dtype)
        self._initialize(seed)

        conditional = n_classes is not None
        self.encoder = GaussianEncoder(len(hidden), activation, sigma_parameterization,
                                       self._params, self._grads, conditional)
        self.decoder = Decoder(len(hidden), activation, self.likelihood,
                               self._params, self._grads, conditional)

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
            if self.n_classes is not None and name.endswith(".h1"):
                shapes[name + ".Wy"] = (self.n_classes, n_out)   # eq. (56): onehot(y)'s rows
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
        for name, shape in self.likelihood.parameters.items():
            shapes["dec." + name] = shape
        return shapes

    def _initialize(self, seed):
        # The default of PyTorch's nn.Linear, so that the two start from the same distribution.
        # A conditional first layer is nn.Linear(D_in + C, D_out): W and Wy share its fan-in.
        rng = np.random.default_rng(seed)
        own = {"dec." + name: name for name in self.likelihood.parameters}
        for name, arr in self._params.items():
            if name in own:                                # no fan-in: the likelihood's start
                arr[...] = self.likelihood.initial_value(own[name])
                continue
            layer = name.rsplit(".", 1)[0]
            fan_in = self._params[layer + ".W"].shape[0]
            if layer + ".Wy" in self._params:
                fan_in += self.n_classes
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

    def equations_for(self, name, objective="elbo"):
        """The equations of docs/derivation.md on the backward path to parameter ``name``.

        ``objective`` is that of the loss whose gradient is checked: "elbo" or "iwae".
        """
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {objective!r}")
        if objective == "iwae":
            return _iwae_equations(name, self.equations_for(name))
        act_eq = {"identity": 28, "relu": 29, "leaky_relu": 30, "elu": 31, "tanh": 32,
                  "sigmoid": 33, "softplus": 34}
        c = self.config
        layer, part = name.rsplit(".", 1)
        if name == "dec.sigma_x.t":                        # the shared sigma_x: no layer
            return (4, 19, 21, 22, 47)
        dense = [25 if part == "W" else 26]
        if part == "Wy" or (part == "W" and layer + ".Wy" in self._params):
            dense = [58]                                   # a layer on [x, onehot(y)]
        hidden = [24, 27, act_eq[c["activation"]]] if self.hidden else []
        decoder_out = {"bernoulli": [16, 18], "gaussian": [19, 20, 21, 22],
                       "gaussian-shared": [19, 20], "gaussian-fixed": [19, 20]}[c["likelihood"]]
        if c["likelihood"] != "bernoulli" and c["mean_activation"] != "identity":
            decoder_out += [27, act_eq[c["mean_activation"]]]
        sigma = {"log_var": [6, 7], "softplus": [8]}[c["sigma_parameterization"]]
        path = [4] + decoder_out
        if layer.startswith("dec.h"):
            path += hidden
        elif layer.startswith("enc."):
            path += [24, 9] + hidden                       # back through the decoder to z
            if self.n_classes is not None:
                path += [57]                               # z's block of [z, onehot(y)]
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

    def check_y(self, y, batch_size, name="y"):
        """The labels y of a conditional model, checked; None for an unconditional one.

        A conditional model (built with ``n_classes``) needs y: integers 0..n_classes-1 of
        shape (batch_size,), one per example. An unconditional model takes none.
        """
        if self.n_classes is None:
            if y is not None:
                raise ValueError(f"{name} must be None: this model is unconditional (built "
                                 f"without n_classes) and takes no labels; got "
                                 f"{validate.describe(y)}")
            return None
        if y is None:
            raise ValueError(f"{name} is required: this model is conditional (n_classes = "
                             f"{self.n_classes}) and needs the label of each example, "
                             f"integers 0..{self.n_classes - 1} of shape ({batch_size},)")
        return validate.labels(name, y, batch_size, self.n_classes)

    # ---------------------------------------------------------------- inference

    def encode(self, x, y=None):
        """The latent factors of x: mu and sigma of q(z|x), each (B, z_dim).

        A conditional model needs the labels y (B,) of the images: q(z|x, y).
        """
        x = self.check_x(x)
        y = self.check_y(y, x.shape[0])
        return self.encoder.forward(x, y=y)

    def decode(self, z, y=None):
        """Parameters of P(x|z) for z of shape (B, z_dim) or (r, B, z_dim).

        A conditional model needs the labels y of shape (B,): P(x|z, y), every one of the r
        samples of example i decoded with its label y_i.

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
        y = self.check_y(y, z.shape[-2])
        return _public(self.decoder.forward(z, y=y))

    def sample(self, n, rng, return_decoded=False, y=None):
        """n draws x ~ P(x|z) with z ~ N(0, I): generation, as at the end of the notes.

        Parameters
        ----------
        n : int >= 1
        rng : numpy.random.Generator
        return_decoded : bool
            Also return the decoder's output for the drawn z: a dict with ``"z"``, ``"mean"``
            (the decoder means, the usual picture of a VAE sample) and, for Gaussian
            likelihoods, ``"sigma"``.
        y : ndarray of int, shape (n,)
            The class of each draw, for a conditional model (x ~ P(x|z, y)); None otherwise.

        Returns
        -------
        x : ndarray, shape (n, x_dim)
        decoded : dict, only when ``return_decoded`` is True
        """
        n = validate.positive_int("n", n)
        validate.generator("rng", rng)
        y = self.check_y(y, n)
        z = rng.standard_normal((n, self.z_dim), dtype=self.dtype)          # eq. (35)
        decoded = self.decoder.forward(z, y=y)
        x = self.likelihood.sample(decoded, rng)                            # eq. (35)
        if return_decoded:
            return x, dict(_public(decoded), z=z)
        return x

    # ---------------------------------------------------------------- objective

    def _forward(self, x, v, beta, x_input=None, y=None):
        """The loss, the negative of the ELBO of eq. (1) estimated as in eq. (2), and
        everything the backward needs.

        ``x_input`` (denoising): the encoder sees it, while x stays the reconstruction target.
        With labels y, both networks read them and the ELBO is the conditional one, eq. (55).
        """
        mu, sigma = self.encoder.forward(x if x_input is None else x_input, y=y)  # eqs. (5)-(6)
        z, reparam_cache = reparameterize_forward(mu, sigma, v)     # eq. (9)
        decoded = self.decoder.forward(z, y=y, mean=False)          # P(x|z_j, y): its parameters
        nll = self.likelihood.nll(x, decoded)                       # (r, B): eqs. (16)/(19)
        kl, kl_cache = kl_forward(mu, sigma)                        # (B,): eq. (12)
        recon = nll.mean(axis=0)                                    # eq. (2): 1/r sum_j
        per_example = recon + beta * kl                             # eq. (2); given y, eq. (55)
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

    def _forward_iwae(self, x, v, y=None):
        """The loss, the negative importance-weighted bound of eq. (49) with the S draws of v
        as its samples, its parts, and everything the backward needs.

        The forward is the evaluation's (``evaluate.log_weights``): one encoder pass, and the
        S*B samples through the decoder as one batch of rows. With labels y it bounds
        log p(x|y).
        """
        log_w, cache = log_weights(self, x, v, return_cache=True, y=y)   # eqs. (37)-(38)
        bound, bound_cache = iwae_bound_forward(log_w)              # (B,): eqs. (49)-(50)
        loss = float(-bound.mean())                                 # eq. (49)
        log_px_given_z = cache[-1]                                  # (S, B)
        recon = -log_px_given_z.mean(axis=0)                        # 1/S sum_j -log P(x|z_j)
        kl = -log_w.mean(axis=0) - recon                            # 1/S sum_j log q - log p
        return loss, {"recon": recon, "kl": kl, "loss": -bound}, (cache, bound_cache)

    def _backward_iwae(self, state):
        """Fill the gradient buffer from the state left by :meth:`_forward_iwae`."""
        (x, decoded, z, reparam_cache, _), bound_cache = state
        B = x.shape[0]
        dbound = np.full(B, -1.0 / B)                               # eq. (49): L = -1/B sum_i L_S
        # The log weights are float64 (log_weights sums in float64); the rest runs in the
        # model's dtype.
        dlog_w = iwae_bound_backward(dbound, bound_cache).astype(self.dtype)   # eq. (51)
        sigma = reparam_cache[0]
        dlog_px, dz_prior, dsigma_q = log_weights_backward(dlog_w, (z, sigma))  # eqs. (53)-(54)
        # eq. (52): every sample's chain rule runs at once, seeded with its weight by (51)
        dheads = self.likelihood.nll_backward(-dlog_px, x, decoded)  # eqs. (18)/(20)-(22)
        dz = self.decoder.backward(dheads)                          # eqs. (23)-(34)
        dz += dz_prior                                              # z feeds the decoder and log p
        dmu, dsigma = reparameterize_backward(dz, reparam_cache)    # eqs. (10)-(11)
        dsigma += dsigma_q                                          # sigma feeds z and log q
        self.encoder.backward(dmu, dsigma)                          # eqs. (7)/(8), (23)-(34)

    def _check_inputs(self, x, v, beta, x_input, y):
        x = self.check_x(x)
        v = self._check_v(v, x.shape[0])
        beta = validate.nonnegative_float("beta", beta)
        if x_input is not None:
            # Any finite input will do for the encoder: no range check, unlike the target x.
            x_input = validate.float_array("x_input", x_input, ("B", self.x_dim), self.dtype)
            if x_input.shape != x.shape:
                raise ValueError(f"x_input must have the shape of x, {x.shape}; "
                                 f"got {x_input.shape}")
        y = self.check_y(y, x.shape[0])
        return x, v, beta, x_input, y

    def elbo_terms(self, x, v, beta=1.0, x_input=None, y=None):
        """The negative ELBO of each example and its parts, in nats.

        Returns a dict of arrays of shape (B,): ``"recon"`` = 1/r sum_j -log P(x|z_j),
        ``"kl"`` = KL(q(z|x) || p(z)), and ``"loss"`` = recon + beta * kl, eq. (2). A
        conditional model takes the labels y (B,), and its terms are those of eq. (55).
        """
        return self._forward(*self._check_inputs(x, v, beta, x_input, y))[1]

    def loss(self, x, v, beta=1.0, x_input=None, objective="elbo", y=None):
        """The batch mean of the negative ELBO, eq. (3), or with ``objective="iwae"`` of the
        negative importance-weighted bound, eq. (49), as a float. A conditional model takes
        the labels y (B,)."""
        _check_objective(objective, beta, x_input)
        x, v, beta, x_input, y = self._check_inputs(x, v, beta, x_input, y)
        if objective == "iwae":
            return self._forward_iwae(x, v, y)[0]
        return self._forward(x, v, beta, x_input, y)[0]

    def compute_gradients(self, x, v, beta=1.0, x_input=None, check=True, return_parts=False,
                          objective="elbo", y=None):
        """The loss; its gradients are left in :meth:`gradients` and :attr:`flat_gradients`.

        The training loop uses this: nothing is copied. ``check=False`` skips the argument
        checks, for data that was checked once up front. With ``return_parts`` it returns
        ``(loss, recon, kl)``: the batch means of the two terms of the ELBO as well. With
        ``objective="iwae"`` they are those of the ELBO estimated on the same S samples,
        recon = 1/S sum_j -log P(x|z_j) and kl = 1/S sum_j (log q(z_j|x) - log p(z_j)), so
        that -(recon + kl) is that ELBO, never above the bound of the same samples. A
        conditional model takes the labels y (B,).
        """
        _check_objective(objective, beta, x_input)
        if check:
            x, v, beta, x_input, y = self._check_inputs(x, v, beta, x_input, y)
        if objective == "iwae":
            loss, terms, state = self._forward_iwae(x, v, y)
            self._backward_iwae(state)
        else:
            loss, terms, state = self._forward(x, v, beta, x_input, y)
            self._backward(beta, state)
        if return_parts:
            return loss, float(terms["recon"].mean()), float(terms["kl"].mean())
        return loss

    def loss_and_grad(self, x, v, beta=1.0, x_input=None, objective="elbo", y=None):
        """The batch mean loss and its gradient with respect to every parameter.

        Parameters
        ----------
        x : ndarray, shape (B, x_dim)
        v : ndarray, shape (r, B, z_dim)
            Standard normal noise, r draws per example.
        beta : float >= 0
            Weight of the KL term. Must be 1 with ``objective="iwae"``.
        x_input : ndarray, shape (B, x_dim), optional
            What the encoder sees, when it differs from the target x (denoising). Must be
            None with ``objective="iwae"``.
        objective : {"elbo", "iwae"}
            "elbo": the negative ELBO, eqs. (2)-(3). "iwae": the negative importance-weighted
            bound of Burda et al., -1/B sum_i log (1/S) sum_j w_ij, eq. (49), with the S = r
            draws of v as the importance samples of each example.
        y : ndarray of int, shape (B,)
            The label of each example, 0..n_classes-1: required by a conditional model
            (``n_classes``), refused by an unconditional one. The loss is then the negative
            conditional ELBO, eq. (55), or the bound on log p(x|y).

        Returns
        -------
        loss : float
        grads : dict of str -> ndarray
            Same keys and shapes as :meth:`parameters`; fresh arrays, safe to keep.
        """
        loss = self.compute_gradients(x, v, beta, x_input, objective=objective, y=y)
        return loss, {name: g.copy() for name, g in self._grads.items()}

    def __repr__(self):
        c = self.config
        return (f"VAE(x_dim={c['x_dim']}, z_dim={c['z_dim']}, hidden={tuple(c['hidden'])}, "
                f"likelihood={c['likelihood']!r}, activation={c['activation']!r}, "
                f"dtype=numpy.{c['dtype']}"
                + (f", n_classes={self.n_classes})" if self.n_classes is not None else ")"))


def _public(decoded):
    """The decoder's output without the caches kept for the backward pass."""
    return {k: v for k, v in decoded.items() if not k.startswith("_")}


def _check_objective(objective, beta, x_input):
    """A ValueError unless ``objective`` is known and its options suit it."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {objective!r}")
    if objective == "iwae":
        if beta != 1:
            raise ValueError(
                f"beta must be 1 with objective='iwae'; got {beta!r}. The importance-weighted "
                f"bound, eq. (49), has no KL term to weight: log p(z) - log q(z|x) sits inside "
                f"each weight, and a weight on it there makes another objective, which for "
                f"beta < 1 is no bound on log p(x)")
        if x_input is not None:
            raise ValueError(f"x_input must be None with objective='iwae' (the bound's samples "
                             f"come from q(z|x) of x itself); got an array of shape "
                             f"{np.shape(x_input)}")


def _iwae_equations(name, elbo_path):
    """The equations on the backward path of the importance-weighted bound to ``name``, from
    those of the ELBO's.

    The bound's seeds (49)-(52) take the place of the ELBO's (4), and its log p(z) and
    log q(z|x), (53)-(54), that of the KL's (13)-(14). log p(z) reaches the encoder through
    z, so every encoder parameter has (53); log q reaches only sigma, eq. (54).
    """
    path = [e for e in elbo_path if e not in (4, 13, 14)] + [49, 50, 51, 52]
    if name.startswith("enc."):
        path += [53] if name.startswith("enc.mu.") else [53, 54]
    return tuple(sorted(set(path)))
