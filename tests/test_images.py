"""read_frame / read_header / read_matte on real files of every supported kind."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest
from image_files import write_image

from hyperseg_vfx.io.images import ImageReadError, read_frame, read_header, read_matte, resolve_colorspace

RNG = np.random.default_rng(7)


def reference_srgb(pixels: np.ndarray, source: str) -> np.ndarray:
    """OpenImageIO's own conversion of the same pixels to sRGB, clipped like read_frame."""
    converted = oiio.ImageBufAlgo.colorconvert(oiio.ImageBuf(pixels), source, "sRGB", unpremult=False)
    assert not converted.has_error, converted.geterror()
    return np.clip(converted.get_pixels(oiio.FLOAT), 0.0, 1.0)


def test_half_exr_is_converted_from_linear_like_oiio(tmp_path):
    pixels = RNG.uniform(0.0, 2.0, (4, 6, 3)).astype(np.float16).astype(np.float32)
    frame = read_frame(write_image(tmp_path / "a.exr", pixels))
    assert (frame.width, frame.height, frame.pixel_aspect) == (6, 4, 1.0)
    assert frame.rgb.dtype == np.float32 and frame.rgb.shape == (4, 6, 3)
    assert frame.rgb.flags.c_contiguous
    assert frame.rgb.min() >= 0.0 and frame.rgb.max() <= 1.0
    np.testing.assert_allclose(frame.rgb, reference_srgb(pixels, "linear"), atol=1e-6)
    assert frame.source == str(tmp_path / "a.exr") and frame.nonfinite_pixels == 0


def test_float_exr_with_named_ocio_colorspace(tmp_path):
    pixels = RNG.uniform(0.0, 1.0, (3, 5, 3)).astype(np.float32)
    frame = read_frame(write_image(tmp_path / "a.exr", pixels, fmt="float"), colorspace="ACEScg")
    np.testing.assert_allclose(frame.rgb, reference_srgb(pixels, "ACEScg"), atol=1e-6)


def test_srgb_colorspace_is_not_converted(tmp_path):
    pixels = RNG.uniform(0.0, 1.0, (3, 5, 3)).astype(np.float32)
    frame = read_frame(write_image(tmp_path / "a.exr", pixels, fmt="float"), colorspace="sRGB")
    np.testing.assert_array_equal(frame.rgb, pixels)


def test_unknown_colorspace_names_it_and_the_file(tmp_path):
    path = write_image(tmp_path / "a.exr", np.zeros((2, 2, 3)))
    with pytest.raises(ImageReadError, match="no_such_space") as info:
        read_frame(path, colorspace="no_such_space")
    assert str(path) in str(info.value)


def test_friendly_colorspace_names_resolve_in_the_active_config():
    config = oiio.ColorConfig()
    for name in ("linear", "sRGB", "srgb", "ACEScg"):
        assert config.getColorSpaceIndex(resolve_colorspace(name)) >= 0
    with pytest.raises(ValueError, match="bogus"):
        resolve_colorspace("bogus")


def test_one_channel_exr_is_grey(tmp_path):
    grey = RNG.uniform(0.0, 1.0, (3, 4)).astype(np.float32)
    frame = read_frame(write_image(tmp_path / "y.exr", grey, fmt="float", channels=("Y",)), "sRGB")
    np.testing.assert_array_equal(frame.rgb, np.repeat(grey[..., None], 3, axis=2))


def test_rgba_exr_uses_rgb_by_name(tmp_path):
    pixels = np.broadcast_to(np.float32([0.1, 0.2, 0.3, 0.4]), (2, 3, 4))
    path = write_image(tmp_path / "a.exr", pixels, fmt="float", channels=("A", "B", "G", "R"))
    np.testing.assert_allclose(read_frame(path, "sRGB").rgb, np.broadcast_to([0.4, 0.3, 0.2], (2, 3, 3)))


