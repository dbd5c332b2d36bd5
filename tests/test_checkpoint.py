"""Checkpoints: .npz with JSON inside, no pickle, atomic writes."""
import json
import os

import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _model():
    model = VAE(6, 2, hidden=(5,), likelihood="gaussian", seed=3)
    model.parameters()["enc.mu.b"][...] = [0.25, -0.5]
    return model


def test_round_trip_keeps_parameters_config_optimizer_state_and_meta(tmp_path):
    model = _model()
    state = {"m.theta": np.arange(4, dtype=np.float32), "t": 7}
    save_checkpoint(tmp_path / "c.npz", model, state, {"epoch": 3, "note": "x"})
    loaded = load_checkpoint(tmp_path / "c.npz")
    assert loaded["model"].config == model.config
    for name, value in model.parameters().items():
        assert np.array_equal(loaded["model"].parameters()[name], value)
        assert loaded["model"].parameters()[name].dtype == value.dtype
    assert np.array_equal(loaded["optimizer_state"]["m.theta"], state["m.theta"])
    assert int(loaded["optimizer_state"]["t"]) == 7
    assert loaded["meta"] == {"epoch": 3, "note": "x"}


def test_the_file_is_plain_npz_with_json_inside(tmp_path):
    save_checkpoint(tmp_path / "c.npz", _model(), meta={"epoch": 1})
    with np.load(tmp_path / "c.npz", allow_pickle=False) as data:
        assert data["params/enc.mu.b"].tolist() == [0.25, -0.5]
        document = json.loads(data["meta.json"].tobytes())
    assert document["format"] == "numpyvae-checkpoint/1"
    assert document["model"]["likelihood"] == "gaussian"


def test_a_file_holding_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"params/enc.h1.W": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(path)


@pytest.mark.parametrize("content,match", [
    (b"not a zip file at all", "not a readable .npz"),
    (None, "no checkpoint at"),
])
def test_unreadable_files(tmp_path, content, match):
    path = tmp_path / "c.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_foreign_npz_and_wrong_format(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a numpyvae checkpoint"):
        load_checkpoint(tmp_path / "a.npz")
    doc = json.dumps({"format": "other/9", "model": {}, "meta": {}}).encode()
    np.savez(tmp_path / "b.npz", **{"meta.json": np.frombuffer(doc, dtype=np.uint8)})
    with pytest.raises(CheckpointError, match="has format 'other/9'"):
        load_checkpoint(tmp_path / "b.npz")


def test_parameters_that_do_not_match_the_config_are_refused(tmp_path):
    save_checkpoint(tmp_path / "c.npz", _model())
    with np.load(tmp_path / "c.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["params/enc.mu.b"] = np.zeros(5, dtype=np.float32)
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"enc.mu.b.*shape \(2,\); got \(5,\)"):
        load_checkpoint(tmp_path / "d.npz")


def test_a_failed_write_leaves_the_previous_checkpoint_and_no_debris(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, _model(), meta={"epoch": 1})
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _model(), meta={"epoch": 2})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]
