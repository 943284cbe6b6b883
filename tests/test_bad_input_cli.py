"""Bad input and faults: resume files, numeric arguments, unwritable outputs, checkpoints of the
wrong family, and how ``kdtrack`` reports them (one line, exit code 2; bugs keep their traceback).

Each test names the case it covers; the messages checked here are those listed under "Bad input
and faults" in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from kdtrack_lite import cli
from kdtrack_lite.boxes import _cat
from kdtrack_lite.checkpoint import CheckpointError, load_checkpoint
from kdtrack_lite.cli import main
from kdtrack_lite.data.samples import samples_dir
from kdtrack_lite.distill.base import Distiller
from kdtrack_lite.distill.loop import TrainConfig, fit, resume_path
from kdtrack_lite.distributed import make_loader
from kdtrack_lite.fileio import UserInputError
from kdtrack_lite.registry import build

CKPTS = samples_dir() / "checkpoints"
SOT_CKPT, MOT_CKPT = CKPTS / "sot_student.pt", CKPTS / "mot_student.pt"
CFG = TrainConfig(epochs=3, steps_per_epoch=4, lr=0.05, warmup_steps=2, patience=0)


# --- resume files ------------------------------------------------------------------------------

class _NoisyPoints(Dataset):
    """64 fixed pairs; each draw adds NumPy noise from the global RNG (as augmentations do), so a
    resumed run repeats the uninterrupted one only if NumPy's RNG state is restored too."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 3, 4, 4, generator=g)
        self.y = self.x.mean((2, 3)) @ torch.randn(3, 2, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        noise = torch.from_numpy(np.random.normal(0, 0.1, 2).astype(np.float32))
        return {"x": self.x[i], "y": self.y[i] + noise}


def _model(width: int = 8) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(width, 2))
    model.kdtrack_builder = "test_points"
    return model


def _distiller(model: nn.Module) -> Distiller:
    return Distiller(model, lambda out, b: {"loss_task": ((out - b["y"]) ** 2).mean()}, forward=lambda m, b: m(b["x"]))


class _Killed(RuntimeError):
    pass


def _always_better(model: nn.Module) -> float:
    """A validation metric that improves every epoch: the run ends with its last weights."""
    return time.monotonic()


def _killed_after_epoch_1(path, cfg: TrainConfig = CFG) -> None:
    """Train until validation of epoch 2 'kills' the run: leaves ``<path>.resume`` after epoch 1."""
    calls = []

    def dies_in_epoch_2(model):
        calls.append(1)
        if len(calls) == 2:
            raise _Killed("killed")
        return _always_better(model)

    np.random.seed(1)
    with pytest.raises(_Killed):
        fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), cfg, validate=dies_in_epoch_2,
            checkpoint_path=path, resume=True)


def test_resume_file_loads_weights_only_and_restores_numpy_rng(tmp_path):
    """A killed run's resume file holds only tensors and plain values, and the resumed run ends
    bit-identical even though the data draws NumPy noise."""
    np.random.seed(1)
    uninterrupted = _model()
    fit(_distiller(uninterrupted), make_loader(_NoisyPoints(), 8, seed=5), CFG, validate=_always_better,
        checkpoint_path=tmp_path / "a.pt", resume=True)

    _killed_after_epoch_1(tmp_path / "b.pt")
    state = torch.load(resume_path(tmp_path / "b.pt"), weights_only=True)
    assert state["epoch"] == 1
    np.random.seed(12345)  # a fresh process: another NumPy state
    resumed = _model()
    history = fit(_distiller(resumed), make_loader(_NoisyPoints(), 8, seed=5), CFG, validate=_always_better,
                  checkpoint_path=tmp_path / "b.pt", resume=True)
    assert history.best_epoch == 3  # the weights compared are those after the resumed epochs
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


