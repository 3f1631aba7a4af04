"""The training loop on tiny generated clips: checkpoints, metrics, learning, resume, DDP."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hyperseg_vfx.checkpoint import load_checkpoint
from hyperseg_vfx.cli import main
from hyperseg_vfx.config import ConfigError, EdgesConfig, RefineConfig
from hyperseg_vfx.data.synth import generate_clips
from hyperseg_vfx.errors import HypersegError
from hyperseg_vfx.modeling.hyperseg import HyperSeg
from hyperseg_vfx.modeling.refine import refine_candidates
from hyperseg_vfx.training.config import TrainConfig
from hyperseg_vfx.training.features import FeatureCache
from hyperseg_vfx.training.train import Trainer, train


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    generate_clips(root, clips=2, frames=3, width=48, height=32, seed=1)
    return root


def tiny_config(clips, out, **schedule) -> TrainConfig:
    """Width-8 network, two dilations, 32 px tiles (a 48 x 32 frame is two tiles), rank-2 Tucker."""
    return TrainConfig.from_dict({
        "out": str(out), "seed": 0, "threads": 1, "device": "cpu",
        "data": {"train": f"clips:{clips}", "size": 48, "tucker_frames": 2},
        "model": {"backbone": {"weights": "random:0", "tile_size": 32}, "tucker": {"ranks": [2, 2, 2, 2, 2]},
                  "network": {"width": 8, "dilations": [1, 2]}},
        "optimizer": {"lr": 1e-2},
        "schedule": {"steps": 3, "batch_size": 2, "decay": "constant", "log_every": 1, "checkpoint_every": 2}
        | schedule,
        "clicks": {"margin": 1, "step": 2, "band": 10, "border": 10},
        "metadata": {"name": "tiny", "synthetic_demo": True},
    })


def test_three_steps_write_checkpoints_metrics_and_curve(clips, tmp_path):
    config = tiny_config(clips, tmp_path / "run")
    config.data.val, config.data.val_samples, config.schedule.val_every = f"clips:{clips}", 2, 3
    final = train(config)
    model, metadata = load_checkpoint(final)
    assert metadata["trained"] is True and metadata["synthetic_demo"] is True and metadata["name"] == "tiny"
    assert metadata["training"]["steps"] == 3 and "resume" not in metadata
    assert model.config.network.width == 8
    _, last = load_checkpoint(tmp_path / "run/last.pt")
    assert last["resume"]["step"] == 3 and last["trained"] is False
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert {"loss", "jaccard_ic", "diversity", "boundary", "iou", "lr"} <= set(records[0])
    assert 0.0 <= records[-1]["val_iou"] <= 1.0
    assert (tmp_path / "run/training_curve.png").stat().st_size > 0
    assert TrainConfig.from_yaml(tmp_path / "run/config.yaml").to_dict() == config.to_dict()


def test_loss_decreases_on_a_fixed_batch(clips, tmp_path):
    trainer = Trainer(tiny_config(clips, tmp_path / "run"))
    items = trainer.draw(0)
    losses = [trainer.optimize(items, lr=1e-2)["loss"] for _ in range(20)]
    assert losses[-1] < 0.7 * losses[0], losses


def test_resume_continues_from_the_saved_step_as_if_never_stopped(clips, tmp_path):
    straight = Trainer(tiny_config(clips, tmp_path / "straight", steps=4))
    straight.run()
    with pytest.raises(HypersegError, match="--resume"):
        Trainer(tiny_config(clips, tmp_path / "straight", steps=4))
    with pytest.raises(HypersegError, match="nothing to resume"):
        Trainer(tiny_config(clips, tmp_path / "other", steps=4), resume=True)
    train(tiny_config(clips, tmp_path / "stopped", steps=2))
    resumed = Trainer(tiny_config(clips, tmp_path / "stopped", steps=4), resume=True)
    assert resumed.start_step == 2
    resumed.run()
    for key, value in straight.model.network.state_dict().items():
        torch.testing.assert_close(resumed.model.network.state_dict()[key], value, rtol=0, atol=1e-6)
    steps = [json.loads(line)["step"] for line in (tmp_path / "stopped/metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def _ddp_worker(rank: int, world: int, port: int, clips, out) -> None:
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    trainer = Trainer(tiny_config(clips, out, steps=3))
    initial = {k: v.clone() for k, v in trainer.model.network.state_dict().items()}
    trainer.run()
    torch.save({"initial": initial, "final": trainer.model.network.state_dict()}, out / f"rank{rank}.pt")
    dist.destroy_process_group()


def test_ddp_on_gloo_keeps_the_weights_identical_across_ranks(clips, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "ddp"
    out.mkdir()
    torch.multiprocessing.spawn(_ddp_worker, args=(2, port, clips, out), nprocs=2, join=True)
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for key, value in ranks[0]["final"].items():
        torch.testing.assert_close(ranks[1]["final"][key], value, rtol=0, atol=0)
    assert any(not torch.equal(ranks[0]["initial"][k], v) for k, v in ranks[0]["final"].items())
    assert (out / "model.pt").is_file()  # rank 0 wrote the run's files


CONFIGS = Path(__file__).parents[1] / "hyperseg_vfx/training/configs"


@pytest.mark.parametrize("name, changed", [
    ("ablation_no_tessellation", ("model", "backbone", "tessellate")),
    ("ablation_no_tucker", ("model", "tucker", "enabled")),
    ("ablation_no_boundary", ("loss", "boundary")),
    ("ablation_no_context_skips", ("model", "network", "context_skips")),
])
def test_each_ablation_config_switches_off_one_thing_of_the_paper_config(name, changed):
    paper, ablation = (TrainConfig.from_yaml(CONFIGS / f"{n}.yaml").to_dict() for n in ("paper", name))
    switch = ablation
    for key in changed:
        switch = switch[key]
    assert switch is False
    differing = {k for k in paper if paper[k] != ablation[k]}
    assert differing == {"out", "metadata", changed[0]}


def test_demo_config_is_the_documented_synthetic_demo():
    config = TrainConfig.from_yaml(CONFIGS / "demo.yaml")
    assert config.metadata.synthetic_demo and config.model.backbone.weights.startswith("random:")
    assert config.data.train.startswith("clips:")


def test_config_errors_name_the_field_and_base_loops(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        TrainConfig.from_yaml(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("data: {train: 'clips:x', sise: 3}\n")
    with pytest.raises(ConfigError, match="data.sise: unknown field"):
        TrainConfig.from_yaml(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("data: {train: 'clips:x'}\nclicks: {preset: paper, margin: -1}\n")
    with pytest.raises(ConfigError, match="margin"):
        TrainConfig.from_yaml(tmp_path / "d.yaml")
    (tmp_path / "e.yaml").write_text("data: {train: 'clips:x'}\nloss: {cross_entropy_weight: -1}\n")
    with pytest.raises(ConfigError, match="loss.cross_entropy_weight"):
        TrainConfig.from_yaml(tmp_path / "e.yaml")


def test_fit_tucker_command_writes_factors_that_training_installs(clips, tmp_path):
    config = tiny_config(clips, tmp_path / "run")
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(config.to_yaml())
    factors = tmp_path / "factors.pt"
    result = CliRunner().invoke(main, ["fit-tucker", "--data", f"clips:{clips}", "--config", str(config_file),
                                       "--frames", "2", "--out", str(factors)])
    assert result.exit_code == 0, result.output
    stored = torch.load(factors, weights_only=True)
    assert stored["frames"] == 2 and [f.shape[1] for f in stored["factors"]] == [2, 2, 2, 2, 2]
    config.data.tucker_factors = str(factors)
    trainer = Trainer(config)
    for installed, fitted in zip(trainer.model.tucker_factors, stored["factors"]):
        torch.testing.assert_close(installed, fitted)
    config.model.tucker.ranks = (3, 2, 2, 2, 2)
    with pytest.raises(HypersegError, match="ranks"):
        Trainer(config)


@pytest.mark.parametrize("store", ["memory", "disk", "none"])
def test_feature_cache_modes(clips, tmp_path, store):
    model = HyperSeg(tiny_config(clips, tmp_path).model)
    frame = torch.rand(1, 3, 32, 48)
    spec = str(tmp_path / "cache") if store == "disk" else store
    cache = FeatureCache(model, spec)
    first, second = cache.get("frame-a", frame), cache.get("frame-a", frame)
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)
    assert [f.shape[0] for f in first] == [2] * 5  # a 48 x 32 frame is two 32 px tiles
    assert (cache.hits, cache.misses) == ((0, 2) if store == "none" else (1, 1))
    if store == "disk":
        assert FeatureCache(model, spec).get("frame-a", frame)[0].equal(first[0])
        assert len(list((tmp_path / "cache").rglob("*.pt"))) == 1


def test_training_with_a_refinement_learns_through_the_guided_filter(clips, tmp_path):
    config = tiny_config(clips, tmp_path / "run")
    config.model.refine = RefineConfig(radius=3, eps=1e-3, reference_short_side=32)
    trainer = Trainer(config)
    items = trainer.draw(0)
    network = trainer.model.network
    raw = network.forward_projected(
        trainer.model.project_compressed(items[0].features, 32, 48), items[0].context)
    refined = trainer.forward([items[0].features], [items[0].context])[0]
    torch.testing.assert_close(refined, refine_candidates(raw, items[0].context[:, :3], config.model.refine))
    assert not torch.allclose(refined, raw, atol=1e-3)
    losses = [trainer.optimize(items, lr=1e-2)["loss"] for _ in range(20)]
    assert all(torch.isfinite(p.grad).all() for p in network.parameters())
    assert losses[-1] < 0.7 * losses[0], losses


def test_multi_scale_data_draws_each_samples_size_from_sizes(clips, tmp_path):
    config = tiny_config(clips, tmp_path / "run", steps=2)
    config.data.sizes = (24, 48, 96)  # 96 x 64 frames are 1 x 1 tiles of 64: multi-tile at tile size 32
    config.model.backbone.tile_size = 32
    config.model.refine = RefineConfig(radius=2, reference_short_side=32)
    config.model.working_short_side = 32
    trainer = Trainer(config)
    shapes = {tuple(item.context.shape[2:]) for step in range(6) for item in trainer.draw(step)}
    assert shapes == {(16, 24), (32, 48), (64, 96)}
    assert max(item.features[0].shape[0] for step in range(6) for item in trainer.draw(step)) == 6  # 3 x 2 tiles
    assert {tuple(trainer._items(trainer.samples[:1], np.random.default_rng(0))[0].context.shape[2:])} == {(32, 48)}
    model, _ = load_checkpoint(trainer.run())
    assert model.config.working_short_side == 32
    config.data.sizes = (8,)
    with pytest.raises(ConfigError, match="data.sizes"):
        config.validate()


def test_data_side_short_sets_each_frames_short_side(tmp_path):
    """data.side: short gives 4:3 and 16:9 frames the same short side (a working size's cut)."""
    root = tmp_path / "clips"
    generate_clips(root, clips=1, frames=2, width=64, height=48, seed=1)
    generate_clips(root, clips=1, frames=2, width=96, height=54, seed=2)
    config = tiny_config(root, tmp_path / "run")
    config.data.side, config.data.size, config.data.sizes = "short", 32, (32, 40)
    trainer = Trainer(config)
    shapes = {tuple(i.frame.shape[2:]) for step in range(4) for i in trainer._items(trainer.samples,
                                                                                   np.random.default_rng(step), True)}
    assert shapes == {(32, 43), (32, 57), (40, 53), (40, 71)}
    assert max(trainer.model.tile_grid(h, w).count for h, w in shapes) == 6  # 40 x 71 in 32-px tiles: 3 x 2
    config.data.side = "width"
    with pytest.raises(ConfigError, match="data.side"):
        config.validate()


def test_init_starts_a_new_run_from_a_checkpoint(clips, tmp_path):
    first = train(tiny_config(clips, tmp_path / "first", steps=2))
    config = tiny_config(clips, tmp_path / "second", steps=1)
    config.init = str(first)
    trainer = Trainer(config)
    assert trainer.start_step == 0
    pretrained, metadata = load_checkpoint(first)
    for key, value in pretrained.network.state_dict().items():
        torch.testing.assert_close(trainer.model.network.state_dict()[key], value, rtol=0, atol=0)
    _, finetuned = load_checkpoint(trainer.run())
    assert finetuned["training"]["init"] == {"checkpoint": str(first), "training": metadata["training"]}
    config.model.refine, config.out = RefineConfig(radius=2, reference_short_side=32), str(tmp_path / "refining")
    refining = Trainer(config)  # a refinement has no weights: the init's network goes on under it
    assert refining.model.config.refine.radius == 2
    assert load_checkpoint(refining.run())[0].config.refine.radius == 2
    config.model.edges, config.out = EdgesConfig(method="graphcut"), str(tmp_path / "edges")
    edges = Trainer(config)  # nor has the edge stage: the run's goes into its model
    assert load_checkpoint(edges.run())[0].config.edges.method == "graphcut"
    config.model.network.width, config.out = 4, str(tmp_path / "third")
    with pytest.raises(HypersegError, match="another model config"):
        Trainer(config)
    config.data.tucker_factors = "factors.pt"
    with pytest.raises(ConfigError, match="init and data.tucker_factors"):
        config.validate()


def test_training_curve_command_lays_stages_end_to_end(tmp_path):
    from hyperseg_vfx.training.curve import stage_records

    for name, steps in (("a", (10, 20)), ("b", (10, 20, 30))):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1.0 / s, "iou": 0.5}) + "\n"
                                                        for s in steps))
    records, starts = stage_records([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert [r["step"] for r in records] == [10, 20, 30, 40, 50] and starts == [20]
    result = CliRunner().invoke(main, ["training-curve", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"),
                                       "--out", str(tmp_path / "curve.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_stop_after_ends_early_on_the_full_schedule_and_resume_goes_on(clips, tmp_path):
    from hyperseg_vfx.training.config import learning_rate

    config = tiny_config(clips, tmp_path / "run", steps=4, decay="cosine", stop_after=2)
    final = train(config)
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert records[1]["lr"] == pytest.approx(learning_rate(config, 1))  # the 4-step cosine, not a 2-step one
    assert learning_rate(config, 1) > learning_rate(config, 3)
    _, metadata = load_checkpoint(final)
    assert metadata["trained"] is True and metadata["training"]["steps"] == 2
    longer = tiny_config(clips, tmp_path / "run", steps=4, decay="cosine", stop_after=3)
    assert Trainer(longer, resume=True).start_step == 2
    train(longer, resume=True)
    training = load_checkpoint(final)[1]["training"]
    assert training["steps"] == 3
    assert training["wall_seconds"] > metadata["training"]["wall_seconds"] > 0  # resumed time adds up
    with pytest.raises(HypersegError, match="past the end"):
        Trainer(tiny_config(clips, tmp_path / "run", steps=4, decay="cosine", stop_after=2), resume=True).run()
    with pytest.raises(ConfigError, match="schedule.stop_after"):
        tiny_config(clips, tmp_path / "other", steps=4, stop_after=5)


def test_keep_every_keeps_the_models_that_stop_after_reproduces(clips, tmp_path):
    final = train(tiny_config(clips, tmp_path / "long", steps=4, decay="cosine", keep_every=2))
    kept = sorted((tmp_path / "long/steps").iterdir())
    assert [p.name for p in kept] == ["model_step000002.pt", "model_step000004.pt"]
    step2, metadata = load_checkpoint(kept[0])
    assert metadata["trained"] is True and metadata["training"]["steps"] == 2 and "resume" not in metadata
    assert _same_weights(load_checkpoint(kept[1])[0], load_checkpoint(final)[0])
    shipped = train(tiny_config(clips, tmp_path / "short", steps=4, decay="cosine", stop_after=2))
    assert _same_weights(step2, load_checkpoint(shipped)[0])  # the step chosen ships bit for bit
    assert not (tmp_path / "short/steps").exists()  # off by default
    with pytest.raises(ConfigError, match="schedule.keep_every"):
        tiny_config(clips, tmp_path / "other", keep_every=-1)


def _same_weights(a: HyperSeg, b: HyperSeg) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_demo_stages_chain_each_from_the_previous_stage_model():
    names = ("demo", "demo_finetune", "demo_robot", "demo_negative", "demo_crossentropy", "demo_crossentropy2")
    stages = [TrainConfig.from_yaml(CONFIGS / f"{name}.yaml") for name in names]
    for previous, stage in zip(stages, stages[1:]):
        assert stage.init == f"{previous.out}/model.pt"
        assert stage.model.to_dict() == stages[0].model.to_dict()
        assert stage.metadata.synthetic_demo
    robot, negative = stages[2].robot_clicks, stages[3].robot_clicks
    assert robot.probability > 0 and robot.negative_only == 0 and negative.negative_only > 0
    assert all(stage.schedule.end_step < stage.schedule.steps for stage in stages[3:])  # chosen steps
    assert [stage.loss.cross_entropy_weight > 0 for stage in stages] == [False] * 4 + [True] * 2
