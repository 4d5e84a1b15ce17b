#!/usr/bin/env bash
# Train foley-small from scratch on openly licensed data, the way the shipped weights were made
# (see src/foleyldm/weights/foley-small/README.md for the measured times and scores).
#
#   bash scripts/train_foley_small.sh [WORK_DIR]      # default: ../foley-small-work
#
# 1. data: the built-in corpus (Debian packages) + physically modelled Foley + rendered
#    instruments + espeak-ng speech, merged into one manifest;
# 2. stages in two parallel one-thread chains on a 2-core CPU: CLAP -> vocoder, and VAE;
# 3. the LDM (two threads) on cached latents, starting from CLAP + VAE + vocoder;
# 4. export in float16 -> WORK_DIR/foley-small.
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
python - "$WORK" <<'PY'
import sys
from foleyldm.data.manifest import read_manifest, write_manifest

work = sys.argv[1]
records = [r for part in ("corpus", "synth", "music", "speech")
           for r in read_manifest(f"{work}/{part}/manifest.jsonl")]
write_manifest(f"{work}/all.jsonl", records)
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

# ---- 4. release ------------------------------------------------------------------------------
$F export "$WORK/ldm" "$WORK/foley-small" --fp16
echo "$WORK/foley-small"