def test_other_channel_set_uses_first_three(tmp_path):
    pixels = np.broadcast_to(np.float32([0.1, 0.2, 0.3, 0.4]), (2, 3, 4))
    path = write_image(tmp_path / "a.exr", pixels, fmt="float", channels=("u", "v", "w", "x"))
    np.testing.assert_allclose(read_frame(path, "sRGB").rgb, np.broadcast_to([0.1, 0.2, 0.3], (2, 3, 3)))


def test_two_channel_image_is_grey_from_the_first(tmp_path):
    pixels = np.broadcast_to(np.float32([0.25, 1.0]), (2, 3, 2))
    path = write_image(tmp_path / "a.exr", pixels, fmt="float", channels=("Y", "A"))
    np.testing.assert_allclose(read_frame(path, "sRGB").rgb, np.full((2, 3, 3), 0.25))


def expected_display(data, data_origin, display):
    """Display-window pixels computed one by one: data where it exists, else 0."""
    x0, y0, width, height = display
    out = np.zeros((height, width, data.shape[2]), np.float32)
    for i in range(height):
        for j in range(width):
            u, v = x0 + j - data_origin[0], y0 + i - data_origin[1]
            if 0 <= v < data.shape[0] and 0 <= u < data.shape[1]:
                out[i, j] = data[v, u]
    return out


@pytest.mark.parametrize(
    ("data_origin", "data_size", "display"),
    [
        ((-2, -1), (9, 6), (0, 0, 5, 4)),  # data window larger: cropped
        ((1, 2), (2, 1), (0, 0, 5, 4)),  # smaller: padded with 0
        ((3, -1), (4, 3), (0, 0, 5, 4)),  # offset, partly outside
        ((12, 22), (3, 2), (10, 20, 5, 4)),  # display window not at the origin
        ((50, 50), (2, 2), (0, 0, 5, 4)),  # no overlap at all
    ],
)
def test_data_window_is_fitted_to_display_window(tmp_path, data_origin, data_size, display):
    width, height = data_size
    data = (np.arange(width * height * 3, dtype=np.float32).reshape(height, width, 3) + 1) / 100
    path = write_image(tmp_path / "w.exr", data, fmt="float", data_origin=data_origin, display=display)
    frame = read_frame(path, "sRGB")
    assert (frame.width, frame.height) == display[2:]
    assert read_header(path) == (display[2], display[3], 1.0)
    np.testing.assert_allclose(frame.rgb, np.clip(expected_display(data, data_origin, display), 0, 1))


def test_pixel_aspect_is_read(tmp_path):
    path = write_image(tmp_path / "a.exr", np.zeros((2, 4, 3)), attrs={"PixelAspectRatio": 2.0})
    assert read_frame(path).pixel_aspect == 2.0
    assert read_header(path) == (4, 2, 2.0)


def test_nonfinite_pixels_are_counted_and_zeroed(tmp_path):
    pixels = np.full((3, 4, 3), 0.5, np.float32)
    pixels[0, 0, 0] = np.nan
    pixels[1, 2, 1] = np.inf
    pixels[2, 3] = -np.inf
    frame = read_frame(write_image(tmp_path / "n.exr", pixels, fmt="float"), "sRGB")
    assert frame.nonfinite_pixels == 3
    assert frame.rgb[0, 0, 0] == 0 and frame.rgb[1, 2, 1] == 0 and not frame.rgb[2, 3].any()
    assert frame.rgb[0, 0, 1] == 0.5 and np.isfinite(frame.rgb).all()


@pytest.mark.parametrize(("name", "fmt", "levels"), [("a.png", "uint8", 255), ("a.png", "uint16", 65535), ("a.tif", "uint16", 65535)])
def test_integer_files_default_to_srgb_unconverted(tmp_path, name, fmt, levels):
    pixels = RNG.integers(0, levels + 1, (3, 5, 3)).astype(np.float32) / levels
    frame = read_frame(write_image(tmp_path / name, pixels, fmt=fmt))
    np.testing.assert_allclose(frame.rgb, pixels, atol=1e-7)


