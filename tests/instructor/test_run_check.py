"""run_check.py, the autograder's recomputation of a run's test numbers, against the reference.

run_check must not use numpyvae (in the autograder the package is the student's); here, in the
project's suite, numpyvae is the reference, so it serves as the oracle: the same checkpoint
format, the same test images, the same KL and reconstruction for the same noise. None of these
tests is graded. The checks of a real run (an honest one agrees, an edited metrics.jsonl is
caught) are in tests/test_trained_model.py, next to the tests that train the set command's run.
"""
import ast
import json
from pathlib import Path

import numpy as np
import pytest

import run_check
from numpyvae import VAE
from numpyvae.app.checkpoint import save_checkpoint
from numpyvae.datasets import load_dataset

BANDS = json.loads((Path(__file__).resolve().parents[2] / "scripts" / "results_bands.json")
                   .read_text(encoding="utf-8"))


def _model(activation="relu", hidden=(7, 5), x_dim=9, z_dim=3, seed=0):
    return VAE(x_dim, z_dim, hidden=hidden, activation=activation, dtype=np.float64, seed=seed)


def _saved(tmp_path, model, config=None, position=None):
    """A checkpoint of ``model`` written by numpyvae's own save_checkpoint; its path."""
    config = {"dataset": "mnist-mini", "binarize": "none", "hidden": list(model.hidden),
              "z_dim": model.z_dim, "likelihood": model.config["likelihood"],
              "activation": model.config["activation"], "dtype": model.config["dtype"],
              **(config or {})}
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, model, {"t": 3}, {"config": config,
                                            "position": position or {"epoch": 1, "batch": 0}})
    return path


def test_run_check_uses_numpy_and_the_standard_library_only():
    tree = ast.parse(Path(run_check.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported == {"json", "zipfile", "collections", "functools", "pathlib", "numpy"}


def test_a_checkpoint_numpyvae_writes_is_read_as_it_was_saved(tmp_path):
    model = _model()
    checkpoint = run_check.read_checkpoint(_saved(tmp_path, model))
    assert checkpoint["model"] == model.config
    assert checkpoint["meta"]["position"] == {"epoch": 1, "batch": 0}
    assert sorted(checkpoint["params"]) == sorted(model.parameters())
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(checkpoint["params"][name], value)
    assert set(run_check.parameter_shapes(model.config)) == set(model.parameters())


def test_the_test_images_are_the_datasets(tmp_path):
    config = {"dataset": "mnist-mini", "binarize": "none"}
    x = run_check.load_test_images(config)
    expected = load_dataset("mnist-mini").test_x
    assert x.dtype == np.float32 and x.shape == (2000, 784)
    np.testing.assert_array_equal(x, expected)
    for other in ({"dataset": "mnist", "binarize": "none"},
                  {"dataset": "mnist-mini", "binarize": "static"}):
        with pytest.raises(run_check.Unsupported, match="reads only mnist-mini \\(none\\)"):
            run_check.load_test_images(other)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softplus"])
@pytest.mark.parametrize("hidden", [(7, 5), (6,), ()])
def test_the_kl_and_each_draws_reconstruction_are_the_models(activation, hidden):
    model = _model(activation, hidden)
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6, model.x_dim))
    v = rng.standard_normal((4, 6, model.z_dim))
    params = run_check.check_model(model.config, model.parameters())
    kl, nll = run_check.elbo_terms(params, model.config, x, v)
    for r in range(len(v)):
        terms = model.elbo_terms(x, v[r:r + 1])
        np.testing.assert_allclose(nll[r], terms["recon"], rtol=1e-12)
        np.testing.assert_allclose(kl, terms["kl"], rtol=1e-12)


def test_the_reported_errors_are_the_spread_of_the_estimates():
    """The standard error of the R-draw mean and the spread of a one-draw mean (a run's), as
    estimates() gives them from one recomputation, against their spread over many."""
    model = _model(z_dim=2, seed=3)
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (200, model.x_dim))
    checkpoint = {"model": model.config, "params": model.parameters()}
    first = run_check.recompute(checkpoint, x, draws=8, rng=np.random.default_rng(5))
    repeats = [run_check.recompute(checkpoint, x, draws=8, rng=np.random.default_rng(seed))
               for seed in range(6, 406)]
    spread = np.std([e["test_recon"].value for e in repeats], ddof=1)
    assert spread == pytest.approx(first["test_recon"].mc_stderr, rel=0.15)
    params = run_check.check_model(model.config, model.parameters())
    one_draw = [run_check.elbo_terms(params, model.config, x,
                                     rng.standard_normal((1, len(x), 2)))[1].mean()
                for _ in range(400)]
    assert np.std(one_draw, ddof=1) == pytest.approx(first["test_recon"].one_draw_sd, rel=0.15)
    for e in [first] + repeats[:3]:
        assert e["test_kl"] == (pytest.approx(e["test_kl"].value), 0.0, 0.0, 0)
        assert e["test_loss"].value == pytest.approx(e["test_recon"].value + e["test_kl"].value)
        assert e["test_loss"][1:] == e["test_recon"][1:]
    assert repeats[0]["test_kl"].value == first["test_kl"].value    # no noise in the KL
    again = run_check.recompute(checkpoint, x)                     # the fixed seed
    assert again == run_check.recompute(checkpoint, x)
    with pytest.raises(ValueError, match="at least 2 draws"):
        run_check.recompute(checkpoint, x, draws=1)


