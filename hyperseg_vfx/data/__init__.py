"""Training and evaluation data: datasets of (frame, previous frame, truth mask) samples and the
synthetic clip generator.

    samples = open_dataset("clips:/data/vfx")          # or "davis:/data/DAVIS:val:480p"
    loaded = samples[0].load()                          # rgb, prev_rgb, mask, void
"""

from .datasets import DatasetError, LoadedSample, Sample, open_dataset

__all__ = ["DatasetError", "LoadedSample", "Sample", "open_dataset"]
