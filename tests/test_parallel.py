"""The optimizer's threads: the same numbers as one thread, when they are switched on, and the
work the calling thread does while the others finish."""
import inspect
import os
import threading
import time

import numpy as np
import pytest

import numpyvae
from numpyvae import parallel
from numpyvae.optim import make_optimizer


def test_chunks_cover_the_range_once_on_aligned_edges(monkeypatch):
    monkeypatch.setattr(parallel, "ENABLED", True)
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    size = 3 * parallel.MIN_CHUNK + 5
    pieces = parallel.chunks(size)
    assert len(pieces) == 2 and pieces[0].start == 0 and pieces[-1].stop == size
    assert pieces[0].stop == pieces[1].start and pieces[0].stop % 16 == 0
    assert parallel.chunks(parallel.MIN_CHUNK - 1) == [slice(0, parallel.MIN_CHUNK - 1)]
    monkeypatch.setattr(parallel, "ENABLED", False)
    assert parallel.chunks(size) == [slice(0, size)]


def test_rows_split_only_when_each_part_is_big_enough(monkeypatch):
    monkeypatch.setattr(parallel, "ENABLED", True)
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    assert parallel.rows(5, parallel.MIN_CHUNK) == [slice(0, 2), slice(2, 5)]
    assert parallel.rows(1, 10 * parallel.MIN_CHUNK) == [slice(0, 1)]      # one row: one part
    assert parallel.rows(3, parallel.MIN_CHUNK // 2) == [slice(0, 3)]      # too little work
    monkeypatch.setattr(parallel, "ENABLED", False)
    assert parallel.rows(5, parallel.MIN_CHUNK) == [slice(0, 5)]


@pytest.mark.parametrize("overwrite_grads", [False, True])
@pytest.mark.parametrize("name,kwargs", [("adam", {}), ("adam", {"weight_decay": 1e-3}),
                                         ("sgd", {"lr": 0.1, "momentum": 0.9}),
                                         ("adagrad", {})])
def test_threaded_steps_equal_one_thread_bit_for_bit(name, kwargs, overwrite_grads,
                                                     monkeypatch):
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    rng = np.random.default_rng(0)
    size = 3 * parallel.MIN_CHUNK + 5
    start = rng.standard_normal(size).astype(np.float32)
    grads = [rng.standard_normal(size).astype(np.float32) for _ in range(4)]
    results = []
    for enabled in (False, True):
        monkeypatch.setattr(parallel, "ENABLED", enabled)
        theta = start.copy()
        opt = make_optimizer(name, {"theta": theta}, **kwargs)
        for g in grads:
            opt.step({"theta": g.copy()}, overwrite_grads=overwrite_grads)
        results.append((theta, opt.state_dict()))
    (a, sa), (b, sb) = results
    assert np.array_equal(a, b)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not np.array_equal(a, start)


@pytest.mark.parametrize("blas,loaded,was_set,value,expected", [
    ("scipy-openblas", False, False, "19", True),    # the numpyvae command
    ("scipy-openblas", True, False, "19", False),    # numpy imported first: too late
    ("scipy-openblas", True, True, "8", True),       # the user set it before starting
    ("scipy-openblas", True, True, "20", False),     # ... to longer than numpyvae's
    ("scipy-openblas", True, True, "28", False),     # ... to OpenBLAS's long default
    ("mkl", False, False, "12", False),              # another BLAS: no such setting
])
def test_threads_are_on_only_when_openblas_threads_sleep(blas, loaded, was_set, value,
                                                         expected, monkeypatch):
    monkeypatch.setitem(np.__config__.CONFIG["Build Dependencies"]["blas"], "name", blas)
    monkeypatch.setitem(os.environ, parallel.TIMEOUT_VARIABLE, value)
    assert parallel._blas_threads_sleep(loaded, was_set) is expected


def test_the_package_requests_the_timeout_parallel_expects():
    # numpyvae/__init__.py must set the variable before anything imports numpy, so it cannot
    # import the constant from this module and spells it out.
    source = inspect.getsource(numpyvae)
    assert f'setdefault("{parallel.TIMEOUT_VARIABLE}", "{parallel.SHORT_TIMEOUT}")' in source


@pytest.mark.parametrize("enabled", [False, True])
def test_meanwhile_runs_once_in_this_thread_after_its_own_task(enabled, monkeypatch):
    monkeypatch.setattr(parallel, "ENABLED", enabled)
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    events = []

    def task(name):
        return lambda: events.append((name, threading.get_ident()))

    tasks = [task(f"task {i}") for i in range(len(parallel.chunks(3 * parallel.MIN_CHUNK)))]
    parallel.run(tasks, meanwhile=task("meanwhile"))
    here = threading.get_ident()
    assert sorted(name for name, _ in events) == sorted([f"task {i}" for i in range(len(tasks))]
                                                        + ["meanwhile"])
    order = [name for name, ident in events if ident == here]
    assert order == ["task 0", "meanwhile"]
    assert len(tasks) == (2 if enabled else 1)
    assert any(ident != here for _, ident in events) == enabled     # the other task: the pool


def test_run_waits_for_every_task_even_when_this_threads_work_fails(monkeypatch):
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    finished = threading.Event()

    def slow():
        time.sleep(0.05)
        finished.set()

    def fail():
        raise RuntimeError("meanwhile failed")

    with pytest.raises(RuntimeError, match="meanwhile failed"):
        parallel.run([lambda: None, slow], meanwhile=fail)
    assert finished.is_set()                # no task is left writing after run returns

    def broken():
        raise ValueError("a pool task failed")

    with pytest.raises(ValueError, match="a pool task failed"):
        parallel.run([lambda: None, broken])


@pytest.mark.parametrize("enabled", [False, True])
def test_optimizer_step_calls_meanwhile_once_and_updates_as_without_it(enabled, monkeypatch):
    monkeypatch.setattr(parallel, "ENABLED", enabled)
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    rng = np.random.default_rng(1)
    size = 3 * parallel.MIN_CHUNK + 5
    start = rng.standard_normal(size).astype(np.float32)
    g = rng.standard_normal(size).astype(np.float32)
    calls = []
    results = []
    for meanwhile in (None, lambda: calls.append(threading.get_ident())):
        theta = start.copy()
        make_optimizer("adam", {"theta": theta}).step({"theta": g.copy()}, meanwhile=meanwhile)
        results.append(theta)
    assert calls == [threading.get_ident()]
    assert np.array_equal(results[0], results[1]) and not np.array_equal(results[0], start)


def test_optimizer_step_refuses_a_meanwhile_that_cannot_be_called():
    theta = np.zeros(3)
    opt = make_optimizer("adam", {"theta": theta})
    with pytest.raises(ValueError, match="meanwhile must be a callable or None; got int"):
        opt.step({"theta": np.ones(3)}, meanwhile=3)
    assert opt.t == 0 and np.array_equal(theta, np.zeros(3))   # no step was taken
