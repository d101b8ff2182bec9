# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""`evaluate` metric: accuracy of math answers under the trl-dsm grader (DeepSeekMath §3 and §5 evaluation).

Load it with ``trl_dsm.metrics.load_math_accuracy()`` or ``evaluate.load(<path to this file>)``.
"""

import datasets
import evaluate

from trl_dsm.grading import DEFAULT_TIMEOUT, grade_batch


_DESCRIPTION = """
Fraction of predictions whose final answer equals the reference answer. Predictions are full completions
(the final answer is extracted: \\boxed{}, "The answer is", "####", "答案是", output blocks); references are
bare answers, solutions with \\boxed{}, or GSM8K rationales ending in "#### N". Equality is decided by the
trl-dsm grader: exact numbers (units, percent, thousands separators), LaTeX via math-verify/SymPy, with a
hard time bound per pair.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): model completions.
    references (`list[str]`): gold answers or solutions.
    timeout (`float`, defaults to 2.0): hard time bound per pair, seconds.
    fallback (`str`, defaults to "last_math"): how to read completions without a marked answer
        ("last_math", "last_number" or "none").
Returns:
    accuracy (`float`): fraction graded correct.
    extraction_failure_rate (`float`): fraction of predictions with no extractable answer.
    timeout_rate (`float`): fraction of pairs that ran out of time (graded incorrect).
Examples:
    >>> import trl_dsm.metrics
    >>> metric = trl_dsm.metrics.load_math_accuracy()
    >>> metric.compute(predictions=["The answer is 72.", "#### 70"], references=["72", "72"])["accuracy"]
    0.5
"""

_CITATION = """
@article{shao2024deepseekmath,
  title={DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models},
  author={Shao, Zhihong and Wang, Peiyi and Zhu, Qihao and Xu, Runxin and Song, Junxiao and Bi, Xiao and Zhang,
          Haowei and Zhang, Mingchuan and Li, Y. K. and Wu, Y. and Guo, Daya},
  journal={arXiv preprint arXiv:2402.03300},
  year={2024}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MathAccuracy(evaluate.Metric):
    """Accuracy of CoT completions against gold answers with trl-dsm's grader (deprecated with
    :mod:`trl_dsm.metrics`: use :func:`trl_dsm.grading.grade_batch`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=["https://arxiv.org/abs/2402.03300"],
        )

    def _compute(self, predictions, references, timeout: float = DEFAULT_TIMEOUT, fallback: str = "last_math"):
        results = grade_batch(list(predictions), list(references), timeout=timeout, fallback=fallback)
        n = max(len(results), 1)
        return {
            "accuracy": sum(r.correct for r in results) / n,
            "extraction_failure_rate": sum(r.status == "no_answer" for r in results) / n,
            "timeout_rate": sum(r.status == "timeout" for r in results) / n,
        }
