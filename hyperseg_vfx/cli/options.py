"""Options and argument parsers that several commands share."""

from __future__ import annotations

import click

DEVICE_OPTION = click.option(
    "--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
    help="auto picks CUDA when a GPU is visible.",
)


def parse_size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, e.g. 640x360, got {value!r}") from None
    if width < 16 or height < 16:
        raise click.BadParameter(f"{value}: width and height must be at least 16")
    return width, height