def test_dpx_10_bit(tmp_path):
    pixels = RNG.integers(0, 1024, (3, 5, 3)).astype(np.float32) / 1023
    path = write_image(tmp_path / "a.dpx", pixels, fmt="uint16", attrs={"oiio:BitsPerSample": 10})
    np.testing.assert_allclose(read_frame(path).rgb, pixels, atol=1e-4)


def test_jpeg(tmp_path):
    pixels = np.broadcast_to(np.float32([0.8, 0.4, 0.2]), (8, 8, 3))
    frame = read_frame(write_image(tmp_path / "a.jpg", pixels, fmt="uint8", attrs={"Compression": "jpeg:100"}))
    assert (frame.width, frame.height) == (8, 8)
    np.testing.assert_allclose(frame.rgb, pixels, atol=3 / 255)


def test_png_one_channel_is_grey(tmp_path):
    grey = np.float32([[0, 1], [2, 3]]) / 255
    frame = read_frame(write_image(tmp_path / "g.png", grey, fmt="uint8"))
    np.testing.assert_allclose(frame.rgb, np.repeat(grey[..., None], 3, axis=2), atol=1e-7)


def test_missing_and_broken_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.exr"
    broken.write_bytes(b"not an image")
    for path in (tmp_path / "missing.exr", broken):
        for read in (read_frame, read_header, read_matte):
            with pytest.raises(ImageReadError, match=str(path)):
                read(path)


def test_read_matte_takes_alpha_over_display_window(tmp_path):
    rgba = RNG.uniform(0.0, 1.0, (3, 4, 4)).astype(np.float32)
    path = write_image(tmp_path / "m.exr", rgba, fmt="float", data_origin=(1, 0), display=(0, 0, 5, 3))
    matte = read_matte(path)
    assert matte.dtype == np.float32 and matte.shape == (3, 5)
    np.testing.assert_array_equal(matte, expected_display(rgba, (1, 0), (0, 0, 5, 3))[..., 3])


def test_read_matte_single_channel_and_no_alpha(tmp_path):
    grey = RNG.uniform(0.0, 1.0, (2, 3)).astype(np.float32)
    np.testing.assert_array_equal(read_matte(write_image(tmp_path / "y.exr", grey, fmt="float")), grey)
    rgb = write_image(tmp_path / "rgb.exr", np.zeros((2, 3, 3)))
    with pytest.raises(ImageReadError, match="no A channel"):
        read_matte(rgb)


def test_a_given_ocio_config_converts_with_its_own_names(tmp_path):
    from image_files import write_ocio_config

    config = str(write_ocio_config(tmp_path / "show" / "config.ocio", gain=2.0))
    pixels = np.random.default_rng(3).uniform(0, 0.45, (8, 12, 3))
    plate = write_image(tmp_path / "p.exr", pixels, fmt="float")
    doubled = write_image(tmp_path / "d.exr", pixels * 2, fmt="float")
    frame = read_frame(plate, "show_plate", ocio_config=config)
    np.testing.assert_allclose(frame.rgb, read_frame(doubled, "linear").rgb, atol=2e-4)
    assert resolve_colorspace("linear", config) == "show_lin" and resolve_colorspace("sRGB", config) == "show_srgb"
    with pytest.raises(ImageReadError, match="show_plate"):  # the built-in config has no such space
        read_frame(plate, "show_plate")
    with pytest.raises(ImageReadError, match=r"'ACEScg'.*show/config.ocio"):  # not in the show's config
        read_frame(plate, "ACEScg", ocio_config=config)
    with pytest.raises(ImageReadError, match="missing.ocio"):
        read_frame(plate, "linear", ocio_config=str(tmp_path / "missing.ocio"))
    write_ocio_config(tmp_path / "show" / "config.ocio", gain=3.0)  # the show changed its config: read again
    tripled = write_image(tmp_path / "t.exr", pixels * 3, fmt="float")
    np.testing.assert_allclose(read_frame(plate, "show_plate", ocio_config=config).rgb,
                               read_frame(tripled, "linear").rgb, atol=2e-4)
