"""MOTChallenge and LaSOT/GOT-10k readers/writers: round trips and clear errors on bad input."""

import shutil

import numpy as np
import pytest

from kdtrack_lite.data.framesio import DataFormatError
from kdtrack_lite.data.lasot import read_sot_sequence, write_sot_sequence
from kdtrack_lite.data.motchallenge import (read_mot_sequence, read_mot_txt, write_mot_results,
                                            write_mot_sequence)


def test_mot_round_trip_png_is_exact(tmp_path, mot):
    mot.degradation = {"noise": np.linspace(0, 1, mot.num_frames)}
    d = write_mot_sequence(mot, tmp_path, ext=".png")
    back = read_mot_sequence(d)
    assert back.name == mot.name and back.fps == mot.fps
    np.testing.assert_array_equal(back.frames, mot.frames)
    np.testing.assert_array_equal(back.gt, mot.gt)
    np.testing.assert_allclose(back.degradation["noise"], mot.degradation["noise"])
    assert back.meta["seed"] == 1
    lazy = read_mot_sequence(d, load_frames=False)
    assert lazy.frames.shape == mot.frames.shape


def test_mot_round_trip_jpeg_is_close(tmp_path, mot):
    back = read_mot_sequence(write_mot_sequence(mot, tmp_path))
    err = np.abs(back.frames.astype(int) - mot.frames.astype(int)).mean()
    assert err < 6
    np.testing.assert_array_equal(back.gt, mot.gt)


def test_mot15_gt_and_7_column_det(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("2,1,10,20,30,40,1,-1,-1,-1\n1,2,5.5,6,7,8,1,-1,-1,-1\n")
    gt = read_mot_txt(p, "gt")
    np.testing.assert_array_equal(gt, [[1, 2, 5.5, 6, 7, 8, 1, 1, 1], [2, 1, 10, 20, 30, 40, 1, 1, 1]])
    p.write_text("1,-1,1,2,3,4,0.9\n")
    assert read_mot_txt(p, "det").tolist() == [[1, -1, 1, 2, 3, 4, 0.9, -1, -1, -1]]


def test_results_writer_round_trip(tmp_path):
    rows = np.array([[2, 1, 1.25, 2, 3, 4, 0.5, -1, -1, -1], [1, 3, 0, 0, 1, 1, 1, -1, -1, -1]])
    write_mot_results(tmp_path / "r.txt", rows)
    np.testing.assert_array_equal(read_mot_txt(tmp_path / "r.txt", "results"), rows[::-1])
    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        write_mot_results(tmp_path / "bad.txt", rows[:, :6])


@pytest.mark.parametrize("line, message", [
    ("1,2,3,4,5", r"gt\.txt:2: expected 9 or 10 comma-separated columns"),
    ("1,2,abc,4,5,6,1,1,1", r"gt\.txt:2: column 3 is 'abc', expected a number"),
    ("1,2,3,4,-5,6,1,1,1", r"gt\.txt:2: box size w=-5"),
    ("0,2,3,4,5,6,1,1,1", r"gt\.txt:2: frame is 0, expected an integer >= 1"),
    ("1,2,3,4,5,6,1,1,1.5", r"gt\.txt:2: visibility is 1.5"),
])
def test_malformed_gt_names_file_and_line(tmp_path, line, message):
    p = tmp_path / "gt.txt"
    p.write_text("1,1,1,1,1,1,1,1,1\n" + line + "\n")
    with pytest.raises(DataFormatError, match=message):
        read_mot_txt(p, "gt")


def test_malformed_mot_folders(tmp_path, mot):
    d = write_mot_sequence(mot, tmp_path)
    (d / "img1" / "000003.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"img1: frame index gap, missing frame file\(s\) 000003"):
        read_mot_sequence(d)
    d2 = write_mot_sequence(mot, tmp_path / "b")
    (d2 / "img1" / "000006.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"missing frame file\(s\) 000006.*1\.\.6"):
        read_mot_sequence(d2)
    (d2 / "seqinfo.ini").unlink()
    with pytest.raises(DataFormatError, match=r"seqinfo\.ini: missing"):
        read_mot_sequence(d2)
    d3 = write_mot_sequence(mot, tmp_path / "c")
    with open(d3 / "gt" / "gt.txt", "a") as f:
        f.write("99,1,1,1,1,1,1,1,1\n")
    with pytest.raises(DataFormatError, match=r"gt\.txt:\d+: frame 99 is beyond seqLength=6"):
        read_mot_sequence(d3, load_frames=False)


@pytest.mark.parametrize("layout", ["lasot", "got10k"])
def test_sot_round_trip(tmp_path, sot, layout):
    d = write_sot_sequence(sot, tmp_path, layout=layout, ext=".png")
    assert (d / "img").is_dir() == (layout == "lasot")
    back = read_sot_sequence(d)
    np.testing.assert_array_equal(back.frames, sot.frames)
    np.testing.assert_array_equal(back.boxes_tlwh, sot.boxes_tlwh)
    np.testing.assert_array_equal(back.full_occlusion, sot.full_occlusion)
    np.testing.assert_array_equal(back.out_of_view, sot.out_of_view)
    assert back.attributes == sot.attributes
    for a, v in sot.frame_attributes.items():
        np.testing.assert_array_equal(back.frame_attributes[a], v)


def test_real_lasot_style_folder_without_extras(tmp_path, sot):
    d = write_sot_sequence(sot, tmp_path, layout="lasot")
    (d / "frame_attributes.csv").unlink()
    (d / "attributes.txt").unlink()
    (d / "kdtrack_meta.json").unlink()
    (d / "full_occlusion.txt").write_text(",".join(["0"] * 7 + ["1"]) + "\n")
    back = read_sot_sequence(d)
    assert back.full_occlusion.tolist() == [False] * 7 + [True] and back.attributes == ["OCC", "FOC"]


def test_malformed_sot_folders(tmp_path, sot):
    d = write_sot_sequence(sot, tmp_path, layout="lasot")
    gt = d / "groundtruth.txt"
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:2] + ["1,2,x,4"] + lines[3:]) + "\n")
    with pytest.raises(DataFormatError, match=r"groundtruth\.txt:3: column 3 is 'x'"):
        read_sot_sequence(d)
    gt.write_text("\n".join(lines[:2] + ["1,2,3"] + lines[3:]) + "\n")
    with pytest.raises(DataFormatError, match=r"groundtruth\.txt:3: expected 4 comma-separated columns"):
        read_sot_sequence(d)
    gt.write_text("\n".join(lines[:2] + ["1,2,-3,4"] + lines[3:]) + "\n")
    with pytest.raises(DataFormatError, match=r"groundtruth\.txt:3: box size w=-3"):
        read_sot_sequence(d)
    gt.write_text("\n".join(lines + ["1,2,3,4"]) + "\n")  # one more box than frames
    with pytest.raises(DataFormatError, match=r"missing frame file\(s\) 00000009"):
        read_sot_sequence(d)
    gt.write_text("\n".join(lines) + "\n")
    (d / "out_of_view.txt").write_text("0,1\n")
    with pytest.raises(DataFormatError, match=r"out_of_view\.txt:1: expected 8 comma-separated"):
        read_sot_sequence(d)
    shutil.rmtree(d / "img")
    with pytest.raises(DataFormatError, match="neither img/"):
        read_sot_sequence(d)
