"""Start a deeper network from a trained one without changing what it computes (Net2Net's
"deeper" operation, Chen et al. 2016).

A run whose `model.network.dilations` extends its init checkpoint's by more layers at the end
gets the checkpoint's Tucker factors and weights, and identity layers for the new ones: each new
3x3 layer passes hidden channel c through its centre tap (weight 1 from channel c, 0 from every
other channel and from the context skips, bias 0). The hidden activations are ReLU outputs,
so ReLU(identity(h)) = h and the deeper network's candidates equal the checkpoint's exactly at
step 0; training then decides what the new layers add (e.g. dilation-1 layers that refine the
edges against the frame's colours, which the context skips feed them).
"""

from __future__ import annotations

import copy

import torch

from ..config import ModelConfig
from ..errors import HypersegError
from ..modeling.hyperseg import HyperSeg


def appended_layers(trained: ModelConfig, deeper: ModelConfig) -> int:
    """How many layers `deeper` appends to `trained` (0: the same model config).

    Raises HypersegError when `deeper` differs in anything else than dilations appended at the end.
    """
    old, new = trained.network.dilations, deeper.network.dilations
    added = len(new) - len(old)
    same_otherwise = copy.deepcopy(deeper)
    same_otherwise.network.dilations = old
    if added < 0 or tuple(new[: len(old)]) != tuple(old) or same_otherwise.to_dict() != trained.to_dict():
        raise HypersegError(
            "the init checkpoint's model config differs from this run's `model` "
            f"(only dilations appended at the end may differ: checkpoint {list(old)}, run {list(new)})"
        )
    return added


@torch.no_grad()
def deepen(trained: HyperSeg, deeper: ModelConfig) -> HyperSeg:
    """A HyperSeg of config `deeper` computing exactly what `trained` computes (see the module)."""
    added = appended_layers(trained.config, deeper)
    if added == 0:
        return trained
    model = HyperSeg(deeper)
    model.set_tucker_factors(trained.tucker_factors)
    model.network.load_state_dict(trained.network.state_dict(), strict=False)
    width = deeper.network.width
    for layer in model.network.layers[len(trained.network.layers) :]:
        layer.weight.zero_()
        layer.weight[torch.arange(width), torch.arange(width), 1, 1] = 1.0
        layer.bias.zero_()
    return model.eval()
