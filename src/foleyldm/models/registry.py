"""Names of the released AudioLDM checkpoints, where they live, and the local cache.

``--model audioldm-s-full-v2`` resolves, in order, to:
1. a converted folder ``$FOLEYLDM_CACHE/audioldm-s-full-v2/`` (diffusers layout);
2. an original checkpoint ``$FOLEYLDM_CACHE/audioldm-s-full-v2.ckpt`` (or the file name the
   original release uses), converted into (1) on first use;
3. the diffusers-format hub repository, when the release has one (needs network).
Otherwise a one-line error says which file to download and where to put it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from foleyldm.errors import ModelNotFoundError


@dataclass(frozen=True)
class ReleasedModel:
    name: str
    variant: str  # "s", "m" or "l": the UNet shapes (REFERENCE.md §2)
    hub_id: str | None  # diffusers-format repository, if one exists
    ckpt_names: tuple[str, ...]  # file names of the original .ckpt release
    ckpt_url: str  # where the original release is published
    note: str


_ZENODO = "https://zenodo.org/record/{record}/files/{file}"

RELEASES: dict[str, ReleasedModel] = {
    m.name: m
    for m in (
        ReleasedModel(
            "audioldm-s-full",
            "s",
            "cvssp/audioldm",
            ("audioldm-s-full.ckpt", "audioldm-s-full"),
            _ZENODO.format(record=7600541, file="audioldm-s-full"),
            "AudioLDM-S, first release",
        ),
        ReleasedModel(
            "audioldm-s-full-v2",
            "s",
            "cvssp/audioldm-s-full-v2",
            ("audioldm-s-full-v2.ckpt", "audioldm-full-s-v2.ckpt"),
            _ZENODO.format(record=7698295, file="audioldm-full-s-v2.ckpt"),
            "AudioLDM-S, v2",
        ),
        ReleasedModel(
            "audioldm-m-full",
            "m",
            "cvssp/audioldm-m-full",
            ("audioldm-m-full.ckpt",),
            _ZENODO.format(record=7813012, file="audioldm-m-full.ckpt"),
            "AudioLDM-M",
        ),
        ReleasedModel(
            "audioldm-l-full",
            "l",
            "cvssp/audioldm-l-full",
            ("audioldm-l-full.ckpt", "audioldm-full-l.ckpt"),
            _ZENODO.format(record=7698295, file="audioldm-full-l.ckpt"),
            "AudioLDM-L",
        ),
        ReleasedModel(
            "audioldm-s-text-ft",
            "s",
            None,
            ("audioldm-s-text-ft.ckpt",),
            _ZENODO.format(record=7813012, file="audioldm-s-text-ft.ckpt"),
            "AudioLDM-S fine-tuned on AudioCaps/MusicCaps text",
        ),
        ReleasedModel(
            "audioldm-m-text-ft",
            "m",
            None,
            ("audioldm-m-text-ft.ckpt",),
            _ZENODO.format(record=7813012, file="audioldm-m-text-ft.ckpt"),
            "AudioLDM-M fine-tuned on AudioCaps/MusicCaps text",
        ),
    )
}


def cache_dir() -> Path:
    """``$FOLEYLDM_CACHE``, else ``$XDG_CACHE_HOME/foleyldm``, else ``~/.cache/foleyldm``."""
    env = os.environ.get("FOLEYLDM_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "foleyldm"


def local_release(name: str) -> tuple[Path | None, Path | None]:
    """(converted folder, original checkpoint) of a release found in the cache, each or None."""
    release = RELEASES[name]
    root = cache_dir()
    folder = root / name
    converted = folder if (folder / "unet" / "config.json").exists() else None
    ckpt = next((root / f for f in release.ckpt_names if (root / f).is_file()), None)
    return converted, ckpt


def not_found_message(name: str, reason: str | None = None) -> str:
    r = RELEASES[name]
    where = f"could not fetch {r.hub_id} ({reason}); " if r.hub_id and reason else ""
    return (
        f"model {name!r} is not on this machine: {where}download {r.ckpt_names[0]} from "
        f"{r.ckpt_url} into {cache_dir()} (or set FOLEYLDM_CACHE), or pass a local folder "
        "with --model PATH"
    )


def resolve_release(name: str) -> Path:
    """A local folder holding release ``name``, converting or fetching it if needed.

    Raises:
        ModelNotFoundError: nothing local and the hub cannot be reached.
    """
    converted, ckpt = local_release(name)
    if converted is not None:
        return converted
    release = RELEASES[name]
    if ckpt is not None:
        return _convert_release(name, ckpt)
    if release.hub_id is None:
        raise ModelNotFoundError(not_found_message(name))
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=release.hub_id))
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelNotFoundError(not_found_message(name, reason)) from None


#: The tokenizer of the released CLAP text tower (not stored in the .ckpt files).
CLAP_TOKENIZER = "roberta-base"


def _convert_release(name: str, ckpt: Path) -> Path:
    """Convert a cached original checkpoint into ``cache_dir() / name`` (once).

    The RoBERTa tokenizer comes from ``$FOLEYLDM_CACHE/roberta-base/`` if present, else from
    the Hugging Face cache or hub (``roberta-base``).
    """
    from foleyldm.models.convert.checkpoint import convert_original_checkpoint

    local_tok = cache_dir() / CLAP_TOKENIZER
    tokenizer = str(local_tok) if local_tok.is_dir() else CLAP_TOKENIZER
    try:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(tokenizer)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelNotFoundError(
            f"{ckpt} needs the RoBERTa tokenizer of its CLAP ({reason}); save "
            f"'{CLAP_TOKENIZER}' into {local_tok}, or run `foleyldm convert {ckpt} DIR "
            "--clap-tokenizer PATH` and pass --model DIR"
        ) from None
    release = RELEASES[name]
    return Path(
        convert_original_checkpoint(
            ckpt, cache_dir() / name, variant=release.variant, clap_tokenizer=tokenizer, name=name
        )
    )
