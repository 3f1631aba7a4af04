"""Iterative training clicks: the evaluation robot clicks the training network's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperseg_vfx.config import ConfigError, ContextConfig
from hyperseg_vfx.training.batches import TrainingItem, click_inputs
from hyperseg_vfx.training.config import TrainConfig
from hyperseg_vfx.training.robot_clicks import RobotClicksConfig, add_robot_clicks
from hyperseg_vfx.training.train import Trainer

from test_train import clips, tiny_config  # noqa: F401  (the module's clips fixture)

CONTEXT = ContextConfig()


def square_item(void: bool = False) -> TrainingItem:
    """A 40 x 40 item whose object is the square rows/cols 10..29, with no clicks yet."""
    truth = torch.zeros(40, 40)
    truth[10:30, 10:30] = 1
    frame = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    valid = None
    if void:
        valid = torch.ones(40, 40)
        valid[:, :20] = 0
    context, positive, negative = click_inputs(frame, frame, [], CONTEXT)
    return TrainingItem([], frame, frame, (), context, truth, positive, negative, valid)


def test_robot_clicks_the_deepest_point_of_the_error_and_updates_context_and_masks():
    item = square_item()
    seen = []

    def predict_nothing(current: TrainingItem) -> np.ndarray:
        seen.append(len(current.clicks))
        return np.zeros((40, 40), dtype=bool)

    config = RobotClicksConfig(probability=1.0, max_clicks=1)
    out = add_robot_clicks(item, predict_nothing, config, CONTEXT, np.random.default_rng(0))
    assert seen == [0]
    (click,) = out.clicks
    assert click.positive and 19 <= click.x <= 21 and 19 <= click.y <= 21  # the square's centre
    row, col = int(click.y), int(click.x)
    assert out.positive[row, col] == 1 and out.positive.sum() == 1 and out.negative.sum() == 0
    assert out.context[0, 6, row, col] == 1 and out.context[0, 6].sum() < 40 * 40  # B_p marks it
    assert torch.equal(out.context[0, :6], item.context[0, :6])  # frames untouched
    assert item.clicks == ()  # the input item is unchanged


def test_each_click_follows_the_prediction_of_the_clicks_so_far():
    item = square_item()
    config = RobotClicksConfig(probability=1.0, max_clicks=3)
    truth = item.truth.numpy() > 0.5

    def spill_left(current: TrainingItem) -> np.ndarray:
        pred = truth.copy()
        if not any(not c.positive for c in current.clicks):
            pred[10:30, 0:10] = True  # a false positive until a negative click lands there
        return pred

    out = add_robot_clicks(item, spill_left, config, CONTEXT, np.random.default_rng(1))  # draws 3 clicks
    assert len(out.clicks) == 1  # after the negative click nothing is wrong: the robot stops
    (click,) = out.clicks
    assert not click.positive and click.x < 10 and 10 <= click.y < 30
    assert out.negative.sum() == 1


def test_void_pixels_and_clicked_pixels_are_never_clicked():
    item = square_item(void=True)
    config = RobotClicksConfig(probability=1.0, max_clicks=4)
    out = add_robot_clicks(item, lambda _: np.zeros((40, 40), dtype=bool), config, CONTEXT, np.random.default_rng(1))
    assert out.clicks and all(c.x >= 20 for c in out.clicks)
    assert len({(int(c.x), int(c.y)) for c in out.clicks}) == len(out.clicks)


def test_off_by_probability_leaves_the_item_but_draws_the_same_numbers():
    item = square_item()
    untouched = add_robot_clicks(item, lambda _: pytest.fail("no prediction expected"),
                                 RobotClicksConfig(probability=0.0), CONTEXT, rng := np.random.default_rng(5))
    assert untouched is item
    reference = np.random.default_rng(5)
    reference.random(), reference.integers(1, 4)
    assert rng.random() == reference.random()


def test_config_validation_names_the_field(clips, tmp_path):  # noqa: F811
    data = tiny_config(clips, tmp_path / "run").to_dict()
    for bad, field in (({"probability": 1.5}, "robot_clicks.probability"), ({"max_clicks": 0}, "robot_clicks.max_clicks"),
                       ({"negative_only": -0.1}, "robot_clicks.negative_only")):
        with pytest.raises(ConfigError, match=field):
            TrainConfig.from_dict(data | {"robot_clicks": bad})
    with pytest.raises(ConfigError, match="robot_clicks"):
        TrainConfig.from_dict(data | {"robot_clicks": {"probabilty": 0.5}})


def test_training_draws_are_reproducible_and_add_clicks_on_the_network_errors(clips, tmp_path):  # noqa: F811
    config = tiny_config(clips, tmp_path / "run")
    plain = Trainer(config).draw(0)
    config.robot_clicks = RobotClicksConfig(probability=1.0, max_clicks=3)
    trainer = Trainer(config)
    first, again = trainer.draw(0), trainer.draw(0)
    assert [i.clicks for i in first] == [i.clicks for i in again]
    for with_robot, without in zip(first, plain):
        assert with_robot.clicks[: len(without.clicks)] == without.clicks  # DOS clicks first
        for click in with_robot.clicks[len(without.clicks):]:
            truth = bool(with_robot.truth[int(click.y), int(click.x)] > 0.5)
            assert click.positive == truth  # positive on missed object, negative on spill
    assert sum(len(a.clicks) - len(b.clicks) for a, b in zip(first, plain)) > 0
    assert np.isfinite(trainer.optimize(first, lr=1e-2)["loss"])


def test_negative_only_clicks_the_spill_even_when_the_miss_is_deeper():
    item = square_item()
    truth = item.truth.numpy() > 0.5

    def miss_most_spill_a_little(current: TrainingItem) -> np.ndarray:
        pred = np.zeros_like(truth)
        pred[10:14, 10:30] = True  # a sliver of the object found: a deep miss below it
        pred[8:10, 10:30] = True  # and a 2-px spill above the object
        return pred

    both = add_robot_clicks(item, miss_most_spill_a_little, RobotClicksConfig(1.0, 1, 0.0), CONTEXT,
                            np.random.default_rng(0))
    negative = add_robot_clicks(item, miss_most_spill_a_little, RobotClicksConfig(1.0, 1, 1.0), CONTEXT,
                                np.random.default_rng(0))
    assert both.clicks[0].positive and 14 <= both.clicks[0].y <= 30
    assert not negative.clicks[0].positive and 8 <= negative.clicks[0].y < 10
