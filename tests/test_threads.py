"""The speed machinery of numpyvae/engine: the optimizer's threads give the same numbers as
one thread, and OpenBLAS's setting belongs to the program, not to ``import numpyvae``."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from numpyvae.engine import openblas, threads
from numpyvae.optim import make_optimizer


def test_chunks_cover_the_range_once_on_aligned_edges(monkeypatch):
    monkeypatch.setattr(threads, "FORCE", True)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    size = 3 * threads.MIN_CHUNK + 5
    pieces = threads.chunks(size)
    assert len(pieces) == 2 and pieces[0].start == 0 and pieces[-1].stop == size
    assert pieces[0].stop == pieces[1].start and pieces[0].stop % 16 == 0
    assert threads.chunks(threads.MIN_CHUNK - 1) == [slice(0, threads.MIN_CHUNK - 1)]
    monkeypatch.setattr(threads, "FORCE", False)
    assert threads.chunks(size) == [slice(0, size)]


def test_rows_split_only_when_each_part_is_big_enough(monkeypatch):
    monkeypatch.setattr(threads, "FORCE", True)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    assert threads.rows(5, threads.MIN_CHUNK) == [slice(0, 2), slice(2, 5)]
    assert threads.rows(1, 10 * threads.MIN_CHUNK) == [slice(0, 1)]      # one row: one part
    assert threads.rows(3, threads.MIN_CHUNK // 2) == [slice(0, 3)]      # too little work
    monkeypatch.setattr(threads, "FORCE", False)
    assert threads.rows(5, threads.MIN_CHUNK) == [slice(0, 5)]


@pytest.mark.parametrize("name,kwargs", [("adam", {}), ("adam", {"weight_decay": 1e-3}),
                                         ("sgd", {"lr": 0.1, "momentum": 0.9}),
                                         ("adagrad", {"weight_decay": 1e-2})])
def test_threaded_steps_equal_one_thread_bit_for_bit(name, kwargs, monkeypatch):
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    rng = np.random.default_rng(0)
    size = 3 * threads.MIN_CHUNK + 5
    start = rng.standard_normal(size).astype(np.float32)
    grads = [rng.standard_normal(size).astype(np.float32) for _ in range(4)]
    results, pieces = [], []
    run = threads.run
    monkeypatch.setattr(threads, "run", lambda tasks: (pieces.append(len(tasks)), run(tasks)))
    for enabled in (False, True):
        monkeypatch.setattr(threads, "FORCE", enabled)
        theta = start.copy()
        opt = make_optimizer(name, {"theta": theta}, **kwargs)
        for g in grads:
            opt.step({"theta": g.copy()})
        results.append((theta, opt.state_dict()))
    (a, sa), (b, sb) = results
    assert pieces == [1] * len(grads) + [2] * len(grads)   # one share per core
    assert np.array_equal(a, b)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not np.array_equal(a, start)


def test_elementwise_passes_none_through_and_runs_strided_arrays_whole(monkeypatch):
    monkeypatch.setattr(threads, "FORCE", True)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    seen = []
    a = np.zeros(3 * threads.MIN_CHUNK)
    threads.elementwise(lambda x, y: seen.append((x.size, y)), [a, None])
    assert sorted(seen) == sorted([(p.stop - p.start, None) for p in threads.chunks(a.size)])
    seen.clear()
    strided = np.zeros((2, 3 * threads.MIN_CHUNK))[:, ::2]
    threads.elementwise(lambda x: seen.append(x.shape), [strided])
    assert seen == [strided.shape]


@pytest.mark.parametrize("enabled", [False, True])
def test_each_share_is_updated_in_pieces_that_cover_it_once(enabled, monkeypatch):
    monkeypatch.setattr(threads, "FORCE", enabled)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    monkeypatch.setattr(threads, "MAX_PIECE", 1000)
    a = np.zeros((7, 901))                             # 6307 entries

    def count(piece):
        assert piece.size <= 1000
        piece += 1

    threads.elementwise(count, [a])
    assert np.array_equal(a, np.ones_like(a))


def test_run_waits_for_every_task_even_when_this_threads_work_fails(monkeypatch):
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    finished = threading.Event()

    def slow():
        time.sleep(0.05)
        finished.set()

    def fail():
        raise RuntimeError("this thread's task failed")

    with pytest.raises(RuntimeError, match="this thread's task failed"):
        threads.run([fail, slow])
    assert finished.is_set()                # no task is left writing after run returns

    def broken():
        raise ValueError("a pool task failed")

    with pytest.raises(ValueError, match="a pool task failed"):
        threads.run([lambda: None, broken])


@pytest.mark.parametrize("blas,configured,initial,value,expected", [
    ("scipy-openblas", True, None, "19", True),      # the numpyvae command
    ("scipy-openblas", False, None, "19", False),    # set inside the process, numpy first
    ("scipy-openblas", False, "8", "8", True),       # set by the user before starting
    ("scipy-openblas", False, "20", "20", False),    # ... to longer than numpyvae's
    ("scipy-openblas", True, "28", "28", False),     # ... to OpenBLAS's long default
    ("mkl", True, None, "19", False),                # another BLAS: no such setting
])
def test_threads_are_on_only_when_openblas_threads_sleep(blas, configured, initial, value,
                                                         expected, monkeypatch):
    monkeypatch.setitem(np.__config__.CONFIG["Build Dependencies"]["blas"], "name", blas)
    monkeypatch.setitem(os.environ, openblas.VARIABLE, value)
    monkeypatch.setattr(openblas, "_set_before_numpy", configured)
    monkeypatch.setattr(openblas, "_initial_environment",
                        lambda: {} if initial is None else {openblas.VARIABLE: initial})
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    threads._found.cache_clear()
    try:
        assert threads.enabled() is expected
    finally:
        threads._found.cache_clear()


def _python(code, env_changes=()):
    env = {k: v for k, v in os.environ.items() if k != openblas.VARIABLE}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_importing_numpyvae_changes_no_environment_variable_and_loads_no_numpy():
    code = ("import os, sys; before = dict(os.environ); import numpyvae; "
            "assert dict(os.environ) == before, 'environment changed'; "
            "assert 'numpy' not in sys.modules, 'numpy loaded'; "
            "numpyvae.VAE; assert 'numpy' in sys.modules; "
            "assert dict(os.environ) == before, 'environment changed'; print('ok')")
    proc = _python(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_configure_sets_the_timeout_before_numpy_and_refuses_after():
    code = ("import os, numpyvae; first = numpyvae.configure_openblas(); "
            "from numpyvae.engine import threads, openblas; "
            "print(first, os.environ[openblas.VARIABLE], openblas.short_timeout_in_force())")
    proc = _python(code)
    assert proc.returncode == 0 and proc.stdout.split() == ["True", "19", "True"], proc.stderr
    code = ("import numpy, os, numpyvae; print(numpyvae.configure_openblas(), "
            "os.environ.get('OPENBLAS_THREAD_TIMEOUT'))")
    proc = _python(code)
    assert proc.returncode == 0 and proc.stdout.split() == ["False", "None"], proc.stderr
    code = "import numpyvae; numpyvae.configure_openblas(); import os; print(os.environ[" \
           "'OPENBLAS_THREAD_TIMEOUT'])"
    proc = _python(code, {openblas.VARIABLE: "12"})
    assert proc.stdout.strip() == "12", proc.stderr            # the user's value wins


def test_the_numpyvae_command_sets_the_timeout_before_numpy_loads():
    code = ("import os, sys, numpyvae.app as app\n"
            "assert 'numpy' not in sys.modules, 'numpy loaded'\n"
            "try:\n    app.main(['--version'])\nexcept SystemExit:\n    pass\n"
            "from numpyvae.engine import openblas\n"
            "print(openblas.short_timeout_in_force(), os.environ[openblas.VARIABLE])")
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["True", "19"], proc.stdout


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian-shared",
                                        "gaussian-fixed"])
def test_the_likelihood_over_the_cores_gives_the_same_loss_and_gradients_bit_for_bit(
        likelihood, monkeypatch):
    from numpyvae.vae import VAE

    model = VAE(6, 3, hidden=(4,), likelihood=likelihood, seed=1,
                mean_activation="sigmoid" if likelihood == "gaussian" else "identity")
    rng = np.random.default_rng(2)
    x = rng.random((9, 6), dtype=np.float32)
    v = rng.standard_normal((5, 9, 3), dtype=np.float32)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    results, split = [], []
    run = threads.run
    monkeypatch.setattr(threads, "run", lambda tasks: (split.append(len(tasks)), run(tasks)))
    for enabled, min_chunk in ((False, threads.MIN_CHUNK), (True, 1)):
        monkeypatch.setattr(threads, "FORCE", enabled)
        monkeypatch.setattr(threads, "MIN_CHUNK", min_chunk)
        loss, grads = model.loss_and_grad(x, v)
        results.append((loss, grads))
    assert 2 in split                                  # the examples were split in two
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == loss_b
    # gaussian-shared's one sigma_x gets the sum over all examples, eq. (47): split in two,
    # it is the sum of two partial sums, which may round differently in the last bit.
    shared = [k for k in grads_a if k == "dec.sigma_x.t"]
    assert shared == (["dec.sigma_x.t"] if likelihood == "gaussian-shared" else [])
    for k in shared:
        np.testing.assert_allclose(grads_b[k], grads_a[k], rtol=1e-5)
    assert all(np.array_equal(grads_a[k], grads_b[k]) for k in grads_a if k not in shared)
