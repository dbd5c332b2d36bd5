"""scripts/ab_step.py: two versions of the package taking turns, block by block."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numpyvae.optim import make_optimizer
from numpyvae.train import Trainer
from numpyvae.vae import VAE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import ab_step  # noqa: E402


def _trainer(seed=3):
    x = (np.random.default_rng(0).random((38, 6)) < 0.4).astype(np.float32)  # 10 batches
    model = VAE(x.shape[1], 2, hidden=(5,), seed=seed)
    optimizer = make_optimizer("adam", {"theta": model.flat_parameters}, lr=1e-2)
    return Trainer(model, optimizer, x, batch_size=4, seed=7)


def test_blocks_train_the_same_steps_as_whole_epochs():
    in_blocks, whole = _trainer(), _trainer()
    run = ab_step.blocks(in_blocks, 3)
    seconds = [next(run) for _ in range(8)]      # 3+3+3+1 batches, twice over two epochs
    for epoch in range(2):
        whole.train_epoch(epoch)
    assert all(s > 0 for s in seconds)
    assert in_blocks.optimizer.t == whole.optimizer.t == 20
    assert np.array_equal(in_blocks.model.flat_parameters, whole.model.flat_parameters)


def test_compare_takes_turns_alternating_which_goes_first():
    log = []

    def fake(name, seconds):
        while True:
            log.append(name)
            yield seconds

    (a, b), ratios = ab_step.compare([fake("a", 2.0), fake("b", 1.0)], pairs=4, warmup=1)
    assert log == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert (a, b) == (2.0, 1.0) and ratios == [2.0] * 4


def test_the_script_compares_this_checkout_with_a_copy(capsys):
    median, geometric = ab_step.main(["--self", "--pairs", "2", "--block", "2"])
    out = capsys.readouterr().out
    assert 0 < median and 0 < geometric
    assert "2 pairs of 2-step blocks on mnist-mini" in out and "ratio this checkout" in out
    assert "numpyvae_base" in sys.modules


def test_a_revision_is_exported_and_imported_under_another_name(tmp_path):
    # A repository of its own, so that the test does not depend on this checkout being one.
    repo = tmp_path / "repo"
    shutil.copytree(ab_step.ROOT / "numpyvae", repo / "numpyvae",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "numpyvae" / "MARK.txt").write_text("the exported revision\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run(git + command, check=True)
    out = tmp_path / "out"
    out.mkdir()
    ab_step.export_revision("HEAD", out, repo=repo)
    assert (out / "numpyvae_base" / "MARK.txt").exists()
    base = ab_step.import_package("numpyvae_base", out)
    assert Path(base.__file__).parent == out / "numpyvae_base"
    assert base.engine.threads.enabled() == ab_step.threads.enabled()
    x = np.zeros((3, 784), dtype=np.float32)
    assert ab_step.make_trainer(base, x, seed=0).model.x_dim == 784


def test_a_revision_before_the_engine_folder_gets_its_threads_switched_too(tmp_path):
    # The modules ab_step imports, as in revisions whose threads were numpyvae.parallel.
    package = tmp_path / "numpyvae_old"
    package.mkdir()
    for module in ab_step.MODULES + ("__init__",):
        (package / f"{module}.py").write_text("")
    (package / "parallel.py").write_text("ENABLED = None\n")
    old = ab_step.import_package("numpyvae_old", tmp_path)
    assert old.parallel.ENABLED is ab_step.threads.enabled()


def test_a_package_without_a_threads_module_is_refused(tmp_path):
    (tmp_path / "numpyvae_none").mkdir()
    with pytest.raises(SystemExit, match="no module for the optimizer's threads; expected "
                                         "engine/threads.py or parallel.py"):
        ab_step.import_package("numpyvae_none", tmp_path)


def test_an_unknown_revision_is_refused_with_gits_reason():
    with pytest.raises(SystemExit, match="cannot export numpyvae at 'no-such-revision'"):
        ab_step.main(["no-such-revision", "--pairs", "1"])


def test_pairs_and_block_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        ab_step.main(["--self", "--block", "0"])
    assert "--block must be at least 1; got 0" in capsys.readouterr().err
