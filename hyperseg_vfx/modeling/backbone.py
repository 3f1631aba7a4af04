"""The frozen VGG-19 feature extractor and its weights.

VGG-19 up to conv5_2, with taps after the ReLUs of conv1_2, conv2_2, conv3_2, conv4_2, conv5_2
(64 + 128 + 256 + 512 + 512 = 1472 channels at strides 1, 2, 4, 8, 16). Input is RGB in [0, 1];
the ImageNet mean/std normalisation happens here.

Weights specs:
  imagenet          torchvision's IMAGENET1K_V1 file, from $HYPERSEG_VGG19_WEIGHTS or the torch
                    hub cache ($TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth). Never downloaded
                    implicitly: `hyperseg-vfx fetch-weights` does that, on a machine with internet.
  imagenet:PATH     the same file at an explicit path.
  random:SEED       deterministic He-normal weights (tests, synthetic-data models).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..door import ANYWHERE
from ..errors import HypersegError
from .random_init import kaiming_conv_init_

VGG19_IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_IMAGENET_FILE = "vgg19-dcbb9e9d.pth"
WEIGHTS_ENV = "HYPERSEG_VGG19_WEIGHTS"

# Index of the ReLU after each tapped conv in torchvision's vgg19().features.
TAP_LAYER_INDEX = {"conv1_2": 3, "conv2_2": 8, "conv3_2": 13, "conv4_2": 22, "conv5_2": 31}
TAP_STRIDE = {"conv1_2": 1, "conv2_2": 2, "conv3_2": 4, "conv4_2": 8, "conv5_2": 16}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsNotFoundError(HypersegError, FileNotFoundError):
    """The ImageNet VGG-19 file is not on this machine; the message says how to get it."""


def default_imagenet_path() -> Path:
    """Where torchvision's own download would put the file (the torch hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_IMAGENET_FILE


def resolve_imagenet_weights(spec: str) -> Path:
    """The local file for an `imagenet` or `imagenet:PATH` spec, or WeightsNotFoundError."""
    explicit = spec.partition(":")[2]
    candidates = [Path(explicit)] if explicit else []
    if not explicit and os.environ.get(WEIGHTS_ENV):
        candidates.append(Path(os.environ[WEIGHTS_ENV]))
    if not explicit:
        candidates.append(default_imagenet_path())
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise WeightsNotFoundError(
        f"VGG-19 ImageNet weights not found (looked in: {looked}). "
        f"On a machine with internet run `hyperseg-vfx fetch-weights` (it downloads {VGG19_IMAGENET_URL} "
        f"into the torch hub cache), then copy the file here, or set {WEIGHTS_ENV}=/path/to/{VGG19_IMAGENET_FILE}."
    )


def parse_weights_spec(spec: str) -> tuple[str, str]:
    """Split a weights spec into (kind, argument); raise ValueError for an unknown spec."""
    kind, _, arg = spec.partition(":")
    if kind == "imagenet":
        return kind, arg
    if kind == "random":
        try:
            int(arg)
        except ValueError:
            raise ValueError(f"backbone weights {spec!r}: random needs an integer seed, e.g. random:0") from None
        return kind, arg
    raise ValueError(f"backbone weights {spec!r}: expected 'imagenet', 'imagenet:PATH' or 'random:SEED'")


# torchvision's VGG-19 configuration "E": conv widths, "M" = 2x2 max pool.
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def vgg19_features() -> nn.Sequential:
    """torchvision's vgg19().features layer for layer (same indices, so its weight files load).

    Built here rather than imported: importing torchvision adds about 160 MB of resident
    libraries to every process, and vgg19() would also allocate its 120M-parameter classifier.
    """
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


class VGG19Taps(nn.Module):
    """VGG-19 conv1_1..conv5_2 returning the tapped activations.

    forward: x (N, 3, h, w) RGB in [0, 1] -> list of (N, C_k, h / s_k, w / s_k), one per tap,
    with h and w multiples of 16.
    """

    def __init__(self, taps: tuple[str, ...], weights: str):
        super().__init__()
        self.taps = taps
        last = max(TAP_LAYER_INDEX[t] for t in taps)
        self.features = vgg19_features()[: last + 1]
        self._tap_indices = {TAP_LAYER_INDEX[t] for t in taps}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._load(weights)
        self.requires_grad_(False)
        self.eval()

    def _load(self, spec: str) -> None:
        kind, arg = parse_weights_spec(spec)
        if kind == "random":
            kaiming_conv_init_([m for m in self.features if isinstance(m, nn.Conv2d)], seed=int(arg))
            return
        path = resolve_imagenet_weights(spec)
        with ANYWHERE.open_file(path, "backbone_weights") as handle:
            state = torch.load(handle, map_location="cpu", weights_only=True)
        own = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        own = {k: v for k, v in own.items() if int(k.split(".")[0]) < len(self.features)}
        self.features.load_state_dict(own)

    def train(self, mode: bool = True) -> "VGG19Taps":
        """The backbone is frozen: it always stays in eval mode."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._tap_indices:
                outputs.append(x)
        return outputs


def fetch_imagenet_weights(destination: Path | None = None) -> Path:
    """Download torchvision's VGG-19 ImageNet file (needs internet) and return its path."""
    destination = destination or default_imagenet_path()
    destination.parent.mkdir(parents=True, exist_ok=True)
    if not destination.is_file():
        torch.hub.download_url_to_file(VGG19_IMAGENET_URL, str(destination), hash_prefix="dcbb9e9d")
    return destination
