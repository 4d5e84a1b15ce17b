#!/usr/bin/env bash
# Train foley-small from scratch on openly licensed data, the way the shipped weights were made
# (see src/foleyldm/weights/foley-small/README.md for the measured times and scores).
#
#   bash scripts/train_foley_small.sh [WORK_DIR]      # default: ../foley-small-work
#
# 1. data: the built-in corpus (Debian packages) + physically modelled Foley + rendered
#    instruments + espeak-ng speech + 15 varied copies of each train dog clip, one manifest;
# 2. stages in two parallel one-thread chains on a 2-core CPU: CLAP -> vocoder, and VAE;
# 3. the LDM (two threads) on cached latents, starting from CLAP + VAE + vocoder, then a
#    short phase on the noisy half of the schedule with the dog variants x5;
# 4. the VAE's decoder alone, fine-tuned further (encoder frozen);
# 5. export in float16 -> WORK_DIR/foley-small.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(realpath -m "${1:-../foley-small-work}")
F=${FOLEYLDM:-foleyldm}
RECIPE=recipes/foley-small.yaml
mkdir -p "$WORK"

# ---- 1. data ---------------------------------------------------------------------------------
[ -f "$WORK/corpus/manifest.jsonl" ] || $F data build-corpus "$WORK/corpus" --workers 2
[ -f "$WORK/synth/manifest.jsonl" ] || $F data synth "$WORK/synth" --count 400 --seed 1 --workers 2
[ -f "$WORK/music/manifest.jsonl" ] || $F data render-music "$WORK/music" --count 400 --seed 1
[ -f "$WORK/speech/manifest.jsonl" ] || $F data speech "$WORK/speech" --count 300 --seed 1
# 20 train dog clips among 6,545 (model card, release 5)
[ -f "$WORK/variants/manifest.jsonl" ] || $F data variants "$WORK/corpus/manifest.jsonl" \
  "$WORK/variants" --match '\bdogs?\b' --copies 15 --seed 1
python - "$WORK" <<'PY'
import sys
from foleyldm.data.manifest import read_manifest, write_manifest

work = sys.argv[1]
records = [r for part in ("corpus", "synth", "music", "speech", "variants")
           for r in read_manifest(f"{work}/{part}/manifest.jsonl")]
write_manifest(f"{work}/all.jsonl", records)
# the last LDM phase's manifest: the dog variants four more times (about 19 % dog clips)
variants = read_manifest(f"{work}/variants/manifest.jsonl")
write_manifest(f"{work}/dog-heavy.jsonl", records + 4 * variants)
print(f"{len(records)} clips, {sum(r.duration for r in records) / 3600:.2f} h")
PY
DATA="$WORK/all.jsonl"

# ---- 2. CLAP -> vocoder, and VAE, one thread each ------------------------------------------
stage() {  # stage NAME INIT
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $F train "$1" --config $RECIPE --data "$DATA" \
    --init "$2" --out "$WORK/$1" --quiet $( [ -d "$WORK/$1/checkpoints" ] && echo --resume )
  $F export "$WORK/$1" "$WORK/$1-export"
}
( stage clap small && stage vocoder "$WORK/clap-export" ) &
( stage vae small ) &
wait

# ---- 3. one starting folder: CLAP + vocoder from the first chain, the VAE from the second --
rm -rf "$WORK/ldm-init"
cp -r "$WORK/vocoder-export" "$WORK/ldm-init"
rm -rf "$WORK/ldm-init/vae" && cp -r "$WORK/vae-export/vae" "$WORK/ldm-init/vae"
$F train ldm --config $RECIPE --data "$DATA" --init "$WORK/ldm-init" --out "$WORK/ldm" --quiet \
  --set scale_factor=auto $( [ -d "$WORK/ldm/checkpoints" ] && echo --resume )
# the noisy half of the schedule only (timesteps 500-999, where a clip's layout is decided),
# 500 steps from the LDM's EMA with a short EMA: the barks' shapes (model card, release 5)
$F export "$WORK/ldm" "$WORK/ldm-export"
$F train ldm --config $RECIPE --data "$WORK/dog-heavy.jsonl" --init "$WORK/ldm-export" \
  --out "$WORK/ldm-noisy" --quiet --set steps=500 --set min_timestep=500 --set ema_decay=0.99 \
  --set optim.warmup_steps=50 $( [ -d "$WORK/ldm-noisy/checkpoints" ] && echo --resume )

# ---- 4. the VAE decoder alone, on (the frozen encoder keeps the LDM's latent space) -----------
VAE_DECODER_STEPS=${VAE_DECODER_STEPS:-4000}  # total: 2,100 with the encoder + 1,900 without
OMP_NUM_THREADS=1 $F train vae --config $RECIPE --data "$DATA" --out "$WORK/vae" --resume --quiet \
  --set steps="$VAE_DECODER_STEPS" --set train_encoder=false
$F export "$WORK/vae" "$WORK/vae-decoder-export"

# ---- 5. release: the LDM export with the fine-tuned decoder ------------------------------------
$F export "$WORK/ldm-noisy" "$WORK/foley-small" --fp16
python - "$WORK/vae-decoder-export/vae" "$WORK/foley-small/vae" <<'PY'
import sys
from safetensors.torch import load_file, save_file

src, dst = (f"{d}/diffusion_pytorch_model.safetensors" for d in sys.argv[1:])
weights = load_file(dst)  # the release keeps its encoder and the LDM's latent scale
tuned = load_file(src)
for k in weights:
    if k.startswith(("decoder.", "post_quant_conv.")):
        weights[k] = tuned[k].to(weights[k].dtype)
save_file(weights, dst)
PY
# the shipped defaults (measured in the model card) and the CLAP's trainable parts in float16
python - "$WORK/foley-small" <<'PY'
import json, sys
from pathlib import Path
from safetensors import safe_open
from safetensors.torch import save_file

folder = Path(sys.argv[1])
meta = json.loads((folder / "foleyldm.json").read_text())
meta["name"], meta["vocoder"] = "foley-small", "griffin-lim"
meta["defaults"] = {"audio_length_in_s": 5.12, "num_inference_steps": 10, "guidance_scale": 4.0,
                    "sampler": "dpmpp-2m", "eta": 0.0}
(folder / "foleyldm.json").write_text(json.dumps(meta, indent=2) + "\n")
clap = folder / "clap" / "model.safetensors"
with safe_open(clap, "pt") as f:
    info, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
save_file({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}, clap,
          metadata=info)
PY
echo "$WORK/foley-small"
