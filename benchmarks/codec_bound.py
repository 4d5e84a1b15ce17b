"""Where does a sound lose what makes it recognisable: the mel, the encoder or the decoder?

    python benchmarks/codec_bound.py --model foley-small --data WORK/all.jsonl --animal dog

For the clips of one animal in ``--data`` (``--splits``, default every split; each clip cut or
padded to ``--seconds`` from its start) the animal probe (YAMNet's classes of that animal at
the best 0.96 s patch, `foleyldm.evaluation.probes.animal_score`) of:

- the waveform itself, and its true log-mel through the model's vocoder;
- that mel smoothed along frequency (Gaussian, sigma in mel bins) or time (sigma in frames)
  before the vocoder: which detail the probe needs;
- the mel through the VAE (posterior mean, the codec as the LDM sees it);
- the decoder's range: a latent optimised (Adam, ``--opt-steps``) from the posterior mean to
  make the decoder reproduce the true mel. If this row stays low while its L1 falls, no
  encoder and no LDM can give the sound back through this decoder.

Issue 9 (foley-small release 5, 19 dog clips): 0.73 for the true mel, 0.42 at sigma 1 bin
along frequency and 0.02 at 2 bins, 0.20 through the VAE and 0.17 from optimised latents:
the bark lives in harmonic detail about one mel bin wide that this decoder does not draw.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

if TYPE_CHECKING:
    from diffusers import AutoencoderKL

Transform = Callable[[np.ndarray], np.ndarray]  # log-mel [T, M] -> log-mel [T, M]


def smoothing(sigma: float, axis: int) -> Transform:
    return lambda m: gaussian_filter1d(m, sigma, axis=axis)


def optimised_latent(vae: AutoencoderKL, mel: torch.Tensor, steps: int) -> torch.Tensor:
    """The latent (unscaled, [1, C, T/r, M/r]) whose decoding is closest to ``mel`` in L1,
    found by Adam from the posterior mean."""
    with torch.no_grad():
        z = vae.encode(mel).latent_dist.mean.clone()
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(steps):
        loss = (vae.decode(z).sample - mel).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return z.detach()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="foley-small")
    ap.add_argument("--data", required=True, help="manifest whose clips are probed")
    ap.add_argument("--animal", default="dog", help="a key of foleyldm.evaluation.probes.ANIMALS")
    ap.add_argument("--splits", nargs="+", default=["train", "valid", "test"])
    ap.add_argument("--seconds", type=float, default=2.56)
    ap.add_argument("--limit", type=int, default=None, help="at most this many clips")
    ap.add_argument("--opt-steps", type=int, default=150, help="0 skips the decoder-range row")
    args = ap.parse_args()

    from foleyldm import TextToAudioPipeline
    from foleyldm.audio.io import load_audio, pad_or_trim
    from foleyldm.data.manifest import read_manifest
    from foleyldm.evaluation.backbones.yamnet import YAMNet
    from foleyldm.evaluation.probes import ANIMALS, animal_of, animal_score

    if args.animal not in ANIMALS:
        raise SystemExit(f"error: --animal must be one of {', '.join(ANIMALS)}")
    records = [
        r
        for r in read_manifest(args.data)
        if r.split in args.splits and r.captions and animal_of(r.captions[0]) == args.animal
    ][: args.limit]
    if not records:
        raise SystemExit(f"error: no {args.animal} clips in {args.data} ({args.splits})")

    pipe = TextToAudioPipeline.from_pretrained(args.model)
    codec, yamnet, sr = pipe.codec, YAMNet(), pipe.sample_rate
    vae = codec.vae.float()
    hop = codec.mel.hop_length * codec.compression
    n = -(-round(args.seconds * sr) // hop) * hop  # whole latent frames

    def probe(wav: torch.Tensor) -> float:
        probs = yamnet.patch_probabilities(wav.float().numpy(), sr)
        return animal_score(probs, yamnet.names, args.animal)

    @torch.no_grad()
    def vocode(mel: torch.Tensor) -> float:
        return probe(codec.vocode(mel.to(vae.dtype))[0])

    transforms: dict[str, Transform] = {
        "true mel": lambda m: m,
        "frequency sigma 1 bin": smoothing(1.0, 1),
        "frequency sigma 2 bins": smoothing(2.0, 1),
        "time sigma 2 frames": smoothing(2.0, 0),
        "time sigma 4 frames": smoothing(4.0, 0),
    }
    rows: dict[str, list[float]] = {"waveform": []}
    rows.update({f"{k} -> vocoder": [] for k in transforms})
    rows["VAE (posterior mean) -> vocoder"] = []
    l1: dict[str, list[float]] = {"VAE (posterior mean) -> vocoder": []}
    opt_row = "decoder range (optimised latent) -> vocoder"
    if args.opt_steps:
        rows[opt_row], l1[opt_row] = [], []
    for r in records:
        wav = pad_or_trim(load_audio(r.path, sr, normalize=True, max_seconds=args.seconds)[0], n)
        rows["waveform"].append(probe(wav))
        mel = codec.wav_to_mel(wav[None]).float()
        m = mel[0, 0].numpy()
        for k, f in transforms.items():
            smoothed = np.ascontiguousarray(f(m), dtype=np.float32)
            rows[f"{k} -> vocoder"].append(vocode(torch.from_numpy(smoothed)[None, None]))
        with torch.no_grad():
            rec = vae.decode(vae.encode(mel).latent_dist.mean).sample
        rows["VAE (posterior mean) -> vocoder"].append(vocode(rec))
        l1["VAE (posterior mean) -> vocoder"].append(float((rec - mel).abs().mean()))
        if args.opt_steps:
            z = optimised_latent(vae, mel, args.opt_steps)
            with torch.no_grad():
                best = vae.decode(z).sample
            rows[opt_row].append(vocode(best))
            l1[opt_row].append(float((best - mel).abs().mean()))

    print(f"| {args.model}: {len(records)} {args.animal} clips | pass (>= 0.5) | mean | mel L1 |")
    print("|---|---|---|---|")
    for label, values in rows.items():
        passed = float(np.mean([v >= 0.5 for v in values]))
        err = f"{statistics.fmean(l1[label]):.3f}" if label in l1 else ""
        print(f"| {label} | {passed:.2f} | {statistics.fmean(values):.3f} | {err} |")


if __name__ == "__main__":
    main()
