"""foleyldm: text-to-audio generation with latent diffusion (AudioLDM).

from foleyldm import TextToAudioPipeline
pipe = TextToAudioPipeline.from_pretrained("foley-small")
out = pipe("a dog barking", audio_length_in_s=5.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from foleyldm.audio.mel import MelConfig, mel_spectrogram
    from foleyldm.models.codec import LatentCodec
    from foleyldm.pipelines.audio_to_audio import AudioToAudioPipeline
    from foleyldm.pipelines.inpaint import InpaintPipeline
    from foleyldm.pipelines.output import AudioPipelineOutput
    from foleyldm.pipelines.super_resolution import SuperResolutionPipeline
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline
    from foleyldm.pipelines.variation import VariationPipeline

# Heavy libraries (diffusers, transformers) load on first use, so `import foleyldm` and
# `foleyldm --help` stay fast.
_LAZY = {
    "MelConfig": "foleyldm.audio.mel",
    "mel_spectrogram": "foleyldm.audio.mel",
    "LatentCodec": "foleyldm.models.codec",
    "AudioPipelineOutput": "foleyldm.pipelines.output",
    "TextToAudioPipeline": "foleyldm.pipelines.text_to_audio",
    "AudioToAudioPipeline": "foleyldm.pipelines.audio_to_audio",
    "InpaintPipeline": "foleyldm.pipelines.inpaint",
    "SuperResolutionPipeline": "foleyldm.pipelines.super_resolution",
    "VariationPipeline": "foleyldm.pipelines.variation",
}

__all__ = [
    "AudioPipelineOutput",
    "AudioToAudioPipeline",
    "InpaintPipeline",
    "LatentCodec",
    "MelConfig",
    "SuperResolutionPipeline",
    "TextToAudioPipeline",
    "VariationPipeline",
    "mel_spectrogram",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'foleyldm' has no attribute {name!r}")
