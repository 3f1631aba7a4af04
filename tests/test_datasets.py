"""Datasets: the clips layout and a tiny DAVIS 2017 layout, both written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hyperseg_vfx.data import DatasetError, open_dataset
from hyperseg_vfx.errors import HypersegError
from image_files import write_image

H, W = 12, 16


def _matte() -> np.ndarray:
    matte = np.zeros((H, W), np.float32)
    matte[2:8, 3:9] = 0.6  # inside the truth (> 0.5)
    matte[8:10, 3:9] = 0.4  # soft edge below the threshold
    return matte


def _clips_root(root: Path) -> Path:
    """b_clip: 8-bit PNG plates and one-channel PNG mattes, frames 1001-1002; a_clip: EXR plates
    and RGBA EXR mattes (matte in A), frames 7 and 9 (no frame 8)."""
    rng = np.random.default_rng(0)
    for frame in (1001, 1002):
        write_image(root / "b_clip/rgb" / f"b_clip.{frame}.png", rng.random((H, W, 3)), fmt="uint8")
        write_image(root / "b_clip/alpha" / f"b_clip.{frame}.png", _matte(), fmt="uint8")
    for frame in (7, 9):
        write_image(root / "a_clip/rgb" / f"plate.{frame:04d}.exr", rng.random((H, W, 3)) * 0.5)
        rgba = np.concatenate([np.zeros((H, W, 3), np.float32), _matte()[..., None]], axis=2)
        write_image(root / "a_clip/alpha" / f"matte.{frame:04d}.exr", rgba, channels=("R", "G", "B", "A"))
    return root


@pytest.fixture()
def clips_root(tmp_path) -> Path:
    for sub in ("b_clip/rgb", "b_clip/alpha", "a_clip/rgb", "a_clip/alpha"):
        (tmp_path / sub).mkdir(parents=True)
    return _clips_root(tmp_path)


def test_clips_are_ordered_by_clip_then_frame_with_previous_frames(clips_root):
    samples = open_dataset(f"clips:{clips_root}")
    assert [(s.clip, s.frame) for s in samples] == [("a_clip", 7), ("a_clip", 9), ("b_clip", 1001), ("b_clip", 1002)]
    assert [s.key for s in samples] == ["a_clip/7", "a_clip/9", "b_clip/1001", "b_clip/1002"]
    assert samples[1].prev_rgb_path is None  # frame 8 does not exist
    assert samples[3].prev_rgb_path == samples[2].rgb_path
    assert all(s.object_id is None for s in samples)


def test_clip_samples_load_frames_and_truth_from_png_and_exr_mattes(clips_root):
    expected = _matte() > 0.5
    for sample in open_dataset(f"clips:{clips_root}"):
        loaded = sample.load()
        assert loaded.rgb.shape == (H, W, 3) and loaded.rgb.dtype == np.float32
        assert 0.0 <= loaded.rgb.min() and loaded.rgb.max() <= 1.0
        assert loaded.prev_rgb.shape == (H, W, 3)
        np.testing.assert_array_equal(loaded.mask, expected)
        assert loaded.void is None and loaded.others is None
    first = open_dataset(f"clips:{clips_root}")[2].load()
    np.testing.assert_array_equal(first.prev_rgb, first.rgb)  # no previous frame: the frame itself


def test_clip_errors_name_the_problem(tmp_path, clips_root):
    with pytest.raises(DatasetError, match="no samples"):
        (tmp_path / "empty").mkdir()
        open_dataset(f"clips:{tmp_path / 'empty'}")
    with pytest.raises(DatasetError, match="not a folder"):
        open_dataset(f"clips:{tmp_path / 'missing'}")
    with pytest.raises(HypersegError, match="bad dataset spec"):
        open_dataset(f"frames:{clips_root}")
    matte = clips_root / "b_clip/alpha/b_clip.1002.png"
    kept = matte.read_bytes()
    matte.unlink()
    with pytest.raises(DatasetError, match=r"b_clip: frames \[1002\]"):
        open_dataset(f"clips:{clips_root}")
    matte.write_bytes(kept)
    (clips_root / "c_clip/rgb").mkdir(parents=True)
    with pytest.raises(DatasetError, match="c_clip needs rgb/ and alpha/"):
        open_dataset(f"clips:{clips_root}")


def _davis_root(root: Path) -> Path:
    """Two sequences; 'bear' has objects 1 and 2 in frame 0 and only 1 in frame 1, with void."""
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (253 * 3)
    palette[255 * 3 : 256 * 3] = [224, 224, 192]
    labels = {"bear": [np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint8)], "cows": [np.zeros((H, W), np.uint8)]}
    labels["bear"][0][1:5, 1:5] = 1
    labels["bear"][0][6:10, 8:14] = 2
    labels["bear"][0][5, 1:5] = 255
    labels["bear"][1][2:6, 2:6] = 1
    labels["cows"][0][3:9, 3:9] = 3
    rng = np.random.default_rng(1)
    for sequence, frames in labels.items():
        for index, label in enumerate(frames):
            for kind, suffix in (("JPEGImages", "jpg"), ("Annotations", "png")):
                (root / kind / "480p" / sequence).mkdir(parents=True, exist_ok=True)
            Image.fromarray((rng.random((H, W, 3)) * 255).astype(np.uint8)).save(
                root / "JPEGImages/480p" / sequence / f"{index:05d}.jpg")
            image = Image.fromarray(label, mode="P")
            image.putpalette(palette)
            image.save(root / "Annotations/480p" / sequence / f"{index:05d}.png")
    (root / "ImageSets/2017").mkdir(parents=True)
    (root / "ImageSets/2017/val.txt").write_text("cows\n")
    return root


def test_davis_gives_one_sample_per_present_object_with_void_and_other_objects(tmp_path):
    root = _davis_root(tmp_path)
    samples = open_dataset(f"davis:{root}")
    assert [s.key for s in samples] == ["bear/0/1", "bear/0/2", "bear/1/1", "cows/0/3"]
    assert samples[2].prev_rgb_path == samples[0].rgb_path and samples[0].prev_rgb_path is None
    loaded = samples[1].load()  # object 2 of bear frame 0
    assert loaded.rgb.shape == (H, W, 3)
    assert loaded.mask.sum() == 4 * 6 and loaded.mask[6:10, 8:14].all()
    assert loaded.void.sum() == 4 and loaded.void[5, 1:5].all()
    assert loaded.others.sum() == 16 and loaded.others[1:5, 1:5].all()  # object 1, not void


def test_davis_split_and_resolution_options(tmp_path):
    root = _davis_root(tmp_path)
    assert [s.key for s in open_dataset(f"davis:{root}:val")] == ["cows/0/3"]
    assert [s.key for s in open_dataset(f"davis:{root}:val:480p")] == ["cows/0/3"]
    with pytest.raises(DatasetError, match="Full-Resolution is not a folder"):
        open_dataset(f"davis:{root}:Full-Resolution")
    with pytest.raises(DatasetError, match="train.txt not found"):
        open_dataset(f"davis:{root}:train")
    with pytest.raises(DatasetError, match="bad dataset spec"):
        open_dataset(f"davis:{root}:val:test")


def test_resampled_samples_are_read_at_another_size_with_a_smooth_truth(clips_root):
    from hyperseg_vfx.data.datasets import resampled

    samples = open_dataset(f"clips:{clips_root}")
    bigger = resampled(samples, 4 * W, 4 * H)
    assert [s.key for s in bigger] == [f"{s.key}@{4 * W}x{4 * H}" for s in samples]
    assert [(s.clip, s.frame, s.object_id) for s in bigger] == [(s.clip, s.frame, s.object_id) for s in samples]
    loaded, native = bigger[3].load(), samples[3].load()
    assert loaded.rgb.shape == loaded.prev_rgb.shape == (4 * H, 4 * W, 3) and loaded.mask.shape == (4 * H, 4 * W)
    assert loaded.rgb.dtype == np.float32 and 0 <= loaded.rgb.min() and loaded.rgb.max() <= 1
    # The 0.6 block (rows 2-7, columns 3-8) over 0 / 0.4: the bilinear truth crosses 0.5 inside the
    # edge pixels, not on the 4x4 blocks a nearest upsampling of the thresholded mask would give.
    assert loaded.mask[4 * 5, 4 * 3 + 3] and not loaded.mask[4 * 5, 4 * 3 - 2]
    assert loaded.mask.sum() < 16 * native.mask.sum()
    assert np.abs(loaded.rgb[::4, ::4].mean() - native.rgb.mean()) < 0.02
    smaller = resampled(samples, W // 2, H // 2)[0].load()
    assert smaller.rgb.shape == (H // 2, W // 2, 3)
