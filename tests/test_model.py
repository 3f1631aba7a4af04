"""The HyperSeg model: architecture, tessellation, Tucker fits, context maps, feature paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.config import ConfigError, ContextConfig, ModelConfig
from hyperseg_vfx.modeling.backbone import VGG19Taps
from hyperseg_vfx.modeling.context import click_maps, context_lengths
from hyperseg_vfx.modeling.hyperseg import HyperSeg
from hyperseg_vfx.modeling.tessellation import TileGrid
from hyperseg_vfx.modeling.tucker import StreamingTuckerFit, fit_factor_tensorly, subspace_distance
from hyperseg_vfx.synthetic import synthetic_frame

SIZES = [(100, 60), (225, 225), (333, 187)]  # smaller than a tile, one pixel over a tile, odd


def random_config(**network) -> ModelConfig:
    config = ModelConfig()
    config.backbone.weights = "random:0"
    for key, value in network.items():
        setattr(config.network, key, value)
    return config


@pytest.fixture(scope="module")
def model() -> HyperSeg:
    """Paper architecture, random backbone, random orthonormal Tucker factors, seeded network."""
    model = HyperSeg(random_config())
    generator = torch.Generator().manual_seed(0)
    model.set_tucker_factors(
        [torch.linalg.qr(torch.randn(f.shape, generator=generator))[0] for f in model.tucker_factors]
    )
    model.network.reset_parameters(1)
    return model.eval()


def frame_tensor(width: int, height: int, seed: int = 0) -> torch.Tensor:
    rgb = synthetic_frame(width, height, seed).rgb
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)


def test_network_matches_paper_table_1(model):
    net = model.network
    assert net.input_layer.in_channels == 746 and net.input_layer.out_channels == 70
    assert net.input_layer.kernel_size == (1, 1)
    assert [layer.dilation[0] for layer in net.layers] == [1, 2, 4, 8, 16, 32, 64, 128]
    for layer in net.layers:
        assert (layer.in_channels, layer.out_channels, layer.kernel_size) == (80, 70, (3, 3))
        assert layer.padding == layer.dilation  # 'same' padding keeps the frame size
    assert (net.head.in_channels, net.head.out_channels, net.head.kernel_size) == (80, 6, (3, 3))
    assert sum(model.config.compressed_channels) == 736 and sum(model.config.tap_channels) == 1472


@pytest.mark.parametrize("width,height", SIZES)
def test_efficient_path_equals_literal_path(model, width, height):
    frame = frame_tensor(width, height)
    with torch.inference_mode():
        efficient = model.project_frame(frame)
        literal = model.network.project_features(model.literal_features(frame))
    assert efficient.shape == literal.shape == (1, 70, height, width)
    relative = (efficient - literal).abs().max() / literal.abs().max()
    assert relative < 1e-4


@pytest.mark.parametrize("width,height", SIZES)
def test_output_shapes_and_ranges(model, width, height):
    frame = frame_tensor(width, height)
    clicks = [Click(width / 2, height / 2, True), Click(2.5, 3.5, False)]
    with torch.inference_mode():
        out = model(frame, frame_tensor(width, height, seed=1), clicks)
    assert out.shape == (1, 6, height, width)
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()


def test_inference_buffer_path_equals_training_path(model):
    frame = frame_tensor(120, 80)
    clicks = [Click(60, 40, True)]
    with torch.inference_mode():
        buffered = model(frame, frame, clicks)
    with torch.no_grad():
        torch.set_grad_enabled(True)
        try:
            plain = model(frame, frame, clicks)
        finally:
            torch.set_grad_enabled(False)
    torch.testing.assert_close(buffered, plain.detach(), rtol=1e-5, atol=1e-6)


def test_context_skips_ablation_changes_layer_widths():
    model = HyperSeg(random_config(context_skips=False))
    assert model.network.layers[0].in_channels == 70 and model.network.head.in_channels == 70
    with torch.inference_mode():
        out = model(frame_tensor(64, 48), frame_tensor(64, 48), [Click(30, 20, True)], projected=None)
    assert out.shape == (1, 6, 48, 64)


def test_tile_grid_matches_paper_example():
    grid = TileGrid(1920, 1080)
    assert (grid.columns, grid.rows, grid.count) == (9, 5, 45)
    assert TileGrid(100, 60).count == 1 and TileGrid(225, 225).count == 4
    assert TileGrid(3840, 2160, tessellate=False).count == 1


@pytest.mark.parametrize("size, grid", [((192, 144), (1, 1)), ((256, 144), (1, 1)), ((344, 144), (2, 1)),
                                        ((266, 144), (1, 1)), ((384, 288), (2, 2)), ((1920, 1080), (10, 8))])
def test_tile_extent_cuts_frames_into_whole_tiles_stretched_as_in_training(size, grid):
    """With the extent of a 192x144 training frame in one tile, each axis takes the tile count whose
    stretch is nearest the training's (16:9 at 256x144: one tile, 2.39:1 at 344x144: two); the
    placements still cover every pixel once; the paper's grid stays ceil(size / 224)."""
    fitted = TileGrid(*size, extent=(192, 144))
    assert (fitted.columns, fitted.rows) == grid
    hits = torch.zeros(size[1], size[0], dtype=torch.int32)
    for index in range(fitted.count):
        place = fitted.placement(index, 56)
        hits[place.rows, place.cols] += 1
    assert (hits == 1).all()
    assert (TileGrid(*size).columns, TileGrid(*size).rows) == (-(-size[0] // 224), -(-size[1] // 224))


def test_tile_extent_in_the_model_config(model):
    """The model runs a 256x144 frame as one tile; the efficient feature path still equals the
    literal one; bad extents are refused."""
    import copy

    fitted = copy.deepcopy(model)
    fitted.config.backbone.tile_extent = (192, 144)
    assert fitted.tile_grid(144, 256).count == 1 and model.tile_grid(144, 256).count == 2
    frame = frame_tensor(256, 144)
    with torch.inference_mode():
        projected = fitted.project_frame(frame)
        literal = fitted.network.project_features(fitted.literal_features(frame))
        assert not torch.allclose(projected, model.project_frame(frame), atol=1e-3)
    torch.testing.assert_close(projected, literal, rtol=1e-4, atol=1e-4)
    config = random_config()
    for bad in ((192,), (0, 144), (-1, 5)):
        config.backbone.tile_extent = bad
        with pytest.raises(ConfigError, match="tile_extent"):
            config.validate()


def test_tiles_and_mosaic_are_inverse():
    grid = TileGrid(333, 187)
    frame = frame_tensor(333, 187)
    tiles = grid.tiles(frame)
    assert tiles.shape == (grid.count, 3, 224, 224)
    mosaic = grid.mosaic(tiles)
    assert (grid.rows, grid.columns) == (1, 2)
    expected = torch.nn.functional.interpolate(frame, size=(224, 448), mode="bilinear", align_corners=False)
    torch.testing.assert_close(mosaic, expected)
    torch.testing.assert_close(tiles[1], expected[0, :, :, 224:])  # row-major: tile 1 is on the right


@pytest.mark.parametrize("size", [224, 56, 14])
def test_tile_placements_cover_every_pixel_once(size):
    grid = TileGrid(333, 187)
    hits = torch.zeros(187, 333, dtype=torch.int32)
    for index in range(grid.count):
        place = grid.placement(index, size)
        hits[place.rows, place.cols] += 1
        assert place.src_rows.numel() == place.rows.stop - place.rows.start
        assert int(place.src_rows.max()) < size and int(place.src_cols.min()) >= 0
    assert (hits == 1).all()


def test_tucker_streaming_fit_spans_tensorly_subspace():
    rng = np.random.default_rng(0)
    # features whose energy lies mostly in a 16-dimensional subspace
    basis = np.linalg.qr(rng.standard_normal((64, 64)))[0]
    scales = np.where(np.arange(64) < 16, 1.0, 0.01) * np.exp(-np.arange(64) / 16.0)
    tiles = [torch.from_numpy((basis * scales) @ rng.standard_normal((64, 2 * 9 * 9))).float().reshape(64, 2, 9, 9).permute(1, 0, 2, 3)
             for _ in range(5)]
    streaming = StreamingTuckerFit((64,), (16,))
    for tile in tiles:
        streaming.update([tile])
    factor = streaming.factors()[0].double().numpy()
    samples = np.concatenate([t.permute(1, 0, 2, 3).reshape(64, -1).double().numpy() for t in tiles], axis=1)
    reference = fit_factor_tensorly(samples, 16)
    assert factor.shape == reference.shape == (64, 16)
    np.testing.assert_allclose(factor.T @ factor, np.eye(16), atol=1e-5)
    assert subspace_distance(factor, reference) < 1e-4
    assert subspace_distance(factor, basis[:, :16]) < 1e-2  # and it is the true dominant subspace


@pytest.mark.parametrize("width,height", [(64, 48), (97, 61)])
def test_click_maps_match_scipy_distance_transform(width, height):
    config = ContextConfig(click_radius=5.0, distance_truncation=40.0, reference_short_side=48)
    pixels = [(10, 7, True), (50, 30, True), (3, 40, False)]
    clicks = [Click(c + 0.5, r + 0.5, positive) for c, r, positive in pixels]
    maps = click_maps(clicks, height, width, config, "cpu", torch.float32).numpy()
    radius, truncation = context_lengths(config, height, width)
    for index, positive in enumerate((True, False)):
        seeds = np.ones((height, width), dtype=bool)
        for c, r, label in pixels:
            if label == positive:
                seeds[r, c] = False
        exact = ndimage.distance_transform_edt(seeds)
        np.testing.assert_allclose(maps[index], (exact <= radius).astype(np.float32))
        np.testing.assert_allclose(maps[2 + index], np.minimum(exact, truncation) / truncation, atol=1e-5)


def test_click_maps_without_clicks_of_a_label_are_maximal():
    maps = click_maps([Click(5.5, 4.5, True)], 20, 30, ContextConfig(), "cpu", torch.float32)
    assert maps[1].sum() == 0 and (maps[3] == 1).all()
    # at this size the scaled radius is under a pixel: the click still marks its own pixel
    assert maps[0].sum() == 1 and maps[0, 4, 5] == 1 and maps[2, 4, 5] == 0


def test_click_lengths_scale_with_frame_size():
    config = ContextConfig()
    assert context_lengths(config, 1080, 1920) == (5.0, 255.0)
    assert context_lengths(config, 2160, 3840) == (10.0, 510.0)
    assert context_lengths(config, 540, 960) == (2.5, 127.5)


def test_random_backbone_weights_are_numpy_draws():
    """random:SEED is defined by numpy's PCG64 stream, hence identical on every platform."""
    taps = VGG19Taps(("conv1_2",), "random:7")
    first = taps.features[0].weight.detach().numpy()
    rng = np.random.Generator(np.random.PCG64(7))
    expected = rng.standard_normal((64, 3, 3, 3), dtype=np.float32) * np.float32(np.sqrt(2.0 / 27))
    np.testing.assert_array_equal(first, expected)
    again = VGG19Taps(("conv1_2",), "random:7").features[2].weight
    other = VGG19Taps(("conv1_2",), "random:8").features[2].weight
    assert torch.equal(again, taps.features[2].weight) and not torch.equal(other, again)


def test_backbone_is_frozen_and_stays_in_eval_mode(model):
    model.train()
    try:
        assert not model.backbone.training
        assert not any(p.requires_grad for p in model.backbone.parameters())
        assert all(p.requires_grad for p in model.network.parameters())
    finally:
        model.eval()


def test_flop_count_of_network_matches_hand_count(model):
    flops = model.flops(1080, 1920)
    pixels = 1920 * 1080
    hand = 2 * pixels * (10 * 70 + 8 * 9 * 80 * 70 + 9 * 80 * 6)
    assert flops["network"] == hand
    assert flops["literal_projection"] == 2 * pixels * (64 * 32 + 128 * 64 + 256 * 128 + 512 * 256 * 2 + 736 * 70)


@pytest.mark.parametrize(
    "data,field",
    [
        ({"network": {"widht": 3}}, "network.widht"),
        ({"tucker": {"ranks": [32, 64]}}, "tucker.ranks"),
        ({"tucker": {"ranks": [65, 64, 128, 256, 256]}}, "tucker.ranks"),
        ({"backbone": {"taps": ["conv9_9"] * 5}}, "backbone.taps"),
        ({"context": {"click_radius": "big"}}, "context.click_radius"),
    ],
)
def test_bad_configs_name_the_field(data, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        ModelConfig.from_dict(data)


def test_config_yaml_round_trip(tmp_path):
    import yaml

    config = random_config(candidates=4)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"model": config.to_dict()}))
    assert ModelConfig.from_yaml(path) == config


