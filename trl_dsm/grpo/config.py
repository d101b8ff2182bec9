# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``GRPOMathConfig``: TRL's ``GRPOConfig`` with DeepSeekMath's RL settings (§4.2) and process supervision."""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from dataclasses import dataclass, field

from trl import GRPOConfig


logger = logging.getLogger(__name__)


@dataclass
class GRPOMathConfig(GRPOConfig):
    r"""Configuration for :class:`~trl_dsm.GRPOMathTrainer`.

    Defaults that differ from TRL's come from DeepSeekMath §4.2 ("the learning rate of the policy model is 1e-6.
    The KL coefficient is 0.04. For each question, we sample 64 outputs. The max length is set to 1024 [...] The
    policy model only has a single update following each exploration stage") and from the GRPO objective of
    §4.1 (Eq. 3): a per-sequence 1/|o_i| average (``loss_type="grpo"``) and the unbiased k3 estimator of the KL
    divergence added to the loss, without importance weighting (``use_bias_correction_kl=False``).
    The paper's training batch size (1024) is ``per_device_train_batch_size x gradient_accumulation_steps x
    processes``; set it in your launch.
    """

    # -- DeepSeekMath defaults (§4.1-4.2) --------------------------------------------------------------
    learning_rate: float = field(default=1e-6, metadata={"help": "Policy learning rate; 1e-6 in §4.2."})
    num_generations: int | None = field(
        default=64, metadata={"help": "Completions sampled per question (the group size G); 64 in §4.2."}
    )
    beta: float | None = field(
        default=None,
        metadata={
            "help": "KL coefficient of the k3 estimator in the loss (Eq. 3). None: 0.04 (§4.2) for GRPO, 0.0 for "
            "Online RFT (no KL term in §5.2.1)."
        },
    )
    max_completion_length: int | None = field(
        default=1024, metadata={"help": "Maximum completion length in tokens; 1024 in §4.2."}
    )
    loss_type: str = field(
        default="grpo",
        metadata={"help": "'grpo': each sequence's token losses averaged over its length, 1/|o_i| in Eq. 3."},
    )
    use_bias_correction_kl: bool = field(
        default=False,
        metadata={"help": "False: the KL term of Eq. 3 as written (no importance-sampling weight on it)."},
    )
    num_iterations: int = field(
        default=1, metadata={"help": "Policy updates per exploration stage; a single one in §4.2."}
    )
    activation_checkpointing: bool | None = field(
        default=None,
        metadata={
            "help": "Recompute activations in the backward pass to save memory (slower steps). None: on, TRL's "
            "default (set here under transformers 5's name, so that the default raises no deprecation warning)."
        },
    )
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Deprecated name of `activation_checkpointing` (transformers 5)."}
    )
    gradient_accumulation_steps: int | None = field(
        default=None,
        metadata={
            "help": "Micro-batches accumulated into one optimizer step. None (default): as many as one generation "
            "batch of whole groups takes, so that the policy makes a single update per exploration stage (§4.2). "
            "A value you set is kept; with a different steps_per_generation the policy makes several updates per "
            "stage, as in TRL (one warning says so)."
        },
    )

    # -- the gradient coefficient (§5.2.1 unified paradigm) ------------------------------------------------
    advantage_estimator: str = field(
        default="grpo",
        metadata={
            "help": "Registered advantage estimator (trl_dsm.grpo.estimators): 'grpo' (§4.1, outcome or process "
            "supervision) or 'online_rft' (§5.2.1: coefficient 1 for a correct completion, 0 otherwise, no KL), or "
            "a name you registered with trl_dsm.grpo.register_advantage_estimator."
        },
    )

    # -- supervision (§4.1.2 outcome, §4.1.3 process) ----------------------------------------------------
    supervision: str = field(
        default="outcome",
        metadata={
            "help": "'outcome': one reward per completion from `reward_funcs`, normalized in its group (§4.1.2). "
            "'process': one reward per reasoning step from the trainer's `process_reward_func` or from the PRM "
            "at `process_reward_model`, normalized over all steps of the group; the advantage of a token is the "
            "sum of the normalized rewards of the steps ending at or after it (§4.1.3)."
        },
    )
    step_separator: str = field(
        default="\n",
        metadata={"help": "A token whose text contains this string ends a reasoning step (default: a line)."},
    )
    process_reward_model: str | None = field(
        default=None,
        metadata={"help": "Path or Hub id of a process reward model, used when no `process_reward_func` is given."},
    )
    process_reward_kind: str = field(
        default="step_tag",
        metadata={
            "help": "'step_tag': a causal LM scored Math-Shepherd style, p('+') at a step tag after each step. "
            "'token_classification': a token-classification head read at the step tags."
        },
    )
    prm_step_tag: str = field(default=" ки", metadata={"help": "Step tag of the PRM input (Math-Shepherd's)."})
    prm_good_token: str = field(default="+", metadata={"help": "PRM token meaning 'this step is correct'."})
    prm_bad_token: str = field(default="-", metadata={"help": "PRM token meaning 'this step is wrong'."})

    # -- iterative RL (§4.1.4, Algorithm 1) -----------------------------------------------------------------
    iteration_steps: int | None = field(
        default=None,
        metadata={
            "help": "Iterative RL: every this many optimizer steps the reference model becomes the current "
            "policy (Algorithm 1, line 3), through TRL's `sync_ref_model` with `ref_model_mixup_alpha=1`. "
            "None: a single iteration."
        },
    )

    reward_model_update_steps: int = field(
        default=0,
        metadata={
            "help": "Iterative RL: optimizer steps of continual reward-model training at the end of each iteration "
            "(Algorithm 1, lines 10-11), on fresh policy samples labelled automatically (outcome RM: the trl-dsm "
            "grader's verdicts as chosen/rejected pairs; PRM: Math-Shepherd hard estimation from policy "
            "rollouts) mixed with a replay of historical data. 0: the reward model is not retrained."
        },
    )
    reward_model_learning_rate: float = field(default=1e-5, metadata={"help": "Reward-model learning rate."})
    reward_model_batch_size: int = field(default=8, metadata={"help": "Reward-model training batch size."})
    reward_model_replay_ratio: float = field(
        default=0.1,
        metadata={"help": "Share of historical data in each reward-model update (§4.1.4: 10%)."},
    )
    reward_model_samples_per_iteration: int = field(
        default=64, metadata={"help": "Fresh policy samples labelled per iteration (the newest are kept)."}
    )
    math_shepherd_rollouts: int = field(
        default=4, metadata={"help": "PRM labels: rollouts per step for Math-Shepherd hard estimation."}
    )

    # -- logging -------------------------------------------------------------------------------------------------
    accuracy_reward_name: str = field(
        default="math_accuracy_reward",
        metadata={
            "help": "Name of the rule reward whose per-completion correctness gives the logged pass@G and maj@G "
            "(majority vote over the extracted answers of each group)."
        },
    )

    def __post_init__(self) -> None:
        if self.supervision not in ("outcome", "process"):
            raise ValueError(f"supervision must be 'outcome' or 'process', got {self.supervision!r}")
        if self.process_reward_kind not in ("step_tag", "token_classification"):
            raise ValueError(
                f"process_reward_kind must be 'step_tag' or 'token_classification', got {self.process_reward_kind!r}"
            )
        if not self.step_separator:
            raise ValueError("step_separator must be a non-empty string")
        from trl_dsm.grpo.estimators import get_advantage_estimator

        get_advantage_estimator(self.advantage_estimator)  # an unknown name is an error listing the known ones
        if self.advantage_estimator == "online_rft" and self.supervision != "outcome":
            raise ValueError(
                "advantage_estimator='online_rft' is outcome-supervised (§5.2.1): set supervision='outcome'"
            )
        if self.beta is None:
            self.beta = 0.0 if self.advantage_estimator == "online_rft" else 0.04
        if self.iteration_steps is not None:
            if self.iteration_steps < 1:
                raise ValueError(f"iteration_steps must be >= 1, got {self.iteration_steps}")
            if self.beta == 0.0:
                raise ValueError("iterative RL resets the reference model, which needs a KL term: set beta > 0")
            self.sync_ref_model = True
            self.ref_model_mixup_alpha = 1.0
            self.ref_model_sync_steps = self.iteration_steps
        if self.reward_model_update_steps < 0:
            raise ValueError(f"reward_model_update_steps must be >= 0, got {self.reward_model_update_steps}")
        if self.reward_model_update_steps and self.iteration_steps is None:
            raise ValueError(
                "reward_model_update_steps retrains the reward model between iterations: set iteration_steps"
            )
        if not 0.0 <= self.reward_model_replay_ratio < 1.0:
            raise ValueError(f"reward_model_replay_ratio must be in [0, 1), got {self.reward_model_replay_ratio}")
        if self.supervision == "process":
            if self.reward_weights is not None:
                raise ValueError(
                    "reward_weights weigh the outcome rewards of `reward_funcs`, which process supervision does not "
                    "use for its advantages (they come from the step scores, §4.1.3): remove reward_weights or use "
                    "supervision='outcome'"
                )
            if self.multi_objective_aggregation != "sum_then_normalize":
                raise ValueError(
                    f"multi_objective_aggregation={self.multi_objective_aggregation!r} combines outcome rewards; "
                    "process supervision normalizes step scores (§4.1.3): leave it at 'sum_then_normalize'"
                )
        if self.activation_checkpointing is None and self.gradient_checkpointing is None:
            self.activation_checkpointing = True  # TRL's default, without its deprecated field name
        # The batching (§4.2: a single policy update per exploration stage) is derived in _derive_batching from
        # the accelerator's world size, known only once TrainingArguments has set up the distributed state. Until
        # then, fields the user left unset get placeholders that TRL's checks accept for any world size.
        auto_stage = self.generation_batch_size is None and self.steps_per_generation is None
        auto_accumulation = self.gradient_accumulation_steps is None
        if auto_stage:
            self.steps_per_generation = self.num_generations or 1
        if auto_accumulation:
            self.gradient_accumulation_steps = 1
        super().__post_init__()
        self._derive_batching(auto_stage, auto_accumulation)

    def _derive_batching(self, auto_stage: bool, auto_accumulation: bool) -> None:
        """One optimizer step per generation batch of whole groups (§4.2), with ``B`` completions per micro-step
        (``per_device_train_batch_size x world size``): unset fields get the fewest micro-batches that hold whole
        groups of ``num_generations``; fields the user set are kept. A ``gradient_accumulation_steps`` other than
        ``steps_per_generation`` is TRL's several updates per generation batch (with its importance-sampling
        correction): allowed, with one warning that it departs from §4.2. A generation batch that is not whole
        groups is an error naming the values that work."""
        groups = self.num_generations or 1
        per_step = self.per_device_train_batch_size * self.world_size
        fewest = groups // math.gcd(groups, per_step)  # micro-batches per stage holding whole groups
        where = f"per_device_train_batch_size={self.per_device_train_batch_size} x {self.world_size} process(es)"
        if auto_stage:
            steps = fewest if auto_accumulation else self.gradient_accumulation_steps
            if (per_step * steps) % groups:
                raise ValueError(
                    f"gradient_accumulation_steps={steps} with {where} gives generation batches of "
                    f"{per_step * steps} completions, not whole groups of num_generations={groups}: set "
                    f"gradient_accumulation_steps to a multiple of {fewest} (or leave it unset)"
                )
            self.steps_per_generation = steps
            self.generation_batch_size = per_step * steps
        if auto_accumulation:
            self.gradient_accumulation_steps = self.steps_per_generation
        elif self.gradient_accumulation_steps != self.steps_per_generation:
            warnings.warn(
                f"gradient_accumulation_steps={self.gradient_accumulation_steps} with steps_per_generation="
                f"{self.steps_per_generation} ({where}) makes "
                f"{self.steps_per_generation / self.gradient_accumulation_steps:g} policy updates per exploration "
                "stage (TRL's importance-sampling ratio corrects the later ones); DeepSeekMath makes a single one "
                "(§4.2): set both to the same value, or leave gradient_accumulation_steps unset, to follow the paper",
                UserWarning,
                stacklevel=4,
            )

    @classmethod
    def from_grpo_config(cls, args: GRPOConfig) -> GRPOMathConfig:
        """A ``GRPOMathConfig`` holding every value of a plain ``trl.GRPOConfig`` (TRL's defaults included, so the
        run is TRL's) and the fields TRL does not have (supervision, estimator, iterative RL) at their defaults.

        The generation batch is carried by ``steps_per_generation`` (TRL derived ``generation_batch_size`` from it
        for this world size).
        """
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(GRPOConfig) if f.init}
        values["generation_batch_size"] = None
        logger.info(
            "GRPOMathTrainer: converted the trl.GRPOConfig to a GRPOMathConfig; every TRL value is kept (beta=%s, "
            "loss_type=%r, num_generations=%s), the DeepSeekMath fields (supervision, advantage_estimator, "
            "iterative RL) are at their defaults",
            args.beta, args.loss_type, args.num_generations,
        )  # fmt: skip
        return cls(**values)
