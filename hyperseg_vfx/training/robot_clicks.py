"""Iterative training clicks (RITM, Sofiiuk et al. 2022): the evaluation robot adds clicks where
the model being trained is wrong.

DOS clicks are drawn without looking at the model, so they never show it the clicks a user (or
the evaluation robot) actually places: positive clicks deep inside a missed part, negative
clicks deep inside a spill, often close to the boundary. With probability `probability` a
training sample gets 1 to `max_clicks` more clicks, one at a time: the current network predicts
candidate 1 without gradients, `evaluation.robot.next_click` clicks the deepest point of its
largest error (the same function the `fixed` and `robot` protocols use), and the click joins
the sample's clicks. The training step then learns from the sample with all its clicks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..config import ConfigError, ContextConfig
from ..evaluation.robot import next_click
from .batches import TrainingItem
from .dos import click_masks

#: (item) -> (H, W) bool numpy prediction of the model being trained for that item.
Predict = Callable[[TrainingItem], np.ndarray]


@dataclass
class RobotClicksConfig:
    """probability: share of samples that get robot clicks (0 = off, plain DOS training);
    max_clicks: each such sample gets a uniform 1..max_clicks of them; negative_only: share of
    those samples whose robot may click only false positives, as the `fixed` protocol's robot
    once its 5 positive clicks are spent (negative clicks on thin spills along the boundary)."""

    probability: float = 0.0
    max_clicks: int = 3
    negative_only: float = 0.0

    def validate(self) -> "RobotClicksConfig":
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"robot_clicks.probability: expected a number in [0, 1], got {self.probability}")
        if not 0.0 <= self.negative_only <= 1.0:
            raise ConfigError(f"robot_clicks.negative_only: expected a number in [0, 1], got {self.negative_only}")
        if self.max_clicks < 1:
            raise ConfigError(f"robot_clicks.max_clicks: expected at least 1, got {self.max_clicks}")
        return self


@torch.no_grad()
def add_robot_clicks(item: TrainingItem, predict: Predict, config: RobotClicksConfig, context: ContextConfig,
                     rng: np.random.Generator) -> TrainingItem:
    """`item` with the robot's clicks on `predict`'s errors added (or unchanged, by the draw).

    The draws from `rng` depend on the config only (two per item, three with negative_only), so
    later draws never depend on the model.
    """
    chosen = rng.random() < config.probability
    count = int(rng.integers(1, config.max_clicks + 1))
    negative_only = config.negative_only > 0 and rng.random() < config.negative_only
    if not chosen:
        return item
    truth = item.truth.cpu().numpy() > 0.5
    void = None if item.valid is None else item.valid.cpu().numpy() == 0
    clicked = click_masks(list(item.clicks), *truth.shape).any(axis=0)
    for _ in range(count):
        click = next_click(predict(item), truth, void, clicked, allow_positive=not negative_only)
        if click is None:
            break
        clicked[int(click.y), int(click.x)] = True
        item = item.with_clicks(item.clicks + (click,), context)
    return item
