"""Physically modelled Foley: modal impacts, scraping, rolling, springs, textures, machines,
rooms. Every generator takes a `numpy.random.Generator` and returns (waveform, caption,
parameters); `generate.synth_clip` draws a random clip from a seed."""

from foleyldm.data.synth.generate import KINDS, SynthClip, synth_clip, write_synth_set

__all__ = ["KINDS", "SynthClip", "synth_clip", "write_synth_set"]