def test_the_set_configuration_is_one_run_check_recomputes():
    """Remaking the bands for a configuration run_check does not write out fails here first,
    not in every student's grade."""
    config = BANDS["config"]
    model = VAE(784, config["z_dim"], hidden=config["hidden"], likelihood=config["likelihood"],
                activation=config["activation"], dtype=np.dtype(config["dtype"]).type).config
    params = {name: np.zeros(shape, np.float32)
              for name, shape in run_check.parameter_shapes(model).items()}
    run_check.check_model(model, params)
    assert run_check.load_test_images(config).shape[1] == model["x_dim"]


@pytest.mark.parametrize("change, error, message", [
    ({"likelihood": "gaussian"}, run_check.Unsupported, "likelihood = 'gaussian'"),
    ({"activation": "elu"}, run_check.Unsupported, "activation = 'elu'; the autograder's "
                                                   "recomputation .* writes out only 'relu'"),
    ({"sigma_parameterization": "softplus"}, run_check.Unsupported,
     "sigma_parameterization = 'softplus'"),
    ({"hidden": [7, 6]}, run_check.CheckpointError,
     r"parameter enc.h2.W is float64 of shape \(7, 5\); its model needs floats of shape \(7, 6\)"),
    ({"hidden": [7]}, run_check.CheckpointError,
     r"do not fit its model: missing \[\], unexpected \['dec.h2.W'"),
])
def test_a_model_that_cannot_be_recomputed_is_refused_by_name(change, error, message):
    model = _model()
    with pytest.raises(error, match=message):
        run_check.check_model({**model.config, **change}, model.parameters())


def test_parameters_that_do_not_fit_are_refused():
    model = _model()
    params = dict(model.parameters())
    del params["dec.logits.b"]
    with pytest.raises(run_check.CheckpointError, match=r"missing \['dec.logits.b'\]"):
        run_check.check_model(model.config, params)
    params = {**model.parameters(), "enc.mu.b": np.array([0.0, np.nan, 1.0])}
    with pytest.raises(run_check.CheckpointError, match="enc.mu.b holds non-finite values"):
        run_check.check_model(model.config, params)
    params = {**model.parameters(), "enc.mu.b": np.array([1, 2, 3])}
    with pytest.raises(run_check.CheckpointError, match="enc.mu.b is int64 of shape"):
        run_check.check_model(model.config, params)


def test_a_file_that_is_no_checkpoint_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "checkpoint.npz"
    cases = []
    np.savez(path, meta=np.array([{"format": run_check.FORMAT}], dtype=object))
    cases.append(("holds pickled Python objects", path.read_bytes()))
    np.save(tmp_path / "one.npy", np.zeros(3))
    cases.append(("is a single array, not an .npz archive",
                  (tmp_path / "one.npy").read_bytes()))
    cases.append(("is not a readable .npz file", b"PK\x03\x04 a truncated zip"))
    np.savez(path, **{"params/a": np.zeros(2)})
    cases.append(("is not a numpyvae checkpoint: it has no meta.json", path.read_bytes()))
    np.savez(path, **{"meta.json": np.frombuffer(b"{not json", dtype=np.uint8)})
    cases.append(("its meta.json is not valid JSON", path.read_bytes()))
    np.savez(path, **{"meta.json": np.frombuffer(b'{"format": "other/1"}', dtype=np.uint8)})
    cases.append(("has format 'other/1', not 'numpyvae-checkpoint/1'", path.read_bytes()))
    for message, content in cases:
        path.write_bytes(content)
        with pytest.raises(run_check.CheckpointError) as refused:
            run_check.read_checkpoint(path)
        assert message in str(refused.value), (message, str(refused.value))
    with pytest.raises(run_check.CheckpointError, match="there is no checkpoint"):
        run_check.read_checkpoint(tmp_path / "absent.npz")


def test_a_model_unlike_its_own_run_configuration_is_refused(tmp_path):
    path = _saved(tmp_path, _model(), config={"activation": "tanh", "z_dim": 4})
    with pytest.raises(run_check.CheckpointError,
                       match="the model it holds is not the one its own run configuration "
                             "describes: activation = 'relu' in the model, 'tanh' in the "
                             "run's configuration; z_dim = 3 in the model, 4 in the run's"):
        run_check.read_checkpoint(path)
