#!/usr/bin/env bash
# The path a `pip install trl-dsm` user takes: build the wheel, install it NON-editable into a fresh virtual
# environment WITHOUT extras (the core install), and from there run the CLI, every card template by name, the tiny
# SFT recipe with its model card (dry-run push), the tiny GRPO recipe through `accelerate launch`, `trl-dsm evaluate`
# on its model, and `trl-dsm mine`, which must print the [mining] install line and exit 2. Then install the wheel's
# [mining] extra and run `trl-dsm mine` on the shared web pages with its dataset card. A file missing from the wheel
# (a card template, say) or a core module importing a mining package fails here even though the dev checkout works.
#   .ci/wheel_smoke.sh            (PYTHON=python3.11 to choose the interpreter; WORK=DIR to keep the outputs)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-python3}
WORK=${WORK:-$(mktemp -d /tmp/trl-dsm-wheel.XXXXXX)}
SHARED="$ROOT/../shared/data"
START=$SECONDS
stamp() { echo "== wheel: $1 ($((SECONDS - START)) s)"; }

rm -rf "$WORK/src" "$WORK/dist" "$WORK/venv" "$WORK/out"
# Build from a copy of the files git tracks or would track (a stale build/ folder would otherwise leak old files).
mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ] || [ -L "$f" ]; then cp -P --parents "$f" "$WORK/src/"; fi
done)
$PY -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/trl_dsm-*.whl)
stamp "built $(basename "$WHEEL")"
$PY -m venv "$WORK/venv"
V="$WORK/venv/bin"
$V/python -m pip install --quiet --upgrade pip
$V/python -m pip install --quiet torch==2.13.0   # the CPU build; an unpinned torch would pull CUDA wheels
$V/python -m pip install --quiet "$WHEEL"
stamp "installed into a fresh venv, no extras"

# Everything below runs from $WORK/out, so `import trl_dsm` can only find the installed wheel.
mkdir -p "$WORK/out" && cd "$WORK/out"
$V/python - "$WORK/venv" <<'PY'
import importlib.util
import sys
from pathlib import Path

import trl_dsm
from trl_dsm._extras import EXTRAS
from trl_dsm.hub.cards import TEMPLATES, cards_dir, template_path, template_variables

installed = [m for m in (*EXTRAS["mining"], "evaluate") if importlib.util.find_spec(m) is not None]
assert not installed, f"the core install pulled in {installed}"
where = Path(trl_dsm.__file__).resolve()
assert Path(sys.argv[1]).resolve() in where.parents, f"trl_dsm imported from {where}, not from the wheel"
assert not (where.parent / ".." / "pyproject.toml").exists()
for name in TEMPLATES:  # every template by name, from the installed package data
    assert "card_data" in template_variables(name), name
    print(f"template {name}: {template_path(name).relative_to(cards_dir())}")
print("trl_dsm", trl_dsm.__version__, "from", where.parent)
PY
$V/trl-dsm --help > /dev/null
$V/trl-dsm grade 'So she makes 9 * 2 = $18 every day. The answer is 18.' '#### 18'
stamp "CLI and card templates"

if [ ! -d "$SHARED" ]; then
  echo "wheel smoke: ../shared/data is missing (needed for the recipe and mining runs)" >&2
  exit 1
fi
$V/python "$ROOT/.ci/build_tiny_model.py" "$WORK/out/tiny" "$SHARED"
# The tiny SFT recipe (its relative data paths resolve from the repository root; the recipe script imports the
# installed trl_dsm: a script's own folder, not the working directory, goes on sys.path).
(cd "$ROOT" && HF_HUB_OFFLINE=1 $V/python recipes/sft.py --config recipes/tiny/sft.yaml \
  --model_name_or_path "$WORK/out/tiny" --output_dir "$WORK/out/sft" --push_dry_run_dir "$WORK/out/push" \
  --hub_model_id trl-dsm-ci/tiny-sft --max_steps 2 --save_steps 2)
CARD=$(find "$WORK/out/push" -path '*/main/README.md' | head -1)
test -n "$CARD" || { echo "wheel smoke: the SFT recipe's dry-run push wrote no README.md on main" >&2; exit 1; }
grep -q "DeepSeekMath" "$CARD"
stamp "tiny SFT recipe with its model card ($CARD)"

# The tiny GRPO recipe from the SFT model, through accelerate's launcher (one CPU process), then evaluation of it.
(cd "$ROOT" && HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $V/accelerate launch --num_processes 1 --num_machines 1 \
  --mixed_precision no --dynamo_backend no recipes/grpo.py --config recipes/tiny/grpo.yaml \
  --model_name_or_path "$WORK/out/sft" --output_dir "$WORK/out/grpo" --max_steps 2 --save_strategy no)
test -s "$WORK/out/grpo/model.safetensors" || { echo "wheel smoke: the GRPO recipe saved no model" >&2; exit 1; }
stamp "tiny GRPO recipe (accelerate launch)"
HF_HUB_OFFLINE=1 $V/trl-dsm evaluate --model "$WORK/out/grpo" --benchmarks gsm8k --benchmarks-dir "$SHARED/benchmarks" \
  --limit 8 --num-samples 2 --max-new-tokens 16 --backend transformers --output-dir "$WORK/out/eval"
$V/python -c "import json, sys; r = json.load(open(sys.argv[1])); assert r, r" "$WORK/out/eval/results.json"
stamp "trl-dsm evaluate on the GRPO model"

# Mining without its extra: one line with the install command, exit status 2.
set +e
MSG=$($V/trl-dsm mine --config "$ROOT/recipes/mining/shared_web.yaml" --output-dir "$WORK/out/no-mining" 2>&1)
RC=$?
set -e
echo "$MSG"
test "$RC" = 2 || { echo "wheel smoke: trl-dsm mine without [mining] exited $RC, not 2" >&2; exit 1; }
test "$(echo "$MSG" | wc -l)" = 1 && echo "$MSG" | grep -qF 'pip install "trl-dsm[mining]"' \
  || { echo "wheel smoke: trl-dsm mine without [mining] did not print the install line" >&2; exit 1; }
test ! -e "$WORK/out/no-mining" || { echo "wheel smoke: trl-dsm mine ran without [mining]" >&2; exit 1; }
stamp "core install: trl-dsm mine prints the [mining] install line"

$V/python -m pip install --quiet "$WHEEL[mining]"
stamp "installed the [mining] extra"

(cd "$ROOT" && HF_HUB_OFFLINE=1 $V/trl-dsm mine --config recipes/mining/shared_web.yaml \
  --output-dir "$WORK/out/mining" --overwrite)
test -s "$WORK/out/mining/export/README.md" || { echo "wheel smoke: trl-dsm mine wrote no dataset card" >&2; exit 1; }
ls "$WORK"/out/mining/export/data/*.parquet > /dev/null
stamp "trl-dsm mine on the shared web pages with its dataset card"
echo "== wheel: OK in $((SECONDS - START)) s"
