# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature DeepSeekMath run: mining, decontamination, pretraining, SFT, RL arms and evaluation of a tiny model
on one CPU (``trl-dsm demo``; docs/demo.md).

Modules: ``run`` (the entry point: :func:`~trl_dsm.demo.run.run_demo`, resuming and shared bases), ``config``
(:class:`~trl_dsm.demo.config.DemoConfig`), ``stages`` (splits, mining, pretraining, SFT, control, evaluation),
``arms`` (RFT, the step reward model, the online arms), ``problems`` and ``corpus`` (generated data), ``report``
(``report.md``), ``compare`` (standard errors and comparisons), ``plots``, ``seeds`` (several seeds), ``timing``
(the time to expect), ``threads`` (torch threads on a shared CPU), ``outputs`` (the output directory), ``cli``."""
