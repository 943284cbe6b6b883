import numpy as np
import pytest
import torch

from kdtrack_lite.fileio import atomic_path, write_text_atomic
from kdtrack_lite.runtime import pick_device, seed_everything


def _draw():
    import random

    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def test_same_seed_same_numbers_different_seed_different_numbers():
    seed_everything(7)
    a = _draw()
    seed_everything(7)
    b = _draw()
    seed_everything(8)
    c = _draw()
    assert a == b
    assert a != c


def test_same_seed_same_training():
    def train():
        seed_everything(3)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 4), torch.randn(32, 1)
        for _ in range(5):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        return loss.item(), [p.detach().clone() for p in model.parameters()]

    (l1, p1), (l2, p2) = train(), train()
    assert l1 == l2 and all(torch.equal(a, b) for a, b in zip(p1, p2))


def test_bad_seed_is_rejected():
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_device_pick(monkeypatch):
    monkeypatch.delenv("KDTRACK_DEVICE", raising=False)
    assert pick_device("cpu").type == "cpu"
    assert pick_device().type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            pick_device("cuda")
        monkeypatch.setenv("KDTRACK_DEVICE", "cuda")
        with pytest.raises(RuntimeError):
            pick_device()


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "results.txt"
    write_text_atomic(target, "old")
    with pytest.raises(ZeroDivisionError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            1 / 0
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.txt"]


def test_atomic_write_uses_the_usual_file_mode(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "r.txt", "x")
    finally:
        os.umask(umask)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_display_path_hides_the_machine_inside_the_checkout(tmp_path):
    from kdtrack_lite.paths import display_path, repo_root

    root = repo_root()
    if root is None:
        pytest.skip("not a source checkout")
    assert display_path(root / "data_samples" / "x.pt") == "data_samples/x.pt"
    assert display_path(tmp_path / "y.pt") == str(tmp_path / "y.pt")  # outside: shown as given


def test_self_check_passes_a_right_attempt_falls_back_on_a_stub_and_names_a_wrong_one(capsys):
    import pytest
    import torch

    from kdtrack_lite.notebook import self_check

    def reference(x):
        return x * 2

    def stub(x):
        raise NotImplementedError

    inputs = lambda trial: (torch.randn(3, generator=torch.Generator().manual_seed(trial)),)
    assert self_check("ex", lambda x: x + x, reference, inputs) is not reference
    assert "correct on 3 fresh inputs" in capsys.readouterr().out
    assert self_check("ex", stub, reference, inputs) is reference
    assert "not attempted yet" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="ex: trial 0"):
        self_check("ex", lambda x: x * 3, reference, inputs)
