"""Bad data and bad inputs end in a clear error (or a documented warning), never in a silent result.

Annotation files, evaluation, tracker inputs, the CLIP hub and the distillation losses, each case
checked against the exact message the user sees.
"""

import http.server
import shutil
import socket
import threading
import time

import numpy as np
import pytest
import torch

from kdtrack_lite.cli import main
from kdtrack_lite.data.framesio import DataFormatError
from kdtrack_lite.data.lasot import read_sot_sequence, write_sot_sequence
from kdtrack_lite.data.motchallenge import load_mot_gt, read_mot_sequence, write_mot_sequence
from kdtrack_lite.distill.attention import at_loss
from kdtrack_lite.distill.dcsd import dcsd_frame_loss, dcsd_local_loss, relation_loss
from kdtrack_lite.distill.hint import hint_loss
from kdtrack_lite.distill.multi_teacher import fixed_weights, multi_teacher_kd_loss, per_sample_kd
from kdtrack_lite.distill.response import binary_kd_loss, kd_loss, weighted_l1_loss
from kdtrack_lite.eval import mot as eval_mot
from kdtrack_lite.eval.mot import evaluate_mot
from kdtrack_lite.models.siamfc import SiamFCConfig, build_siamfc
from kdtrack_lite.quality.dswr import DSWRRegulator
from kdtrack_lite.teachers import TeacherUnavailable, load_clip_teacher
from kdtrack_lite.track.mot_tracker import MOTTracker
from kdtrack_lite.track.sot_tracker import SiamFCTracker


GT_ROWS = "1,1,10,10,20,40,1,1,1\n2,1,12,10,20,40,1,1,1\n"


def _gt_folder(root, name="seq", rows=GT_ROWS, seq_length=None):
    """``root/<name>/gt/gt.txt`` (and a seqinfo.ini when ``seq_length`` is given)."""
    (root / name / "gt").mkdir(parents=True)
    (root / name / "gt" / "gt.txt").write_text(rows)
    if seq_length is not None:
        (root / name / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nseqLength={seq_length}\n")
    return root / name


# --- annotation files: each error names the file and the line -------------------------------------

def test_seqinfo_without_header_names_file_and_line(tmp_path, mot):
    d = write_mot_sequence(mot, tmp_path)
    text = (d / "seqinfo.ini").read_text()
    (d / "seqinfo.ini").write_text(text.replace("[Sequence]\n", ""))
    with pytest.raises(DataFormatError, match=r"seqinfo\.ini:1: no section header before 'name=.*'; "
                                              r"seqinfo\.ini starts with a \[Sequence\] line"):
        read_mot_sequence(d)
    with pytest.raises(DataFormatError, match=r"seqinfo\.ini:1: no section header"):
        load_mot_gt(d)  # kdtrack eval reads only seqLength, through the same parser


def test_empty_frame_attributes_csv_names_the_file(tmp_path, sot):
    d = write_sot_sequence(sot, tmp_path)
    (d / "frame_attributes.csv").write_text("")
    with pytest.raises(DataFormatError, match=r"frame_attributes\.csv:1: empty, expected a header of attribute "
                                              r"names and one 0/1 row per frame"):
        read_sot_sequence(d)


def test_invalid_utf8_names_file_and_line(tmp_path, mot):
    d = write_mot_sequence(mot, tmp_path)
    gt = d / "gt" / "gt.txt"
    lines = gt.read_bytes().splitlines(keepends=True)
    gt.write_bytes(lines[0] + b"2,1,\xff,1,1,1,1,1,1\n" + b"".join(lines[1:]))
    with pytest.raises(DataFormatError, match=r"gt\.txt:2: byte 0xff is not valid UTF-8"):
        read_mot_sequence(d)
    shutil.rmtree(d)
    d = write_mot_sequence(mot, tmp_path)
    (d / "seqinfo.ini").write_bytes(b"[Sequence]\nname=caf\xe9\n")
    with pytest.raises(DataFormatError, match=r"seqinfo\.ini:2: byte 0xe9 is not valid UTF-8"):
        read_mot_sequence(d)


def test_malformed_meta_json_names_file_and_line(tmp_path, mot, sot):
    d = write_mot_sequence(mot, tmp_path / "mot")
    (d / "kdtrack_meta.json").write_text('{\n "seed": 1,\n "config": {\n')
    with pytest.raises(DataFormatError, match=r"kdtrack_meta\.json:4: not valid JSON"):
        read_mot_sequence(d)
    s = write_sot_sequence(sot, tmp_path / "sot")
    (s / "kdtrack_meta.json").write_text("[1, 2]\n")
    with pytest.raises(DataFormatError, match=r"kdtrack_meta\.json: expected a JSON object \{\.\.\.\}, got a list"):
        read_sot_sequence(s)


def test_nan_gt_box_names_file_and_line(tmp_path, mot):
    d = write_mot_sequence(mot, tmp_path)
    gt = d / "gt" / "gt.txt"
    lines = gt.read_text().splitlines()
    fields = lines[2].split(",")
    fields[4] = "nan"
    lines[2] = ",".join(fields)
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"gt\.txt:3: column 5 is 'nan', expected a number \(finite"):
        read_mot_sequence(d)


