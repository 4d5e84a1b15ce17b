"""CNN14 / VGGish architectures (random weights: shapes, weight-file loading) and aisfx.

Full-size models are built once each for output shapes; the weight-file tests use narrow
versions of the same architectures so no 300 MB file is written.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foleyldm.audio.mel import mel_filterbank
from foleyldm.evaluation.backbones import BackboneError, load_backbone
from foleyldm.evaluation.backbones.cnn14 import MEL, Cnn14, CNN14Backbone
from foleyldm.evaluation.backbones.vggish import VGGish, VGGishBackbone
from tests.evaluation.audio_fixtures import tone, white_noise

NARROW_CNN14 = (4, 4, 8, 8, 8, 16)


def seeded(factory):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return factory()


def test_cnn14_full_size_shapes():
    backbone = CNN14Backbone(None, model=seeded(Cnn14))
    feats = backbone(white_noise(seconds=1.0), 16000)
    assert feats.embedding.shape == (2048,) and feats.logits is not None
    assert feats.logits.shape == (527,)
    assert (feats.embedding >= 0).all()  # ReLU(fc1)
    assert sum(p.numel() for p in backbone.model.parameters()) == 80_753_615
    # a short clip is padded instead of failing in the pooling
    assert backbone(np.zeros(1000, np.float32), 16000).embedding.shape == (2048,)


def test_cnn14_loads_the_official_checkpoint_layout(tmp_path):
    model = seeded(lambda: Cnn14(widths=NARROW_CNN14))
    state = dict(model.state_dict())
    # the official file nests the weights under "model" and stores its front end too
    state["logmel_extractor.melW"] = mel_filterbank(MEL).T.clone()
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(257, 1, 512)
    path = tmp_path / "Cnn14_16k.pth"
    torch.save({"model": state, "iteration": 0}, path)
    backbone = CNN14Backbone(path, model=Cnn14(widths=NARROW_CNN14))
    for k, v in model.state_dict().items():
        torch.testing.assert_close(backbone.model.state_dict()[k], v)
    assert backbone.cache_key.startswith("cnn14-v1-") and len(backbone.cache_key) == 25
    x = torch.from_numpy(np.stack([tone(seconds=1.0), white_noise(seconds=1.0)]))
    with torch.inference_mode():
        emb, logits = backbone.model(x)
        one, _ = backbone.model(x[1:])
    assert emb.shape == (2, 16) and logits.shape == (2, 527)
    torch.testing.assert_close(emb[1:], one, rtol=1e-4, atol=1e-5)  # batch = one at a time


def test_cnn14_rejects_other_checkpoints(tmp_path):
    state = dict(Cnn14(widths=NARROW_CNN14).state_dict())
    state["logmel_extractor.melW"] = torch.zeros(513, 64)  # the 32 kHz model's filterbank
    torch.save({"model": state}, tmp_path / "cnn14_32k.pth")
    with pytest.raises(BackboneError, match="16 kHz"):
        CNN14Backbone(tmp_path / "cnn14_32k.pth", model=Cnn14(widths=NARROW_CNN14))
    del state["logmel_extractor.melW"], state["fc1.bias"]
    torch.save({"model": state}, tmp_path / "broken.pth")
    with pytest.raises(BackboneError, match=r"missing \['fc1.bias'\]"):
        CNN14Backbone(tmp_path / "broken.pth", model=Cnn14(widths=NARROW_CNN14))
    with pytest.raises(BackboneError, match="weights file"):
        load_backbone("cnn14")
    # pickles that need code are refused (weights_only=True)
    torch.save({"model": state, "bad": object()}, tmp_path / "code.pth")
    with pytest.raises(BackboneError, match="tensor-only"):
        CNN14Backbone(tmp_path / "code.pth", model=Cnn14(widths=NARROW_CNN14))


def test_vggish_full_size_shapes_and_frames():
    backbone = VGGishBackbone(None, model=seeded(VGGish))
    assert backbone.frame_level_fd
    assert sum(p.numel() for p in backbone.model.parameters()) == 72_141_184
    feats = backbone(white_noise(seconds=3.0), 16000)
    assert feats.frames is not None and feats.frames.shape == (3, 128)  # 0.96 s examples
    np.testing.assert_allclose(feats.embedding, feats.frames.mean(0), rtol=1e-5)
    assert (feats.frames < 0).any()  # the last ReLU is removed
    short = backbone(np.zeros(3000, np.float32), 16000)
    assert short.frames is not None and short.frames.shape == (1, 128)  # padded to one


def test_vggish_loads_torchvggish_layout_and_flattens_like_tensorflow(tmp_path):
    sizes = {"channels": (4, 4, 8, 8), "hidden": 16, "embed": 8}
    model = seeded(lambda: VGGish(**sizes))
    torch.save(model.state_dict(), tmp_path / "vggish.pth")
    backbone = VGGishBackbone(tmp_path / "vggish.pth", model=VGGish(**sizes))
    assert backbone.embed_dim == 8
    x = torch.randn(2, 1, 96, 64)
    with torch.inference_mode():
        feats = model.features(x)  # [2, C, 6, 4]
        nhwc = feats.transpose(1, 3).transpose(1, 2).contiguous().view(2, -1)  # torchvggish
        torch.testing.assert_close(backbone.model(x), model.embeddings(nhwc))


def test_aisfx_embeddings_if_installed():
    try:
        backbone = load_backbone("aisfx")
    except BackboneError as err:
        pytest.skip(str(err))
    a = backbone(tone(440.0, seconds=2.4), 16000).embedding
    b = backbone(tone(466.0, seconds=2.4), 16000).embedding
    n = backbone(white_noise(seconds=2.4), 16000).embedding
    assert a.shape == (512,)

    def cos(u, v):
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cos(a, b) > cos(a, n)
    with pytest.raises(BackboneError, match="ships its own weights"):
        load_backbone("aisfx", weights="x.pth")