class _Planted:
    """What an attacker plants: unpickling it runs ``open(marker, "w")`` (creates the marker)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_planted_pickle_resume_file_runs_nothing(tmp_path):
    """Case: a planted ``<out>.resume`` whose unpickling would create a file."""
    marker = tmp_path / "pwned"
    planted = resume_path(tmp_path / "m.pt")
    torch.save({"epoch": 1, "history": _Planted(marker)}, planted)
    with pytest.raises(CheckpointError) as err:
        fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), CFG, checkpoint_path=tmp_path / "m.pt",
            resume=True)
    assert not marker.exists()
    assert str(planted) in str(err.value) and "refused unread" in str(err.value)
    torch.load(planted, weights_only=False)  # the file is a live payload: unpickled, it does run
    assert marker.exists()
    marker.unlink()
    planted.write_bytes(pickle.dumps({"epoch": _Planted(marker)}))  # a bare pickle, not a torch zip
    with pytest.raises(CheckpointError, match="refused unread"):
        fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), CFG, checkpoint_path=tmp_path / "m.pt",
            resume=True)
    assert not marker.exists()


def test_planted_pickle_resume_file_via_the_cli(tmp_path, capsys):
    """Case: ``kdtrack train sot --resume`` beside a planted resume file: refused before training."""
    marker, out = tmp_path / "pwned", tmp_path / "s.pt"
    torch.save({"epoch": _Planted(marker)}, resume_path(out))
    assert main(["train", "sot", "--role", "student", "--fast", "--epochs", "1", "--steps", "1", "--threads", "1",
                 "--train-sequences", "1", "--val-sequences", "1", "--resume", "--out", str(out)]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert f"resume file {resume_path(out)} is not a readable kdtrack_lite resume file" in err
    assert len(err.strip().splitlines()) == 1


def test_resume_file_of_another_configuration_is_refused(tmp_path):
    """Case: resuming with another learning rate (was: the new --lr silently ignored)."""
    _killed_after_epoch_1(tmp_path / "b.pt")
    with pytest.raises(CheckpointError) as err:
        fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), CFG.replace(lr=0.01),
            validate=lambda m: 0.0, checkpoint_path=tmp_path / "b.pt", resume=True)
    message = str(err.value)
    assert str(resume_path(tmp_path / "b.pt")) in message
    assert "train_config.lr: 0.05 in the file, 0.01 now" in message
    assert resume_path(tmp_path / "b.pt").exists()  # kept: the user decides


def test_resume_file_of_another_architecture_is_refused(tmp_path):
    """Case: resuming into a wider model."""
    _killed_after_epoch_1(tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match=r"another architecture \(student\.0\.bias: \[8\] in the file, \[16\] now"):
        fit(_distiller(_model(width=16)), make_loader(_NoisyPoints(), 8, seed=5), CFG,
            checkpoint_path=tmp_path / "b.pt", resume=True)


def test_truncated_and_foreign_resume_files_are_refused(tmp_path):
    """Cases: a resume file cut short by a full disk; a torch file that is not a resume file."""
    _killed_after_epoch_1(tmp_path / "b.pt")
    state = resume_path(tmp_path / "b.pt")
    state.write_bytes(state.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match=r"is not a readable kdtrack_lite resume file \(truncated or corrupt"):
        fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), CFG, checkpoint_path=tmp_path / "b.pt",
            resume=True)
    torch.save({"epoch": 1}, state)  # e.g. written by an older kdtrack_lite
    with pytest.raises(CheckpointError, match="is not a kdtrack_lite resume file.*delete it to start the run afresh"):
        fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), CFG, checkpoint_path=tmp_path / "b.pt",
            resume=True)


def test_finished_run_removes_resume_file_and_stray_temp_files(tmp_path):
    """Case: temporary files left by writes of a killed run (``.<name>.*.tmp``)."""
    _killed_after_epoch_1(tmp_path / "b.pt")
    for stray in (".b.pt.k1ll3d.tmp", ".b.pt.resume.k1ll3d.tmp"):
        (tmp_path / stray).write_bytes(b"half a file")
    (tmp_path / ".other.pt.x.tmp").write_bytes(b"not ours")
    fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), CFG, validate=lambda m: 0.0,
        checkpoint_path=tmp_path / "b.pt", resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.x.tmp", "b.pt"]


def test_fit_refuses_an_empty_budget(tmp_path):
    """Case: ``TrainConfig(epochs=0)`` (was: the untrained weights written as the result)."""
    for cfg in (CFG.replace(epochs=0), CFG.replace(steps_per_epoch=-5)):
        with pytest.raises(ValueError, match="epochs and steps_per_epoch must be >= 1"):
            fit(_distiller(_model()), make_loader(_NoisyPoints(), 8, seed=5), cfg, checkpoint_path=tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


# --- numeric arguments -------------------------------------------------------------------------

TRAIN = ["train", "sot", "--role", "student", "--out", "never.pt"]
DISTILL = ["distill", "mot", "--losses", "at", "--out", "never.pt"]
SPECIALIST = ["sdst", "specialist", "--attribute", "IV", "--general", "g.pt", "--out", "never.pt"]
TRACK = ["track", "mot", "--checkpoint", "c.pt", "--data-root", "d", "--out", "o"]


@pytest.mark.parametrize("argv, arg, expected", [
    (TRAIN + ["--steps", "-5"], "--steps", "an integer >= 1, got -5"),
    (TRAIN + ["--epochs", "-1"], "--epochs", "an integer >= 1, got -1"),
    (TRAIN + ["--epochs", "0"], "--epochs", "an integer >= 1, got 0"),
    (TRAIN + ["--steps", "0"], "--steps", "an integer >= 1, got 0"),
    (TRAIN + ["--threads", "0"], "--threads", "an integer >= 1, got 0"),
    (TRAIN + ["--train-sequences", "0"], "--train-sequences", "an integer >= 1, got 0"),
    (TRAIN + ["--val-sequences", "0"], "--val-sequences", "an integer >= 1, got 0"),
    (TRAIN + ["--lr", "0"], "--lr", "a number > 0, got 0"),
    (TRAIN + ["--lr", "nan"], "--lr", "a number > 0, got nan"),
    (TRAIN + ["--seed", "-1"], "--seed", "an integer >= 0, got -1"),
    (TRAIN + ["--workers", "-2"], "--workers", "an integer >= 0, got -2"),
    (TRAIN + ["--max-frames", "-3"], "--max-frames", "an integer >= 1, got -3"),
    (TRAIN + ["--search-size", "0"], "--search-size", "an integer >= 1, got 0"),
    (TRAIN + ["--shift-of-reach", "-0.5"], "--shift-of-reach", "a number >= 0, got -0.5"),
    (TRAIN + ["--epochs", "two"], "--epochs", "an integer >= 1, got 'two'"),
    (DISTILL + ["--at-beta", "-1"], "--at-beta", "a number >= 0, got -1"),
    (DISTILL + ["--kd-temperature", "0"], "--kd-temperature", "a number > 0, got 0"),
    (DISTILL + ["--hint-weight", "inf"], "--hint-weight", "a number >= 0, got inf"),
    (DISTILL + ["--steps", "0"], "--steps", "an integer >= 1, got 0"),
    (DISTILL + ["--max-frames", "-3"], "--max-frames", "an integer >= 1, got -3"),
    (SPECIALIST + ["--on-policy", "1.5"], "--on-policy", "a number in [0, 1], got 1.5"),
    (SPECIALIST + ["--steps", "-1"], "--steps", "an integer >= 1, got -1"),
    (SPECIALIST + ["--boost", "0"], "--boost", "a number > 0, got 0"),
    (TRACK + ["--max-frames", "-3"], "--max-frames", "an integer >= 1, got -3"),
    (["env", "--seed", "-2"], "--seed", "an integer >= 0, got -2"),
    (["data", "mot", "--seed", "1", "--name", "n", "--out", "o", "--frames", "0"], "--frames", "an integer >= 1, got 0"),
    (["data", "mot", "--seed", "-1", "--name", "n", "--out", "o"], "--seed", "an integer >= 0, got -1"),
    (["tour", "--threads", "0"], "--threads", "an integer >= 1, got 0"),
    (["eval", "--gt", "g", "--results", "r", "--iou", "0"], "--iou", "a number in (0, 1], got 0"),
    (["eval", "--gt", "g", "--results", "r", "--iou", "1.5"], "--iou", "a number in (0, 1], got 1.5"),
])
def test_numeric_arguments_out_of_range_are_refused(argv, arg, expected, capsys):
    """Cases: numbers the CLI used to reinterpret (negative steps trained nothing and exited 0;
    0 fell back to the default; --max-frames -3 dropped the last 3 frames)."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert f"error: argument {arg}: expected {expected}" in capsys.readouterr().err


