"""The HyperSeg segmentation network: a context aggregation network with context-aware skips.

Paper Table 1 with M = 6: layer 1 is a 1x1 conv (D_phi + 10) -> 70; layers 2..9 are 3x3 convs
80 -> 70 with dilations 1, 2, ..., 128 and ReLU; layer 10 is a 3x3 conv 80 -> M with sigmoid.
The 10 context channels are concatenated to the input of every layer from 2 to 10. Every layer
uses 'same' zero padding, so the network keeps the full frame resolution (no pooling).
Layer 1 is followed by ReLU too (as in the context aggregation networks the paper builds on).

Layer 1 is linear in its input, so it is split into a feature part (applied by the feature path,
possibly folded into the Tucker factors and computed at the backbone's resolution) and a context
part; `forward_projected` takes the feature part's result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import CONTEXT_CHANNELS, NetworkConfig
from .random_init import kaiming_conv_init_


class HyperSegNet(nn.Module):
    """feature_channels: D_phi (736 by default). Output: (N, M, H, W) in [0, 1]."""

    def __init__(self, config: NetworkConfig, feature_channels: int):
        super().__init__()
        self.config = config
        self.feature_channels = feature_channels
        skip = CONTEXT_CHANNELS if config.context_skips else 0
        width = config.width
        self.input_layer = nn.Conv2d(feature_channels + CONTEXT_CHANNELS, width, kernel_size=1)
        self.layers = nn.ModuleList(
            nn.Conv2d(width + skip, width, kernel_size=3, dilation=d, padding=d) for d in config.dilations
        )
        self.head = nn.Conv2d(width + skip, config.candidates, kernel_size=3, padding=1)

    def reset_parameters(self, seed: int) -> None:
        """Deterministic He-normal init (platform independent); the head gets a small gain."""
        kaiming_conv_init_([self.input_layer, *self.layers], seed)
        kaiming_conv_init_([self.head], seed + 1, gain=0.1)

    @property
    def feature_weight(self) -> torch.Tensor:
        """Layer 1's weights on the features, (width, D_phi)."""
        return self.input_layer.weight[:, : self.feature_channels, 0, 0]

    def project_features(self, features: torch.Tensor) -> torch.Tensor:
        """Layer 1's feature part: (N, D_phi, H, W) -> (N, width, H, W), no bias."""
        return F.conv2d(features, self.feature_weight[:, :, None, None])

    def forward(self, features: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """features (N, D_phi, H, W), context (N, 10, H, W) -> candidates (N, M, H, W)."""
        return self.forward_projected(self.project_features(features), context)

    def forward_projected(self, projected: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """projected = project_features(features) (N, width, H, W); context (N, 10, H, W).

        With gradients (training) the sigmoid runs in float32 even under float16 autocast: a
        float16 sigmoid is exactly 1 above a logit of about 8, and the cross-entropy's gradient
        on such a wrong pixel, (f - y) / max(f (1 - f), 1e-12), overflows float16 and turns
        into NaN through the sigmoid's backward.
        """
        if torch.is_grad_enabled() or not self.config.context_skips:
            hidden = F.relu(self._first_layer(projected, context))
            for layer in self.layers:
                hidden = F.relu(layer(self._with_context(hidden, context)))
            return torch.sigmoid(self.head(self._with_context(hidden, context)).float())
        return self._forward_buffered(projected, context)

    def _first_layer(self, projected: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Layer 1 before its ReLU: the projected features plus the context part and bias."""
        context_weight = self.input_layer.weight[:, self.feature_channels :]
        return F.conv2d(context, context_weight, self.input_layer.bias).add_(projected)

    def _with_context(self, hidden: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return torch.cat([hidden, context], dim=1) if self.config.context_skips else hidden

    def _forward_buffered(self, projected: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Inference path: the same layers through one preallocated [hidden | context] buffer.

        Each layer's ReLU writes straight into the buffer (no concatenation, no separate ReLU
        pass), so a 2K frame holds two full-resolution activations instead of four.
        """
        _, width, h, w = projected.shape
        n = context.shape[0]  # projected may be one frame's (1, ...) shared by N objects' contexts
        buffer = torch.empty(
            (n, width + CONTEXT_CHANNELS, h, w), dtype=context.dtype, device=context.device,
            memory_format=torch.channels_last,
        )
        buffer[:, width:] = context
        hidden = buffer[:, :width]
        torch.clamp_min(self._first_layer(projected, context), 0, out=hidden)
        for layer in self.layers:
            torch.clamp_min(layer(buffer), 0, out=hidden)
        return torch.sigmoid(self.head(buffer))
