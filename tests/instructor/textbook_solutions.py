"""A second solution of every task, written from the derivation and the textbooks, not from
numpyvae's reference code: what a student who knows the math would write.

tests/instructor/test_assignment.py and test_autograder.py put each body into the fence of a
fresh student copy and grade it: such a solution must earn full marks. The bodies use the
names the stubs leave in scope (the function's arguments, the lines before the fence, and the
module's imports). Left out of every copy, with the kit's tests (scripts/make_assignment.py,
KIT).
"""

SOLUTIONS = {
    ("numpyvae/dense.py", "dense_backward"): """
dx = dy.dot(W.T)
dW = x.T.dot(dy)
db = dy.sum(axis=0)
""",
    ("numpyvae/activations.py", "identity_backward"): """
return dy.copy()
""",
    ("numpyvae/activations.py", "relu_backward"): """
da = dy.copy()
da[y <= 0] = 0
return da
""",
    ("numpyvae/activations.py", "leaky_relu_backward"): """
slope = np.where(y > 0, 1.0, LEAKY_RELU_SLOPE).astype(dy.dtype)
return dy * slope
""",
    ("numpyvae/activations.py", "elu_backward"): """
slope = np.where(y > 0, 1.0, y + ELU_ALPHA)
return dy * slope
""",
    ("numpyvae/activations.py", "tanh_backward"): """
return dy * (1.0 - y ** 2)
""",
    ("numpyvae/activations.py", "sigmoid_backward"): """
return dy * (y - y ** 2)
""",
    ("numpyvae/activations.py", "softplus_backward"): """
return dy / (1.0 + np.exp(-a))
""",
    ("numpyvae/sigma.py", "log_var_backward"): """
return 0.5 * sigma * dsigma
""",
    ("numpyvae/sigma.py", "softplus_backward"): """
return dsigma / (1.0 + np.exp(-s))
""",
    ("numpyvae/reparam.py", "reparameterize_forward"): """
z = v * sigma[np.newaxis] + mu[np.newaxis]
""",
    ("numpyvae/reparam.py", "reparameterize_backward"): """
dmu = np.sum(dz, axis=0)
dsigma = np.sum(dz * v, axis=0)
""",
    ("numpyvae/kl.py", "kl_forward"): """
kl = 0.5 * np.sum(mu ** 2 + sigma ** 2 - np.log(sigma ** 2) - 1.0, axis=1)
""",
    ("numpyvae/kl.py", "kl_backward"): """
dmu = mu * dkl
dsigma = (sigma - 1.0 / sigma) * dkl
""",
    ("numpyvae/likelihoods/bernoulli.py", "bernoulli_nll_backward"): """
p = 1.0 / (1.0 + np.exp(-logits))
return (p - x) * dnll[..., np.newaxis]
""",
    ("numpyvae/likelihoods/gaussian.py", "gaussian_nll_backward"): """
variance = sigma ** 2
dmean = dnll * (mean - x) / variance
dsigma = dnll * (1.0 / sigma - (x - mean) ** 2 / (variance * sigma))
""",
    ("numpyvae/likelihoods/gaussian.py", "gaussian_shared_nll_backward"): """
variance = sigma ** 2
dmean = dnll * (mean - x) / variance
per_pixel = dnll * (1.0 / sigma - (x - mean) ** 2 / (variance * sigma))
dsigma = np.array([per_pixel.sum()], dtype=sigma.dtype)
""",
    ("numpyvae/conditional.py", "concat_dense_backward"): """
dx = None
if input_grad:
    dx = da @ W.T
dW = x.T @ da
dWy = np.zeros_like(Wy)
np.add.at(dWy, y, da)
db = da.sum(axis=0)
""",
    ("numpyvae/optim/sgd.py", "sgd_update"): """
u[:] = momentum * u + g
theta[:] = theta - lr * u
""",
    ("numpyvae/optim/weight_decay.py", "add_weight_decay"): """
return weight_decay * theta + g
""",
    ("numpyvae/optim/adam.py", "adam_update"): """
m[:] = beta1 * m + (1 - beta1) * g
v[:] = beta2 * v + (1 - beta2) * g ** 2
m_hat = m / (1 - beta1 ** t)
v_hat = v / (1 - beta2 ** t)
theta[:] = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
    ("numpyvae/optim/adagrad.py", "adagrad_update"): """
G[:] = G + g ** 2
theta[:] = theta - lr * g / (np.sqrt(G) + eps)
""",
    ("numpyvae/evaluate.py", "log_mean_exp"): """
w_max = np.max(w, axis=axis)
lme = w_max + np.log(np.mean(np.exp(w - np.expand_dims(w_max, axis)), axis=axis))
""",
    ("numpyvae/evaluate.py", "log_weights"): """
half_log_2pi = 0.5 * np.log(2.0 * np.pi)
log_prior = np.sum(-half_log_2pi - z * z / 2.0, axis=2)
log_posterior = np.sum(-half_log_2pi - np.log(sigma)[np.newaxis] - v * v / 2.0, axis=2)
log_w = log_px_given_z - log_posterior + log_prior
""",
    ("numpyvae/iwae.py", "iwae_bound_forward"): """
largest = np.max(log_w, axis=0, keepdims=True)
unnormalized = np.exp(log_w - largest)
w_tilde = unnormalized / np.sum(unnormalized, axis=0, keepdims=True)
""",
    ("numpyvae/iwae.py", "iwae_bound_backward"): """
return w_tilde * dbound[np.newaxis, :]
""",
    ("numpyvae/iwae.py", "log_weights_backward"): """
dlog_px = dlog_w.copy()
dz = -z * dlog_w[:, :, np.newaxis]
dsigma = np.sum(dlog_w, axis=0)[:, np.newaxis] * (1.0 / sigma)
""",
}