def test_lasot_without_full_occlusion_warns_naming_the_file(tmp_path, sot):
    d = write_sot_sequence(sot, tmp_path)
    (d / "full_occlusion.txt").unlink()
    (d / "frame_attributes.csv").unlink()  # no FOC column to fall back on either
    with pytest.warns(UserWarning, match=r"full_occlusion\.txt: missing; every frame is read as 0 \(target visible\)"):
        seq = read_sot_sequence(d)
    assert not seq.full_occlusion.any()


def test_got10k_absence_label_must_be_0_or_1(tmp_path, sot):
    d = write_sot_sequence(sot, tmp_path, layout="got10k")
    lines = (d / "absence.label").read_text().splitlines()
    lines[3] = "7"
    (d / "absence.label").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"absence\.label:4: flag is 7, expected 0 or 1"):
        read_sot_sequence(d)


# --- kdtrack eval: nothing dropped, nothing unbounded ------------------------------------------------

def test_gt_beyond_seq_length_is_an_error_naming_file_and_line(tmp_path):
    _gt_folder(tmp_path / "gt", rows=GT_ROWS + "9,1,12,10,20,40,1,1,1\n", seq_length=5)
    (tmp_path / "res.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    # before: HOTA left the row out (100) while CLEAR counted it as a miss (MOTA 67)
    with pytest.raises(DataFormatError, match=r"gt\.txt:3: frame 9 is beyond seqLength=5 in .*seqinfo\.ini"):
        evaluate_mot(tmp_path / "gt", tmp_path / "res.txt")
    gt = np.array([[1, 1, 10, 10, 20, 40, 1, 1, 1], [9, 1, 10, 10, 20, 40, 1, 1, 1]], float)
    with pytest.raises(ValueError, match=r"ground-truth sequence 'a', row 1: frame 9 is beyond the sequence "
                                         r"\(frames 1\.\.5\)"):
        evaluate_mot({"a": gt}, {"a": gt[:1, :7]}, seq_lengths={"a": 5})


def test_sequence_without_gt_file_is_an_error_naming_it(tmp_path):
    _gt_folder(tmp_path / "gt", "seq-a")
    (tmp_path / "gt" / "seq-b" / "img1").mkdir(parents=True)  # a sequence folder, its gt/gt.txt missing
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "seq-a.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    with pytest.raises(FileNotFoundError, match=r"seq-b/gt/gt\.txt: missing; sequence folder 'seq-b' has no "
                                                r"ground truth"):
        evaluate_mot(tmp_path / "gt", tmp_path / "res")


