"""Contact sheets: grid size, matte tint, click dots, frames without mattes, no-font fallback."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner
from image_files import read_image

from hyperseg_vfx import preview
from hyperseg_vfx.cli import main
from hyperseg_vfx.io.exr import write_matte_exr
from hyperseg_vfx.io.images import read_frame
from hyperseg_vfx.shot import load_shot
from hyperseg_vfx.synthetic import synthetic_frame

W, H = 96, 64


def read_png(path):
    spec, pixels = read_image(path, oiio.UINT8)
    return spec, pixels.astype(int)


@pytest.fixture
def shot(tmp_path, make_shot):
    """A 4-frame shot with true mattes written for 1001-1003 (1004 has none)."""
    shot = load_shot(make_shot(tmp_path, "1001-1004", (W, H)))
    for frame in (1001, 1002, 1003):
        write_matte_exr(shot.output_path(frame), synthetic_frame(W, H, 7, frame - 1001).alpha)
    return shot


def inside_away_from_clicks(shot, frame, alpha_value):
    """(row, col) of a pixel with the given true alpha, far from the clicks and the label."""
    alpha = synthetic_frame(W, H, 7, frame - 1001).alpha
    ys, xs = np.mgrid[0:H, 0:W] + 0.5
    far = np.ones_like(alpha, bool)
    for click in shot.clicks_at(frame):
        far &= np.hypot(xs - click.x, ys - click.y) > 8
    far[H - 20 :, :40] = False  # the label
    rows, cols = np.nonzero((alpha == alpha_value) & far)
    return rows[len(rows) // 2], cols[len(cols) // 2]


def test_sheet_grid_tint_and_clicks(shot, tmp_path):
    out = tmp_path / "sheet.png"
    sheet = preview.write_contact_sheet(shot, out, count=4)
    assert sheet.frames == [1001, 1002, 1003, 1004] and sheet.missing == [1004]
    layout = sheet.layout
    assert (layout.columns, layout.rows, layout.tile_width, layout.tile_height) == (2, 2, W, H)
    spec, pixels = read_png(out)
    assert (spec.width, spec.height, spec.nchannels) == (2 * W + 3 * 4, 2 * H + 3 * 4, 3)
    assert spec.format == oiio.UINT8

    for index, frame in enumerate(sheet.frames):
        x0, y0 = layout.origin(index)
        tile = pixels[y0 : y0 + H, x0 : x0 + W]
        plate = np.round(read_frame(shot.input_path(frame)).rgb * 255)
        row, col = inside_away_from_clicks(shot, frame, 1.0)
        if frame in sheet.missing:  # no matte: the plate as it is
            assert np.abs(tile[row, col] - plate[row, col]).max() <= 1
        else:  # 50% red tint on the matte, none outside it
            expected = plate[row, col] * 0.5 + np.array([127.5, 0, 0])
            assert np.abs(tile[row, col] - expected).max() <= 1.5
            row, col = inside_away_from_clicks(shot, frame, 0.0)
            assert np.abs(tile[row, col] - plate[row, col]).max() <= 1
        positive, negative = shot.clicks_at(frame)
        assert tile[int(positive.y), int(positive.x)].tolist() == [0, 255, 0]
        assert tile[int(negative.y), int(negative.x)].tolist() == [255, 0, 0]
        # a dark outline around the dot
        assert tile[int(positive.y), int(positive.x) + 4].max() < 30


def test_sheet_without_fonts_crosses_out_missing_frames(shot, tmp_path, monkeypatch):
    monkeypatch.setattr(oiio.ImageBufAlgo, "render_text", lambda *a, **k: False)
    sheet = preview.write_contact_sheet(shot, tmp_path / "sheet.png", count=4)
    assert not sheet.labels and sheet.missing == [1004]
    _spec, pixels = read_png(tmp_path / "sheet.png")
    x0, y0 = sheet.layout.origin(3)
    assert pixels[y0, x0].tolist() == [128, 128, 128]  # the cross's corner


def test_large_frames_are_scaled_down_and_frames_sampled(tmp_path, make_shot):
    shot = load_shot(make_shot(tmp_path, "1001-1010", (200, 120)))
    sheet = preview.contact_sheet(shot, count=3, max_tile_width=100)
    assert sheet.frames == [1001, 1005, 1010] and sheet.missing == sheet.frames
    assert (sheet.layout.columns, sheet.layout.rows) == (2, 2)
    assert (sheet.layout.tile_width, sheet.layout.tile_height) == (100, 60)
    assert sheet.pixels.shape == (2 * 60 + 12, 2 * 100 + 12, 3)


def test_sample_frames():
    frames = list(range(1001, 1011))
    assert preview.sample_frames(frames, 2) == [1001, 1010]
    assert preview.sample_frames(frames, 20) == frames
    assert preview.sample_frames([5], 6) == [5]
    with pytest.raises(preview.PreviewError):
        preview.sample_frames(frames, 0)


def test_preview_command(shot, tmp_path):
    out = tmp_path / "out" / "sheet.png"
    result = CliRunner().invoke(main, ["preview", shot.path, "--out", str(out), "--frames", "1002-1004", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert "frames 1002, 1004 (1 without a matte: 1004)" in result.stdout
    spec, _pixels = read_png(out)
    assert (spec.width, spec.height) == (2 * W + 3 * 4, H + 2 * 4)
    assert [p.name for p in out.parent.iterdir()] == ["sheet.png"]  # no temporary left


def test_default_preview_path(shot):
    assert str(preview.default_preview_path(shot)) == str(shot.output_path(1001)).rsplit("/", 1)[0] + "/demo_preview.png"


def test_each_object_is_tinted_in_its_own_colour(tmp_path, make_shot, make_segmenter):
    """A two-object shot's sheet: pixels of the star show the first object's colour, pixels of
    the backdrop the second's (the layers of the rendered EXR, `<name>.A`)."""
    from test_objects import channels, two_object_shot

    from hyperseg_vfx.render import render_shot

    path, _ = two_object_shot(make_shot, tmp_path, frames="1001")
    shot = load_shot(path)
    assert render_shot(shot, make_segmenter()).ok
    sheet = preview.contact_sheet(shot, max_tile_width=W)
    layers = channels(shot.output_path(1001))
    plate = read_frame(shot.input_path(1001)).rgb
    x, y = sheet.layout.origin(0)
    tile = sheet.pixels[y : y + H, x : x + W]
    expected = plate.copy()
    for name, colour in zip(("star", "backdrop"), preview.OBJECT_COLOURS):  # tinted in the shot's order
        alpha = layers[f"{name}.A"][..., None] * preview.TINT_OPACITY
        assert alpha.max() > 0.2  # each object shows
        expected = expected * (1 - alpha) + np.array(colour, np.float32) * alpha
    away = np.ones((H, W), bool)
    ys, xs = np.mgrid[0:H, 0:W] + 0.5
    for obj in shot.objects:
        for click in obj.clicks_at(1001):
            away &= np.hypot(xs - click.x, ys - click.y) > 8
    away[H - 24 :, :60] = False  # the label
    np.testing.assert_allclose(tile[away], np.clip(expected, 0, 1)[away], atol=0.01)
