# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run (or resume) a small mining run on the shared web pages; used by tests/test_mining_pipeline.py.

usage: python tests/scripts/mining_run.py OUTPUT_DIR CONFIG_JSON
"""

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trl_dsm.mining.pipeline import MiningConfig, MiningPipeline  # noqa: E402


if __name__ == "__main__":
    config = MiningConfig.from_dict(json.loads(sys.argv[2]))
    config.output_dir = sys.argv[1]
    result = MiningPipeline(config).run()
    print(json.dumps({"documents_out": result.stats["documents_out"]}))
