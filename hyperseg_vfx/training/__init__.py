"""Training HyperSeg: losses (eq. 1-5), DOS click simulation, frozen-feature cache, the loop.

    from hyperseg_vfx.training.config import TrainConfig
    from hyperseg_vfx.training.train import train
    train(TrainConfig.from_yaml("hyperseg_vfx/training/configs/demo.yaml"))
"""