def test_range_types_accept_their_bounds():
    assert cli.positive_int("1") == 1 and cli.nonneg_int("0") == 0 and cli.nonneg_float("0") == 0.0
    assert cli.fraction("0") == 0.0 and cli.fraction("1") == 1.0 and cli.positive_float("1e-4") == 1e-4
    with pytest.raises(argparse.ArgumentTypeError, match="an integer >= 2, got 1"):
        cli.int_at_least(2)("1")


# --- failures found before any work ------------------------------------------------------------

@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a training recipe starts: the error must come before any work."""
    from kdtrack_lite.train import distill_mot, mot, sdst, sot

    def started(*args, **kwargs):
        raise AssertionError("training started before the bad input was found")

    for module, name in ((mot, "train_mot_detector"), (sot, "train_siamfc"), (distill_mot, "distill_mot_student"),
                         (sdst, "train_specialist")):
        monkeypatch.setattr(module, name, started)


def test_unwritable_out_is_found_before_training(tmp_path, capsys, monkeypatch, no_training):
    """Cases: --out below a file; --out an existing folder; --out in a folder that refuses writes
    (was: a raw PermissionError on a temporary file after the first epoch)."""
    (tmp_path / "file").write_text("x")
    assert main(["train", "sot", "--role", "student", "--fast", "--out", str(tmp_path / "file" / "s.pt")]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'file' / 's.pt'}: cannot write there, {tmp_path / 'file'} is a file, not a folder" in err
    assert main(["distill", "mot", "--losses", "at", "--fast", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a folder; give the path of a file to write" in capsys.readouterr().err

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("kdtrack_lite.fileio.tempfile.mkstemp", refused)  # as in a read-only folder (root ignores modes)
    out = tmp_path / "ro" / "s.pt"
    assert main(["sdst", "specialist", "--attribute", "IV", "--general", str(SOT_CKPT), "--fast",
                 "--out", str(out)]) == 2
    assert f"--out {out}: cannot write into {out.parent} (Permission denied)" in capsys.readouterr().err


def test_track_out_onto_a_file_is_refused_and_results_are_replaced(tmp_path, capsys):
    """Cases: ``track --out`` naming an existing file (was: a raw FileExistsError); a ``<seq>.txt``
    already in the --out folder is replaced (atomically, as ``cp`` would)."""
    (tmp_path / "taken.txt").write_text("keep me")
    assert main(["track", "sot", "--checkpoint", str(SOT_CKPT), "--data-root", str(tmp_path),
                 "--out", str(tmp_path / "taken.txt")]) == 2
    assert (f"--out {tmp_path / 'taken.txt'} is an existing file; give a folder (results go to --out/<seq>.txt)"
            in capsys.readouterr().err)
    assert (tmp_path / "taken.txt").read_text() == "keep me"

    from kdtrack_lite.data.lasot import write_sot_sequence
    from kdtrack_lite.data.sot_synth import SOTConfig, generate_sot_sequence

    seq = generate_sot_sequence(SOTConfig.make("fast", num_frames=10, width=160, height=120), seed=0, name="bird-1",
                                attributes=["FM"])
    write_sot_sequence(seq, tmp_path / "lasot" / "bird")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bird-1.txt").write_text("stale\n")
    assert main(["track", "sot", "--checkpoint", str(SOT_CKPT), "--data-root", str(tmp_path / "lasot"),
                 "--out", str(tmp_path / "results")]) == 0
    rows = (tmp_path / "results" / "bird-1.txt").read_text().splitlines()
    assert len(rows) == 10 and "stale" not in rows


@pytest.mark.parametrize("argv, arg, path, expected, found", [
    (["track", "mot", "--data-root", "nowhere", "--out", "{tmp}/r", "--checkpoint", str(SOT_CKPT)], "--checkpoint",
     SOT_CKPT, "MOT detector checkpoint (builder 'centertrack')", "SOT tracker (SiamFC) checkpoint (builder 'siamfc')"),
    (["track", "sot", "--data-root", "nowhere", "--out", "{tmp}/r", "--checkpoint", str(MOT_CKPT)], "--checkpoint",
     MOT_CKPT, "SOT tracker (SiamFC) checkpoint (builder 'siamfc')", "MOT detector checkpoint (builder 'centertrack')"),
    (["train", "mot", "--role", "student", "--fast", "--out", "{tmp}/m.pt", "--init", str(SOT_CKPT)], "--init",
     SOT_CKPT, "MOT detector checkpoint", "SOT tracker (SiamFC) checkpoint"),
    (["distill", "mot", "--losses", "at", "--fast", "--out", "{tmp}/d.pt", "--teacher", str(SOT_CKPT),
      "--student", str(MOT_CKPT)], "--teacher", SOT_CKPT, "MOT detector checkpoint", "SOT tracker (SiamFC) checkpoint"),
    (["sdst", "specialist", "--attribute", "IV", "--fast", "--out", "{tmp}/s.pt", "--general", str(MOT_CKPT)],
     "--general", MOT_CKPT, "SOT tracker (SiamFC) checkpoint", "MOT detector checkpoint"),
])
def test_checkpoint_of_the_wrong_family_is_refused(argv, arg, path, expected, found, tmp_path, capsys, no_training):
    """Cases: a SiamFC checkpoint where a detector is expected and the reverse (was: a raw
    TypeError/AttributeError, or a message about taps naming neither the argument nor the family)."""
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert f"error: {arg} {path}: expected a {expected}" in err and f"found a {found}" in err


def test_load_checkpoint_names_the_argument(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint file not found: --checkpoint .*nope\.pt"):
        load_checkpoint(tmp_path / "nope.pt", builder="siamfc", arg="--checkpoint")
    assert load_checkpoint(SOT_CKPT, builder="siamfc").builder == "siamfc"


def test_unknown_device_is_one_line(tmp_path, capsys, no_training):
    """Case: ``--device gpu`` (was: torch's RuntimeError)."""
    assert main(["train", "sot", "--role", "student", "--fast", "--device", "gpu", "--out", str(tmp_path / "s.pt")]) == 2
    assert "error: device 'gpu' is not a device name; expected cpu, cuda, cuda:N or mps" in capsys.readouterr().err


# --- how cli.main reports ----------------------------------------------------------------------

@pytest.fixture
def probe(monkeypatch):
    """A ``kdtrack probe`` command that raises what the test puts in ``raised[0]``."""
    cli.build_parser()  # import the command modules first: they register into the list patched below
    raised: list = []  # an exception to raise, or a function that raises one

    def register(sub):
        p = sub.add_parser("probe")

        def run(args):
            if callable(raised[0]):
                raised[0]()
            raise raised[0]

        p.set_defaults(func=run)

    monkeypatch.setattr(cli, "_COMMANDS", [*cli._COMMANDS, register])
    return raised


def test_cli_main_reports_user_errors_in_one_line_and_keeps_bug_tracebacks(probe, capsys, monkeypatch):
    probe[:] = [UserInputError("--gt x.txt: line 3 has 5 fields, expected 9")]
    assert main(["probe"]) == 2
    assert capsys.readouterr().err == "kdtrack probe: error: --gt x.txt: line 3 has 5 fields, expected 9\n"
    probe[:] = [PermissionError(13, "Permission denied", "/results/x.md")]
    assert main(["probe"]) == 2
    assert capsys.readouterr().err == "kdtrack probe: error: /results/x.md: Permission denied\n"
    probe[:] = [lambda: build("no_such_builder")]  # a KeyError the package raises with its own message
    assert main(["probe"]) == 2
    assert capsys.readouterr().err.startswith("kdtrack probe: error: unknown model builder 'no_such_builder'; known:")
    for bug, kind in ((TypeError("unsupported operand"), TypeError),
                      (AttributeError("'NoneType' has no attribute 'shape'"), AttributeError),
                      (lambda: torch.zeros(2) @ torch.zeros(3), RuntimeError),   # raised inside torch
                      (lambda: _cat(torch.zeros(2, 3), torch.zeros(3, 2)), RuntimeError),  # by torch, package line
                      (lambda: {}["missing"], KeyError)):                         # raised outside the package
        probe[:] = [bug]
        with pytest.raises(kind):
            main(["probe"])
    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")
    probe[:] = [UserInputError("shown with its traceback")]
    with pytest.raises(UserInputError):
        main(["probe"])



def test_world_is_a_mot_option(capsys):
    from kdtrack_lite.cli import main

    assert main(["train", "sot", "--role", "student", "--world", "mixed", "--out", "never.pt"]) == 2
    assert "--world is a MOT option" in capsys.readouterr().err
