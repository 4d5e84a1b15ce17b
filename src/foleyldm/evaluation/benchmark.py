"""``foleyldm benchmark-model``: generate a prompt set with a model, then score it.

Each row of the prompt set (`foleyldm.evaluation.prompt_set`) gets one clip,
``OUT/audio/<name>.wav``, from its own generator seeded ``seed + row index``, so a clip does
not depend on the batch it was made in or on ``--limit``. Rows of equal length share a batch.

Generation is resumable: ``OUT/config.json`` holds the configuration (model and a hash of
its weights, steps, guidance, sampler, eta, length rule, seed, conditioning) and a record per
clip (row, caption, seconds, seed). A clip whose file and record exist is reused; a run with
another configuration, or another row under an existing name, is refused. ``condition
"audio"`` conditions each row on the model's CLAP *audio* embedding of its reference clip
(AudioLDM's audio-conditioning ablation) instead of the caption's text embedding.
``condition "reconstruct"`` runs no diffusion: each reference clip goes through the model's
VAE (posterior mean) and vocoder, the codec's ceiling on what the generator can reach.

The system ``real`` generates nothing: the reference clips are the outputs (the ceiling).
Scoring is `foleyldm.evaluation.scoring.score_outputs`; results go to ``OUT/results.json``
and ``OUT/results.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from foleyldm.errors import FoleyError
from foleyldm.evaluation.cache import content_hash
from foleyldm.evaluation.prompt_set import PromptRow, read_prompt_set
from foleyldm.evaluation.scoring import ScoreOptions, check_metrics, score_outputs
from foleyldm.fileutil import atomic_open

if TYPE_CHECKING:
    import torch

    from foleyldm.evaluation.runner import EvalResult
    from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

#: Longest clip generated when the length follows the reference (AudioLDM's 10.24 s window).
MAX_REFERENCE_SECONDS = 10.24
REAL = "real"
STATE_FILE = "config.json"
STATE_VERSION = 1
Condition = Literal["text", "audio", "reconstruct"]


class BenchmarkError(FoleyError, ValueError):
    """A benchmark that cannot run (mixed configurations, bad options)."""


@dataclass
class BenchmarkOptions:
    """Generation options (None: the model's default) and what to score.

    ``seconds`` None: each reference clip's length (to 0.01 s), at most 10.24 s.
    ``reference``: another prompt set whose clips the distribution metrics compare against.
    ``clap``: model whose CLAP scores the clips (None: the generating model's own).
    """

    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    eta: float | None = None
    seconds: float | None = None
    seed: int = 0
    batch_size: int = 4
    condition: Condition = "text"
    #: Negative prompt of classifier-free guidance (None: the model's default).
    negative: str | None = None
    #: "hifigan" or "griffin-lim" (None: the model folder's choice).
    vocoder: str | None = None
    limit: int | None = None
    reference: str | os.PathLike[str] | None = None
    clap: str | None = None
    device: str = "auto"
    scoring: ScoreOptions = field(default_factory=ScoreOptions)


@dataclass
class BenchmarkResult:
    """Configuration, generation figures and scores of one benchmark run."""

    model: str
    prompts: str
    config: dict[str, Any]
    scores: EvalResult

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompts": self.prompts,
            "config": self.config,
            **self.scores.to_json(),
        }

    def to_markdown(self) -> str:
        shown = {k: v for k, v in self.config.items() if k not in ("model", "weights")}
        setting = ", ".join(f"{k} {v}" for k, v in shown.items())
        head = f"## {self.model} on {self.prompts}" + (f"\n\n{setting}" if setting else "")
        return f"{head}\n\n{self.scores.to_markdown()}"


# ---- configuration and resume state ------------------------------------------------------
def model_digest(pipe: TextToAudioPipeline) -> str:
    """SHA-256 over the weights of every component (a changed model is another config)."""
    from foleyldm.data.cache import fingerprint_module

    h = hashlib.sha256()
    for name, module in sorted(pipe.components.items()):
        h.update(f"{name}:{fingerprint_module(module)}|".encode())
    return h.hexdigest()


def generation_config(
    model: str, pipe: TextToAudioPipeline, opts: BenchmarkOptions
) -> dict[str, Any]:
    """Everything that decides the clips, with the model's defaults filled in."""
    d = pipe.defaults
    negative = opts.negative if opts.negative is not None else pipe.default_negative_prompt
    return {
        "model": model,
        "weights": model_digest(pipe)[:16],
        "steps": int(opts.steps if opts.steps is not None else d["num_inference_steps"]),
        "guidance": float(opts.guidance if opts.guidance is not None else d["guidance_scale"]),
        "sampler": opts.sampler or d["sampler"],
        "eta": float(opts.eta if opts.eta is not None else d["eta"]),
        "seconds": opts.seconds
        if opts.seconds is not None
        else f"reference, ≤ {MAX_REFERENCE_SECONDS}",
        "seed": opts.seed,
        "condition": opts.condition,
        "vocoder": pipe.codec.vocoder_mode,
        # only when not the empty text, so that folders made before it resume as they are
        **({"negative": negative} if negative and opts.condition != "reconstruct" else {}),
    }


def load_state(out_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The resume state of ``out_dir`` for ``config`` (new when there is none).

    Raises:
        BenchmarkError: the folder holds clips from another configuration.
    """
    path = out_dir / STATE_FILE
    if not path.is_file():
        return {"version": STATE_VERSION, "config": config, "clips": {}}
    try:
        state = json.loads(path.read_text())
        old = state["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BenchmarkError(f"{path} is not a benchmark state file; use another --out") from None
    if old != config:
        diff = ", ".join(
            f"{k} {old.get(k)!r} -> {config.get(k)!r}"
            for k in sorted(set(old) | set(config))
            if old.get(k) != config.get(k)
        )
        raise BenchmarkError(
            f"{out_dir} holds outputs of another configuration ({diff}); use another --out "
            "(or delete that folder) rather than mixing them"
        )
    return dict(state)


def save_state(out_dir: Path, state: dict[str, Any]) -> None:
    with atomic_open(out_dir / STATE_FILE) as fh:
        fh.write((json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode())


def clip_seconds(row: PromptRow, fixed: float | None) -> float:
    """The length to generate for ``row``: ``fixed``, else its reference's, capped."""
    if fixed is not None:
        return float(fixed)
    from foleyldm.data.manifest import probe_audio

    duration, _, _ = probe_audio(row.path, verify=False)
    return round(min(duration, MAX_REFERENCE_SECONDS), 2)


# ---- generation --------------------------------------------------------------------------
def generate_clips(
    pipe: TextToAudioPipeline,
    rows: Sequence[PromptRow],
    out_dir: Path,
    config: dict[str, Any],
    opts: BenchmarkOptions,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, Path], dict[str, float]]:
    """Generate the clips not already in ``out_dir/audio``; returns ({name: file}, figures)."""
    state = load_state(out_dir, config)
    audio_dir = out_dir / "audio"
    wanted: dict[str, dict[str, Any]] = {}
    for row in rows:
        wanted[row.name] = {
            "row": row.index,
            "caption": row.caption,
            "seconds": clip_seconds(row, opts.seconds),
            "seed": opts.seed + row.index,
        }
        if opts.condition != "text":  # the clip follows the reference's content
            wanted[row.name]["reference_sha"] = content_hash(row.path.read_bytes())[:16]
    todo: list[PromptRow] = []
    for row in rows:
        old = state["clips"].get(row.name)
        file = audio_dir / f"{row.name}.wav"
        if old is not None and {k: v for k, v in old.items() if k != "wall_s"} != wanted[row.name]:
            raise BenchmarkError(
                f"{file} was made for row {old['row']} ({old['caption']!r}), not row "
                f"{row.index} ({row.caption!r}): use another --out for another prompt set"
            )
        if old is None or not file.is_file():
            todo.append(row)
    save_state(out_dir, state)
    todo.sort(key=lambda r: (wanted[r.name]["seconds"], r.index))
    batches: list[list[PromptRow]] = []
    for row in todo:
        last = batches[-1] if batches else None
        same = last and wanted[last[0].name]["seconds"] == wanted[row.name]["seconds"]
        if last and same and len(last) < max(1, opts.batch_size):
            last.append(row)
        else:
            batches.append([row])
    t_all = time.perf_counter()
    audio_s = 0.0
    for k, batch in enumerate(batches):
        t0 = time.perf_counter()
        seconds = float(wanted[batch[0].name]["seconds"])
        _generate_batch(pipe, batch, audio_dir, config, seconds, opts)
        per_clip = (time.perf_counter() - t0) / len(batch)
        for row in batch:
            state["clips"][row.name] = {**wanted[row.name], "wall_s": round(per_clip, 4)}
        save_state(out_dir, state)
        audio_s += seconds * len(batch)
        if log is not None:
            log(
                f"[{k + 1}/{len(batches)}] {len(batch)} clips of {seconds:g} s in "
                f"{per_clip * len(batch):.1f} s"
            )
    wall = time.perf_counter() - t_all
    figures = {
        "clips_generated": float(len(todo)),
        "clips_reused": float(len(rows) - len(todo)),
        "wall_s": wall,
        "total_wall_s": float(sum(state["clips"][r.name]["wall_s"] for r in rows)),
    }
    if todo:
        figures["seconds_per_clip"] = wall / len(todo)
        figures["rtf"] = wall / audio_s
    return {row.name: audio_dir / f"{row.name}.wav" for row in rows}, figures


def _generate_batch(
    pipe: TextToAudioPipeline,
    batch: Sequence[PromptRow],
    audio_dir: Path,
    config: dict[str, Any],
    seconds: float,
    opts: BenchmarkOptions,
) -> None:
    import numpy as np
    import torch

    from foleyldm.audio.io import save_audio
    from foleyldm.evaluation.clap_embed import CLAPEmbedder

    if opts.condition == "reconstruct":
        clips = reconstruct(pipe, [r.path for r in batch], seconds)
        for row, wav in zip(batch, clips, strict=True):
            save_audio(audio_dir / f"{row.name}.wav", wav, pipe.codec.sample_rate)
        return
    generators = [torch.Generator("cpu").manual_seed(opts.seed + r.index) for r in batch]
    kwargs: dict[str, Any] = {
        "audio_length_in_s": seconds,
        "num_inference_steps": config["steps"],
        "guidance_scale": config["guidance"],
        "sampler": config["sampler"],
        "eta": config["eta"],
        "generator": generators,
        "negative_prompt": config.get("negative", ""),
    }
    if opts.condition == "audio":
        if pipe.clap is None:
            raise BenchmarkError("--condition audio needs a model that ships a CLAP")
        embedder = CLAPEmbedder(pipe.clap, opts.scoring.cache_dir)
        emb = embedder.audio({r.name: r.path for r in batch})
        kwargs["prompt_embeds"] = torch.from_numpy(np.stack([emb[r.name] for r in batch]))
        out = pipe(**kwargs)
    else:
        out = pipe([r.caption for r in batch], **kwargs)
    wavs = out.waveforms
    assert isinstance(wavs, torch.Tensor)
    for row, wav in zip(batch, wavs, strict=True):
        save_audio(audio_dir / f"{row.name}.wav", wav[0], out.sample_rate)


def reconstruct(pipe: TextToAudioPipeline, paths: Sequence[Path], seconds: float) -> torch.Tensor:
    """Each clip, cut or zero-padded to ``seconds``, through VAE and vocoder: [B, N] float32
    on the CPU.

    Clips are normalised as in training (`normalize_waveform`) and padded to whole latent
    frames for the VAE; the output is cut back to ``seconds``.
    """
    import torch

    from foleyldm.audio.io import load_audio, pad_or_trim

    codec = pipe.codec
    n = round(seconds * codec.sample_rate)
    hop = codec.mel.hop_length * codec.compression
    clips = [
        pad_or_trim(load_audio(p, codec.sample_rate, normalize=True, max_seconds=seconds)[0], n)
        for p in paths
    ]
    batch = pad_or_trim(torch.stack(clips), -(-n // hop) * hop)
    with torch.no_grad():
        latents = codec.encode(batch, sample_posterior=False)
        return codec.decode(latents)[:, :n].float().cpu()


# ---- the whole run -----------------------------------------------------------------------
def run_benchmark(
    model: str,
    prompts: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    opts: BenchmarkOptions,
    log: Callable[[str], None] | None = None,
) -> BenchmarkResult:
    """Generate (unless ``model`` is ``"real"``) and score a prompt set; write the results."""
    from foleyldm.evaluation.clap_embed import load_scoring_clap

    check_metrics(opts.scoring.metrics, opts.scoring.backbones)
    rows = read_prompt_set(prompts, limit=opts.limit)
    references = {r.name: r.path for r in rows}
    if opts.reference is not None:
        references = {r.name: r.path for r in read_prompt_set(opts.reference)}
    out = Path(out_dir)
    clap = load_scoring_clap(opts.clap) if opts.clap else None
    figures: dict[str, float] = {}
    if model == REAL:
        config: dict[str, Any] = {"model": REAL}
        save_state(out, load_state(out, config))
        outputs = {r.name: r.path for r in rows}
        label = f"{prompts} (reference clips)"
    else:
        from foleyldm.pipelines.text_to_audio import TextToAudioPipeline

        pipe = TextToAudioPipeline.from_pretrained(model, device=opts.device)
        if opts.vocoder is not None:
            pipe.codec.vocoder_mode = opts.vocoder
        config = generation_config(model, pipe, opts)
        outputs, figures = generate_clips(pipe, rows, out, config, opts, log)
        clap = clap if clap is not None else pipe.clap
        label = str(out / "audio")
    captions = {r.name: r.caption for r in rows}
    same = model == REAL and opts.reference is None
    ref_label = str(opts.reference if opts.reference is not None else prompts)
    scores = score_outputs(
        outputs, captions, references, opts.scoring, clap, same, (label, ref_label)
    )
    if figures:
        scores.values["generation"] = figures
    result = BenchmarkResult(model, str(prompts), config, scores)
    with atomic_open(out / "results.json") as fh:
        fh.write((json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n").encode())
    with atomic_open(out / "results.md") as fh:
        fh.write((result.to_markdown() + "\n").encode())
    return result
