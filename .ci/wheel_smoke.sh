#!/usr/bin/env bash
# The path a `pip install trl-dsm` user takes (issue #15): build the wheel, install it NON-editable into a fresh
# virtual environment, and from there run the CLI, one tiny recipe end to end with its model card (dry-run push),
# `trl-dsm mine` on the shared web pages with its dataset card, and every card template by name. A file missing
# from the wheel (a card template, say) fails here even though the editable checkout has it.
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
stamp "installed into a fresh venv"

# Everything below runs from $WORK/out, so `import trl_dsm` can only find the installed wheel.
mkdir -p "$WORK/out" && cd "$WORK/out"
$V/python - "$WORK/venv" <<'PY'
import sys
from pathlib import Path

import trl_dsm
from trl_dsm.hub.cards import TEMPLATES, cards_dir, template_path, template_variables

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

(cd "$ROOT" && HF_HUB_OFFLINE=1 $V/trl-dsm mine --config recipes/mining/shared_web.yaml \
  --output-dir "$WORK/out/mining" --overwrite)
test -s "$WORK/out/mining/export/README.md" || { echo "wheel smoke: trl-dsm mine wrote no dataset card" >&2; exit 1; }
ls "$WORK"/out/mining/export/data/*.parquet > /dev/null
stamp "trl-dsm mine on the shared web pages with its dataset card"
echo "== wheel: OK in $((SECONDS - START)) s"