def test_training_path_from_compressed_taps_equals_inference_path(model):
    frame = frame_tensor(250, 130)
    with torch.inference_mode():
        taps = [torch.cat(parts) for parts in zip(*(t for _s, t in model.backbone_tiles(frame)))]
        compressed = model.compress_taps(taps)
        assert [c.shape[1] for c in compressed] == [32, 64, 128, 256, 256]
        from_cache = model.project_compressed(compressed, 130, 250)
        direct = model.project_frame(frame)
    torch.testing.assert_close(from_cache, direct, rtol=1e-4, atol=1e-4)


def test_training_path_is_differentiable_in_layer_1(model):
    frame = frame_tensor(96, 64)
    with torch.no_grad():
        taps = [torch.cat(parts) for parts in zip(*(t for _s, t in model.backbone_tiles(frame)))]
        compressed = model.compress_taps(taps)
    model.network.zero_grad()
    out = model.network.forward_projected(
        model.project_compressed(compressed, 64, 96),
        torch.rand(1, 10, 64, 96),
    )
    out.mean().backward()
    assert model.network.input_layer.weight.grad.abs().sum() > 0
    assert model.network.head.weight.grad.abs().sum() > 0


def test_backbone_is_torchvision_vgg19_and_loads_its_imagenet_file_format(tmp_path):
    """`imagenet:PATH` loads a file in torchvision's format into the same layers torchvision builds."""
    import torchvision

    reference = torchvision.models.vgg19().eval()
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(reference.state_dict(), path)  # the format of torchvision's IMAGENET1K_V1 file
    taps = VGG19Taps(("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"), f"imagenet:{path}")
    assert [type(m) for m in taps.features] == [type(m) for m in reference.features[:32]]
    frame = frame_tensor(64, 48)
    normalised = (frame - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        ours = taps(frame)
        expected = [reference.features[: index + 1](normalised) for index in (3, 8, 13, 22, 31)]
    for got, want in zip(ours, expected):
        torch.testing.assert_close(got, want)


OVERLAP_SIZES = [  # frame, extent, (columns, rows), crop size
    ((344, 144), (192, 144), (2, 1), (192, 144)), ((256, 144), (192, 144), (1, 1), (256, 144)),
    ((333, 187), (192, 144), (2, 1), (192, 187)), ((400, 300), (192, 144), (3, 3), (192, 144)),
    ((100, 60), (192, 144), (1, 1), (100, 60)), ((500, 230), (0, 0), (3, 2), (224, 224))]


@pytest.mark.parametrize("overlap", ["nearest", "blend"])
@pytest.mark.parametrize("size, extent, grid, crop", OVERLAP_SIZES)
def test_overlapping_tiles_are_crops_of_the_extent_stretched_as_in_training(size, extent, grid, crop, overlap):
    """Overlapping tiles: an axis that the extent rule fits in one tile is one crop (the whole
    axis); a longer one, ceil(size / extent) crops of exactly the extent (224 px without one),
    from 0 to the far edge; each tile is bit for bit what a training frame of the crop's size made
    in one tile; neighbours overlap; the placements cover every output pixel once ('nearest') or
    with weights summing to 1 ('blend'), with tile-local indices inside the tile's features."""
    width, height = size
    tiled = TileGrid(width, height, extent=extent, overlap=overlap)
    assert (tiled.columns, tiled.rows) == grid
    frame = frame_tensor(width, height)
    tiles = tiled.tiles(frame)
    crops = tiled.crops()
    assert tiles.shape == (tiled.count, 3, 224, 224) and len(crops) == tiled.count
    for tile, (rows, cols) in zip(tiles, crops):
        assert (cols.stop - cols.start, rows.stop - rows.start) == crop
        training = TileGrid(*crop, extent=crop).tiles(frame[:, :, rows, cols].contiguous())
        assert training.shape[0] == 1 and torch.equal(tile, training[0])
    assert {c.stop for _r, c in crops} >= {width} and {r.stop for r, _c in crops} >= {height}
    for feature_size in (224, 14):
        hits = torch.zeros(height, width, dtype=torch.float64)
        for index in range(tiled.count):
            place = tiled.placement(index, feature_size)
            weights = torch.ones(1, 1) if place.weights is None else place.weights.double()
            assert (place.weights is None) == (overlap == "nearest")
            hits[place.rows, place.cols] += weights
            assert place.src_rows.numel() == place.rows.stop - place.rows.start
            assert int(place.src_cols.max()) < feature_size and int(place.src_rows.min()) >= 0
        if overlap == "nearest":
            assert (hits == 1).all()
        else:
            torch.testing.assert_close(hits, torch.ones_like(hits), rtol=0, atol=1e-6)
    if grid[0] > 1:
        assert crops[1][1].start < crops[0][1].stop  # the columns overlap: no seam of abutting tiles


@pytest.mark.parametrize("overlap", ["nearest", "blend"])
@pytest.mark.parametrize("width,height,extent", [(344, 144, (192, 144)), (333, 187, (192, 144)), (300, 230, (0, 0))])
def test_overlap_efficient_path_equals_literal_path(model, width, height, extent, overlap):
    """With overlapping tiles the efficient path (per tile, straight into the frame) equals the
    literal one (every tap's tiles resized onto frame-sized canvases and combined by
    TileGrid.assemble), and the training path from cached compressed taps equals both; the
    features differ from the whole-tile grid's and between the two modes."""
    import copy

    overlapping = copy.deepcopy(model)
    overlapping.config.backbone.tile_extent = extent
    overlapping.config.backbone.tile_overlap = overlap
    whole = copy.deepcopy(overlapping)
    whole.config.backbone.tile_overlap = "none"
    frame = frame_tensor(width, height)
    with torch.inference_mode():
        projected = overlapping.project_frame(frame)
        literal = overlapping.network.project_features(overlapping.literal_features(frame))
        taps = [torch.cat(parts) for parts in zip(*(t for _s, t in overlapping.backbone_tiles(frame)))]
        cached = overlapping.project_compressed(overlapping.compress_taps(taps), height, width)
        assert not torch.allclose(projected, whole.project_frame(frame), atol=1e-3)
    torch.testing.assert_close(projected, literal, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(cached, projected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("overlap", ["nearest", "blend"])
def test_tile_overlap_keeps_frames_of_one_tile_bit_for_bit(model, overlap):
    """Frames that the extent rule puts in one tile (4:3 192x144, 16:9 256x144, 1.85:1 266x144 with
    extent 192x144) get the same features with overlap as without, bit for bit."""
    import copy

    whole = copy.deepcopy(model)
    whole.config.backbone.tile_extent = (192, 144)
    overlapping = copy.deepcopy(whole)
    overlapping.config.backbone.tile_overlap = overlap
    for width in (192, 256, 266):
        assert overlapping.tile_grid(144, width).count == 1
        with torch.inference_mode():
            assert torch.equal(overlapping.project_frame(frame_tensor(width, 144)), whole.project_frame(frame_tensor(width, 144)))


def test_tile_overlap_blends_only_inside_the_overlap(model):
    """Blend vs nearest at 344x144 (two 192x144 crops at x = 0 and 152): the features are equal
    outside the 40-px overlap (x < 152 or x >= 192) and differ inside it."""
    import copy

    features = {}
    for overlap in ("nearest", "blend"):
        variant = copy.deepcopy(model)
        variant.config.backbone.tile_extent, variant.config.backbone.tile_overlap = (192, 144), overlap
        with torch.inference_mode():
            features[overlap] = variant.project_frame(frame_tensor(344, 144))
    differs = (features["nearest"] - features["blend"]).abs().amax(dim=(0, 1, 2)) > 1e-5
    assert not differs[:152].any() and not differs[192:].any() and differs[152:192].float().mean() > 0.9


def test_tile_overlap_in_the_config_and_the_feature_cache_key(model):
    """Bad tile_overlap values are refused naming the field; the training feature cache's key
    differs for each overlap (the default 'none' adds nothing to it, so older caches hold)."""
    import copy

    from hyperseg_vfx.training.features import feature_identity

    config = random_config()
    for bad in ("overlap", "", "Blend", None):
        config.backbone.tile_overlap = bad
        with pytest.raises(ConfigError, match="backbone.tile_overlap"):
            config.validate()
    keys = {}
    for overlap in ("none", "nearest", "blend"):
        variant = copy.deepcopy(model)
        variant.config.backbone.tile_extent, variant.config.backbone.tile_overlap = (192, 144), overlap
        keys[overlap] = feature_identity(variant)
    assert len(set(keys.values())) == 3
