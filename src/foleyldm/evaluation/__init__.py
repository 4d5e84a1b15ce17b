"""Evaluation: one metric per module behind one interface, backbones, listening tests.

Metrics (`Metric`: ``update()`` / ``compute()`` / ``reset()``, state reducible across
processes): `FrechetDistance` (FD/FAD), `InceptionScore`, `KLDivergence`, `KernelDistance`
(KID), `CLAPScore`, `CLAPRetrieval` (text→audio R@k, MRR), `LogSpectralDistance` (LSD),
`MelPSNR`, `MelSSIM`. Backbones (YAMNet, PANNs CNN14, VGGish, aisfx) live in
`foleyldm.evaluation.backbones` and load lazily. Also: `runner` (``foleyldm eval`` on two
folders, with `cache` and `clap_embed`), `benchmark` (``foleyldm benchmark-model``: a
`prompt_set` generated and scored by `scoring`), `listening` (OVL/REL listening tests in
SQLite) and `probes` (pitch, onset count, loudness trend, speech).
"""

from foleyldm.evaluation.base import Metric, MetricError
from foleyldm.evaluation.clap_score import CLAPScore
from foleyldm.evaluation.fd import FrechetDistance, frechet_distance
from foleyldm.evaluation.inception_score import InceptionScore, inception_score
from foleyldm.evaluation.kid import KernelDistance, polynomial_mmd2
from foleyldm.evaluation.kl import KLDivergence, pair_by_name
from foleyldm.evaluation.lsd import LogSpectralDistance, log_spectral_distance
from foleyldm.evaluation.psnr import MelPSNR, mel_psnr
from foleyldm.evaluation.retrieval import CLAPRetrieval, retrieval_ranks
from foleyldm.evaluation.ssim import MelSSIM, mel_ssim

__all__ = [
    "CLAPRetrieval",
    "CLAPScore",
    "FrechetDistance",
    "InceptionScore",
    "KLDivergence",
    "KernelDistance",
    "LogSpectralDistance",
    "MelPSNR",
    "MelSSIM",
    "Metric",
    "MetricError",
    "frechet_distance",
    "inception_score",
    "log_spectral_distance",
    "mel_psnr",
    "mel_ssim",
    "pair_by_name",
    "polynomial_mmd2",
    "retrieval_ranks",
]
