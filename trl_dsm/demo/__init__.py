# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature DeepSeekMath run (issue #9): mining, decontamination, pretraining, SFT, GRPO and evaluation of a
tiny model on one CPU."""
