"""The inference API: Segmenter.segment, its feature cache, scale, devices and input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperseg_vfx.cache import ByteLRU
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.devices import DeviceError, resolve_device
from hyperseg_vfx.segmenter import SegmentError, Segmenter
from hyperseg_vfx.synthetic import synthetic_frame


@pytest.fixture(scope="module")
def segmenter(tiny_checkpoint) -> Segmenter:
    return Segmenter.from_checkpoint(tiny_checkpoint, device="cpu")


@pytest.mark.parametrize("width,height", [(100, 60), (225, 225), (333, 187)])
def test_segment_returns_ranked_candidates_at_frame_size(segmenter, width, height):
    plate = synthetic_frame(width, height, seed=2)
    matte = segmenter.segment(plate.rgb, None, [Click(*plate.center, True)])
    assert matte.candidates.shape == (6, height, width) and matte.candidates.dtype == np.float32
    assert matte.alpha.shape == (height, width)
    assert 0 <= matte.candidates.min() and matte.candidates.max() <= 1
    assert 0 <= matte.coverage() <= 1


def test_click_update_reuses_cached_features_and_matches_a_cold_run(segmenter, tiny_checkpoint):
    plate = synthetic_frame(160, 96, seed=3)
    first = segmenter.segment(plate.rgb, None, [Click(*plate.center, True)], frame_key="shot/1001")
    clicks = [Click(*plate.center, True), Click(4.5, 4.5, False)]
    update = segmenter.segment(plate.rgb, None, clicks, frame_key="shot/1001")
    assert not first.features_cached and update.features_cached
    assert "features" in first.timings and "features" not in update.timings
    assert not np.array_equal(first.candidates, update.candidates)  # the clicks matter
    cold = Segmenter.from_checkpoint(tiny_checkpoint, device="cpu").segment(plate.rgb, None, clicks)
    np.testing.assert_array_equal(update.candidates, cold.candidates)


def test_a_refining_model_refines_every_segment_at_the_frames_own_scale(tiny_checkpoint):
    from hyperseg_vfx.checkpoint import load_checkpoint
    from hyperseg_vfx.config import RefineConfig
    from hyperseg_vfx.modeling.refine import refine_candidates

    model, _ = load_checkpoint(tiny_checkpoint)
    model.config.refine = RefineConfig(radius=4, eps=1e-3, reference_short_side=96)
    refining = Segmenter(model, device="cpu")
    plain = Segmenter.from_checkpoint(tiny_checkpoint, device="cpu")
    plate = synthetic_frame(160, 96, seed=5)
    clicks = [Click(*plate.center, True)]
    refined, unrefined = (s.segment(plate.rgb, None, clicks) for s in (refining, plain))
    assert "refine" in refined.timings and "refine" in unrefined.timings
    frame = torch.from_numpy(plate.rgb).permute(2, 0, 1)[None]
    expected = refine_candidates(torch.from_numpy(unrefined.candidates)[None], frame, model.config.refine)
    np.testing.assert_allclose(refined.candidates, expected[0].numpy(), atol=1e-5)
    assert not np.allclose(refined.candidates, unrefined.candidates, atol=1e-3)


def test_pixels_are_the_cache_key_when_the_caller_gives_none(segmenter):
    plate = synthetic_frame(96, 64, seed=4)
    clicks = [Click(*plate.center, True)]
    assert segmenter.segment(plate.rgb, None, clicks).features_cached is False
    assert segmenter.segment(plate.rgb.copy(), None, clicks).features_cached is True
    other = synthetic_frame(96, 64, seed=5)
    assert segmenter.segment(other.rgb, None, clicks).features_cached is False


def test_missing_previous_frame_means_the_frame_itself(segmenter):
    plate = synthetic_frame(120, 80, seed=6)
    clicks = [Click(*plate.center, True)]
    alone = segmenter.segment(plate.rgb, None, clicks)
    explicit = segmenter.segment(plate.rgb, plate.rgb, clicks)
    np.testing.assert_array_equal(alone.candidates, explicit.candidates)
    moved = segmenter.segment(plate.rgb, synthetic_frame(120, 80, seed=6, frame=5).rgb, clicks)
    assert not np.array_equal(alone.candidates, moved.candidates)  # X_{t-1} is an input


def test_scale_segments_smaller_and_returns_full_size(segmenter):
    plate = synthetic_frame(200, 120, seed=7)
    clicks = [Click(*plate.center, True)]
    half = segmenter.segment(plate.rgb, None, clicks, scale=0.5)
    full = segmenter.segment(plate.rgb, None, clicks)
    assert half.candidates.shape == full.candidates.shape == (6, 120, 200)
    assert not np.array_equal(half.candidates, full.candidates)


def test_bad_inputs_raise_clear_errors(segmenter):
    plate = synthetic_frame(64, 48, seed=8).rgb
    with pytest.raises(SegmentError, match="previous frame is 32x48"):
        segmenter.segment(plate, plate[:, :32], [])
    with pytest.raises(SegmentError, match=r"\(H, W, 3\)"):
        segmenter.segment(plate[..., 0], None, [])
    with pytest.raises(SegmentError, match="scale"):
        segmenter.segment(plate, None, [], scale=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_request_without_cuda_is_a_clear_error():
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_tensor_lru_is_bounded_in_bytes():
    cache = ByteLRU(max_bytes=3 * 400)
    for index in range(4):
        cache.put(index, torch.zeros(100))  # 400 bytes each
    stats = cache.stats()
    assert (stats.entries, stats.bytes) == (3, 1200)
    assert cache.get(0) is None and cache.get(1) is not None
    cache.put(4, torch.zeros(100))  # evicts 2, the least recently used (1 was just read)
    assert cache.get(2) is None and cache.get(1) is not None
    cache.put("huge", torch.zeros(1000))  # larger than the whole budget: not kept
    assert cache.get("huge") is None and cache.stats().bytes <= 1200


def test_matte_cache_recomputes_only_the_object_whose_clicks_changed(tiny_model):
    """The bridge's case: an artist edits one object of two on a frame; the other object comes
    from the matte cache (the very array, read-only), the edited one equals a cold computation."""
    model, metadata = tiny_model
    cached = Segmenter(model, device="cpu", metadata=metadata, matte_cache_bytes=64 * 1024**2)
    plate = synthetic_frame(160, 96, seed=3)
    star = [Click(*plate.center, True)]
    corner = [Click(8.5, 8.5, True), Click(*plate.center, False)]
    first = cached.segment_objects(plate.rgb, None, [star, corner], frame_key="f1")
    assert [m.reused for m in first] == [False, False]
    edited = [Click(8.5, 8.5, True), Click(20.5, 9.5, True), Click(*plate.center, False)]
    second = cached.segment_objects(plate.rgb, None, [star, edited], frame_key="f1")
    assert [m.reused for m in second] == [True, False]
    assert second[0].candidates is first[0].candidates and not second[0].candidates.flags.writeable
    with pytest.raises(ValueError):
        second[0].candidates[0, 0, 0] = 0.5  # a cached matte cannot be changed by a caller
    cold = Segmenter(model, device="cpu").segment_objects(plate.rgb, None, [star, edited], frame_key="f1")
    assert not any(m.reused for m in cold)
    np.testing.assert_allclose(second[1].candidates, cold[1].candidates, atol=1e-6)
    assert not np.allclose(second[1].candidates, first[1].candidates, atol=1e-3)  # the edit matters


def test_matte_cache_keys_on_everything_the_matte_depends_on(tiny_model):
    model, metadata = tiny_model
    cached = Segmenter(model, device="cpu", metadata=metadata, matte_cache_bytes=64 * 1024**2)
    plate, previous = synthetic_frame(160, 96, seed=3), synthetic_frame(160, 96, seed=4)
    clicks = [Click(*plate.center, True)]
    base = dict(frame_key="f1", prev_frame_key="f0", all_candidates=True, edges=None, scale=1.0)
    assert not cached.segment(plate.rgb, previous.rgb, clicks, **base).reused
    assert cached.segment(plate.rgb, previous.rgb, clicks, **base).reused
    for change in ({"frame_key": "f2"}, {"prev_frame_key": "f9"}, {"all_candidates": False},
                   {"edges": "graphcut"}, {"scale": 0.5}):
        again = cached.segment(plate.rgb, previous.rgb, clicks, **(base | change))
        assert not again.reused, change
    moved = [Click(plate.center[0] + 1, plate.center[1], True)]
    assert not cached.segment(plate.rgb, previous.rgb, moved, **base).reused
    # a previous frame whose pixels the caller gives no identity for is never served from the cache
    unnamed = base | {"prev_frame_key": None}
    assert not cached.segment(plate.rgb, previous.rgb, clicks, **unnamed).reused
    assert not cached.segment(plate.rgb, previous.rgb, clicks, **unnamed).reused
    # the default Segmenter (renders, farm, evaluate) keeps no mattes
    plain = Segmenter(model, device="cpu", metadata=metadata)
    assert not any(plain.segment(plate.rgb, previous.rgb, clicks, **base).reused for _ in range(2))