def test_empty_gt_is_an_error_not_mota_minus_inf(tmp_path, capsys):
    _gt_folder(tmp_path / "gt", rows="1,1,10,10,20,40,0,1,1\n2,1,10,10,20,40,0,1,1\n")  # conf 0: ignored
    (tmp_path / "res.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    gt_file = tmp_path / "gt" / "seq" / "gt" / "gt.txt"
    # before: MOTA -inf printed, exit code 0
    assert main(["eval", "--gt", str(gt_file), "--results", str(tmp_path / "res.txt")]) == 2
    err = capsys.readouterr().err
    assert "gt.txt: has 2 row(s), all with conf = 0 (ignored): no ground-truth box to evaluate against " \
           "(MOTA would be -inf)" in err
    gt_file.write_text("")
    with pytest.raises(DataFormatError, match=r"gt\.txt: has no rows: no ground-truth box to evaluate against"):
        load_mot_gt(gt_file)


def test_frame_typo_without_seqinfo_is_found_fast(tmp_path):
    (tmp_path / "res.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    _gt_folder(tmp_path / "typo", rows=GT_ROWS + "100000000,1,12,10,20,40,1,1,1\n")
    t0 = time.perf_counter()
    with pytest.raises(DataFormatError, match=r"gt\.txt:3: frame 100000000 is above 1000000, taken as a typo"):
        evaluate_mot(tmp_path / "typo", tmp_path / "res.txt")
    # below the bound the work follows the rows, not the frame numbers: 900000 frames, 3 rows
    _gt_folder(tmp_path / "far", rows=GT_ROWS + "900000,1,12,10,20,40,1,1,1\n")
    row = evaluate_mot(tmp_path / "far" / "seq" / "gt" / "gt.txt", tmp_path / "res.txt").per_sequence.iloc[0]
    assert time.perf_counter() - t0 < 10
    assert row["FN"] == 2 and row["MOTA"] == pytest.approx(100 / 3)  # the far row counts in CLEAR ...
    assert row["DetA"] == pytest.approx(100 / 3)  # ... and in HOTA alike (1 TP of 3 boxes at every alpha)


def test_eval_out_unwritable_fails_before_evaluating(tmp_path, capsys, monkeypatch):
    _gt_folder(tmp_path / "gt")
    (tmp_path / "res.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    (tmp_path / "a_file").write_text("")
    monkeypatch.setattr(eval_mot, "evaluate_mot", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    code = main(["eval", "--gt", str(tmp_path / "gt"), "--results", str(tmp_path / "res.txt"),
                 "--out", str(tmp_path / "a_file" / "table.md")])
    assert code == 2
    assert "--out" in capsys.readouterr().err


# --- tracker inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("row, match", [
    ([10, 10, np.nan, 50, 0.9, 0], r"detection row 1 \[.*\] holds NaN or inf; expected finite"),
    ([10, 10, np.inf, 50, 0.9, 0], r"detection row 1 \[.*\] holds NaN or inf"),
    ([50, 10, 10, 50, 0.9, 0], r"detection row 1 \[50\.0, 10\.0, 10\.0, 50\.0\] is not an \[x1, y1, x2, y2\] box "
                               r"\(x2 >= x1 and y2 >= y1 expected\)"),
])
def test_mot_tracker_refuses_bad_rows_and_keeps_no_track(row, match):
    tracker = MOTTracker()
    dets = np.array([[100, 100, 120, 140, 0.9, 0], row], float)
    with pytest.raises(ValueError, match=match):
        tracker.update(dets)
    assert tracker.tracks == [] and tracker.frame_count == 0


@pytest.fixture(scope="module")
def siamfc_tracker():
    torch.manual_seed(0)
    return SiamFCTracker(build_siamfc(SiamFCConfig.make("fast")))


def test_siamfc_refuses_float_frames(siamfc_tracker):
    frame = np.random.default_rng(0).random((96, 96, 3))  # floats in [0, 1]
    with pytest.raises(ValueError, match=r"frame must be uint8 RGB in 0\.\.255, got dtype float64; for a float "
                                         r"frame in \[0, 1\] pass \(frame \* 255\)"):
        siamfc_tracker.init(frame, [30, 30, 20, 20])


@pytest.mark.parametrize("box, match", [
    ([np.nan, 30, 20, 20], r"four finite numbers with w, h > 0"),
    ([30, 30, 0, 20], r"four finite numbers with w, h > 0"),
    ([30, 30, 20, -5], r"four finite numbers with w, h > 0"),
    ([200, 30, 20, 20], r"lies entirely outside the 96x96 frame"),
    ([-40, 30, 20, 20], r"lies entirely outside the 96x96 frame"),
])
def test_siamfc_refuses_boxes_it_cannot_track(siamfc_tracker, box, match):
    frame = np.zeros((96, 96, 3), np.uint8)
    with pytest.raises(ValueError, match=match):
        siamfc_tracker.init(frame, box)


# --- the CLIP hub: the whole load is bounded --------------------------------------------------------

@pytest.fixture()
def hub_env(monkeypatch, tmp_path):
    for name in ("HF_HUB_OFFLINE", "KDTRACK_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # open_clip's URL cache ~/.cache/clip is empty
    return str(tmp_path / "hf_cache")


def test_hub_that_accepts_but_never_answers_is_given_up_fast(hub_env, monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel accepts connections; nobody ever reads or answers
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        t0 = time.perf_counter()
        with pytest.raises(TeacherUnavailable, match=r"no answer from 127\.0\.0\.1:\d+ within 1 s"):
            load_clip_teacher("RN50", "openai", allow_fallback=False, cache_dir=hub_env)
        assert time.perf_counter() - t0 < 5  # before: about a minute of download retries
    finally:
        server.close()


def test_hub_that_stalls_the_download_is_bounded(hub_env, monkeypatch):
    import open_clip

    class Answering(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # the probe's HEAD / is answered at once
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    release = threading.Event()

    def stalled_download(*args, **kwargs):  # the download behind the probe never completes
        release.wait(30)
        raise OSError("released by the test")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(open_clip, "create_model", stalled_download)
    try:
        t0 = time.perf_counter()
        with pytest.raises(TeacherUnavailable, match=r"the download of 'RN50'/'openai' did not finish within 1 s "
                                                     r"\(download_timeout=1\)"):
            load_clip_teacher("RN50", "openai", allow_fallback=False, cache_dir=hub_env, download_timeout=1.0)
        assert time.perf_counter() - t0 < 5
    finally:
        release.set()  # ends the abandoned download thread
        server.shutdown()


def test_invalid_hf_endpoint_is_named(hub_env, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "huggingface.co")
    with pytest.raises(TeacherUnavailable, match=r"HF_ENDPOINT='huggingface\.co' is not a URL \(expected "
                                                 r"http\(s\)://host\[:port\]"):
        load_clip_teacher("RN50", "openai", allow_fallback=False, cache_dir=hub_env)


# --- losses: one rule for empty batches and non-finite inputs ---------------------------------------

def _nan(t):
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


LOSSES = {  # name: (loss(student, teacher), shape, student argument name, teacher argument name)
    "kd_loss": (kd_loss, (2, 1, 5, 5), "logits_s", "logits_t"),
    "binary_kd_loss": (binary_kd_loss, (2, 1, 5, 5), "logits_s", "logits_t"),
    "weighted_l1_loss": (lambda s, t: weighted_l1_loss(s, t, torch.ones(len(s), 1, 5, 5)), (2, 2, 5, 5),
                         "pred_s", "pred_t"),
    "at_loss": (at_loss, (2, 3, 5, 5), "feat_s", "feat_t"),
    "hint_loss": (hint_loss, (2, 3, 5, 5), "feat_s_adapted", "feat_t"),
    "per_sample_kd": (lambda s, t: per_sample_kd(s, t).sum(), (2, 1, 5, 5), "logits_s", "logits_t"),
    "multi_teacher_kd_loss": (lambda s, t: multi_teacher_kd_loss(s, [t], torch.ones(len(s), 1)), (2, 1, 5, 5),
                              "logits_s", "logits_teachers[0]"),
    "dcsd_local_loss": (dcsd_local_loss, (2, 3, 8), "tokens_s", "crops_t"),
    "dcsd_frame_loss": (dcsd_frame_loss, (2, 8), "frame_s", "frame_t"),
    "relation_loss": (relation_loss, (3, 8), "feats_s", "feats_t"),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_of_an_empty_batch_is_zero_with_a_graph(name):
    loss_fn, shape, _, _ = LOSSES[name]
    student = torch.zeros((0,) + shape[1:], requires_grad=True)
    loss = loss_fn(student, torch.zeros((0,) + shape[1:]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert student.grad is not None and student.grad.shape == student.shape


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_refuses_nan_input_naming_the_argument(name):
    loss_fn, shape, s_name, t_name = LOSSES[name]
    torch.manual_seed(0)
    s, t = torch.randn(shape), torch.randn(shape)
    for args, arg_name in (((_nan(s), t), s_name), ((s, _nan(t)), t_name)):
        with pytest.raises(ValueError, match=rf"argument '{arg_name.replace('[', '.').replace(']', '.')}' holds "
                                             rf"1 NaN/inf value\(s\) out of \d+; a loss needs finite inputs"):
            loss_fn(*args)


def test_fixed_weights_refuse_a_row_with_no_teacher():
    gate = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"fixed_weights: sample 1 has no teacher gated in \(its gate row is all 0"):
        fixed_weights(gate)  # before: a row of NaN weights


def test_multi_teacher_loss_without_teachers_is_a_clear_error():
    with pytest.raises(ValueError, match=r"multi_teacher_kd_loss: logits_teachers is empty; give at least the "
                                         r"general teacher's logits"):
        multi_teacher_kd_loss(torch.randn(2, 1, 5, 5), [], torch.zeros(2, 0))


def test_dswr_refuses_nan_quality():
    with pytest.raises(ValueError, match=r"DSWRRegulator: quality row 1 \[.*\] holds NaN or inf"):
        DSWRRegulator()(torch.tensor([[0.5, 0.5, 0.5], [float("nan"), 0.5, 0.5]]))
