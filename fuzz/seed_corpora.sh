#!/usr/bin/env bash
# Seed corpora for the fuzzers, from ../shared: real safetensors files, the
# heads of real datasets (converted to the RecBole and CSV formats, which
# ../shared does not have), real and slmrec-written JSON configs.
# Usage: fuzz/seed_corpora.sh OUT_DIR [SLMREC_BINARY]   (then: fuzz_X OUT_DIR/X ...)
# With the slmrec binary, tiny float and quantized checkpoints are trained and
# packed for fuzz_checkpoint (its input format: the files after separator lines).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shared="${SLMREC_SHARED_DIR:-$here/../../shared}"
out="$1"
mkdir -p "$out"/{safetensors,json,sequences,interactions,recbole,csv,checkpoint,hf_model}
/usr/bin/python3 "$here/tiny_hf_llama.py" "$out/hf_model"
for f in "$shared"/fixtures/*/*.safetensors; do
  cp "$f" "$out/safetensors/$(basename "$(dirname "$f")")_$(basename "$f")"
done
cp "$shared"/fixtures/tiny_llama/config.json "$out/json/hf_tiny_llama.json"
cp "$shared"/fixtures/stories260k/config.json "$out/json/hf_stories260k.json" 2>/dev/null || true
cat > "$out/json/checkpoint_config.json" <<'JSON'
{"format": "slmrec-checkpoint", "model": {"arch": "llama", "num_items": 12101, "dim": 64, "item_dim": 0, "heads": 2,
 "kv_heads": 0, "head_dim": 0, "ffn": 0, "layers": 2, "max_len": 50, "dropout": 0.2, "norm_eps": 0.0,
 "rope_theta": 10000.0, "init_std": 0.02, "head": "tied", "freeze_items": false, "aux_layers": [0]},
 "quant": {"scheme": "int4", "block": 32}}
JSON
cat > "$out/json/state.json" <<'JSON'
{"epoch": 3, "step": 300, "rng": {"seed": 7, "scheme": "every stream derived from (seed, epoch, step)"},
 "best_metric": 0.05, "best_epoch": 2, "bad_epochs": 1, "finished": false,
 "history": [{"epoch": 1, "elapsed_seconds": 1.5, "eval_users": 100, "eval_seed": 7}, {"epoch": 2}, {"epoch": 3}]}
JSON
echo '{"metadata": {"total_size": 16}, "weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}}' \
  > "$out/json/index.json"
n=0
for f in "$shared"/data/*/*.txt; do
  n=$((n + 1))
  head -n 40 "$f" > "$out/sequences/$n.txt"
  # user item pairs, one a line, a user's lines contiguous (the SASRec format)
  head -n 40 "$f" | awk '{for (i = 2; i <= NF; i++) print $1, $i}' > "$out/interactions/$n.txt"
  { printf 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n'
    head -n 40 "$f" | awk '{for (i = 2; i <= NF; i++) printf "%s\t%s\t%d\t%d\n", $1, $i, 1 + i % 5, 1000 + i}'; } \
    > "$out/recbole/$n.inter"
  { echo 'user,item,rating,timestamp'
    head -n 40 "$f" | awk '{for (i = 2; i <= NF; i++) printf "u%s,\"i%s\",%d,%d\n", $1, $i, 1 + i % 5, 1000 + i}'; } \
    > "$out/csv/$n.csv"
done
if [ $# -ge 2 ]; then
  bin="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  "$bin" synth --users 60 --items 30 --mean-len 6 --seed 3 --out "$work/data.txt" > /dev/null
  sep=$'\n--slmrec-fuzz-file--\n'
  pack() {  # pack DIR NAME: the first byte (0: verify checksums), then config, weights, state
    { printf '\0'; cat "$1/config.json"; printf '%s' "$sep"; cat "$1/model.safetensors"
      if [ -f "$1/state.json" ]; then printf '%s' "$sep"; cat "$1/state.json"; fi; } > "$out/checkpoint/$2"
  }
  for arch in llama sasrec; do
    "$bin" train --data "$work/data.txt" --arch "$arch" --dim 8 --heads 2 --layers 1 --max-len 8 --epochs 1 \
      --out "$work/$arch" > /dev/null
    pack "$work/$arch" "$arch"
    for scheme in int8 int4 bf16 fp16; do
      "$bin" quantize --checkpoint "$work/$arch" --scheme "$scheme" --out "$work/${arch}_$scheme" > /dev/null
      pack "$work/${arch}_$scheme" "${arch}_$scheme"
    done
  done
fi
echo "seed corpora in $out: $(find "$out" -type f | wc -l) files"
