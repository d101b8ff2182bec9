# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""FSDP2 and DeepSpeed ZeRO-3, really sharded, on 2 CPU ranks (slow: `python -m pytest -m slow tests/test_sharded.py`).

The SFT and GRPO recipes run under the shipped ``recipes/accelerate_configs/{fsdp,zero3}.yaml`` with only the CPU
keys changed, through :mod:`tests.scripts.sharded_recipe` (which reports per-rank parameter counts and the trained
model's logits) and :mod:`tests.scripts._cpu_sharding` (the harness-only overrides CPU needs: accelerate's FSDP
switch, ZeRO-3's ``stage3_param_persistence_threshold=0``). Each engine is compared with plain DDP
(``--multi_gpu``) on the same data and seed; so is iterative RL with reward-model updates (one launch per
engine: tests/scripts/sharded_iterative.py). See docs/distributed.md.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from tests.test_recipes import RECIPES, accelerate_launch, logged, tiny_config, tiny_model_dir  # noqa: F401


SCRIPTS = Path(__file__).parent / "scripts"
CONFIGS = RECIPES / "accelerate_configs"
ENGINES = {"fsdp": "DistributedType.FSDP", "zero3": "DistributedType.DEEPSPEED"}
#: What each engine needs on CPU besides the accelerate config: recipe flags and environment.
#: DeepSpeed: accelerate turns DeepSpeed off for `use_cpu` (`AcceleratorState`: `... and not cpu`), and without a
#: GPU it only counts the ranks when given a process-group backend (`ddp_backend`).
ENGINE_FLAGS = {"ddp": [], "fsdp": [], "zero3": ["--use_cpu", "false", "--ddp_backend", "gloo"]}
ENGINE_ENV = {"zero3": {"TRL_DSM_TEST_ZERO3_PERSISTENCE": "0"}}
#: The keys changed in the shipped configs: 2 processes, fp32, and `use_cpu` for FSDP (DeepSpeed must not have it).
CPU_KEYS = {"fsdp": {"num_processes": 2, "mixed_precision": "no", "use_cpu": True}}
CPU_KEYS["zero3"] = {"num_processes": 2, "mixed_precision": "no"}
#: ZeRO-3 needs DeepSpeed, which is not a trl-dsm dependency: without it those tests skip, saying so (CI installs it).
NO_DEEPSPEED = pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None, reason="ZeRO-3 needs `pip install deepspeed==0.19.8`"
)
SHARDED = ["fsdp", pytest.param("zero3", marks=NO_DEEPSPEED)]
STEPS, SAVE_AT = 4, 2
LAUNCH_TIMEOUT = 300  # per launch; the first ZeRO-3 launch JIT-compiles DeepSpeed's shm comm op (~65 s, cached)


def cpu_config(engine: str, directory: Path) -> Path:
    """The shipped accelerate config with only the CPU keys changed."""
    config = yaml.safe_load((CONFIGS / f"{engine}.yaml").read_text())
    config.update(CPU_KEYS[engine])
    path = directory / f"{engine}-cpu.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def recipe_arguments(stage: str, model_dir: Path, work: Path, output_dir: Path) -> list[str]:
    changes = dict(output_dir=str(output_dir), max_steps=STEPS, save_steps=SAVE_AT, save_strategy="steps")
    args = ["--model_name_or_path", str(model_dir)]
    if stage == "grpo":  # a reward that varies within groups and a step size that moves the policy (non-zero KL)
        changes["learning_rate"] = 1e-3
        args += ["--reward_funcs", "tests.scripts.recipe_rewards:digit_reward"]
    return ["--config", str(tiny_config(stage, work, **changes)), *args]


def run(stage: str, engine: str, model_dir: Path, work: Path, resume_from: Path | None = None) -> dict:
    """Launch the recipe on 2 ranks (4 steps, saving at 2); with ``resume_from``, a copy of that checkpoint is
    resumed instead. Returns the output directory, the per-rank reports and the logged history."""
    name = f"{stage}-{engine}" + ("-resumed" if resume_from else "")
    output_dir, report_dir = work / name, work / f"{name}-report"
    args = recipe_arguments(stage, model_dir, work, output_dir)
    if resume_from is not None:
        output_dir.mkdir(parents=True)
        shutil.copytree(resume_from, output_dir / resume_from.name)
        args += ["--resume_from_checkpoint", "true"]
    config = None if engine == "ddp" else cpu_config(engine, work)
    accelerate_launch(
        SCRIPTS / "sharded_recipe.py", stage, str(report_dir), *args, *ENGINE_FLAGS[engine],
        config_file=config, env_extra=ENGINE_ENV.get(engine), timeout=LAUNCH_TIMEOUT,
    )  # fmt: skip
    reports = [json.loads((report_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    return {"dir": output_dir, "reports": reports}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):  # noqa: F811
    """Launches shared by the tests of one (stage, engine): made once, on first use."""
    cache: dict[tuple, dict] = {}

    def get(stage: str, engine: str, resumed: bool = False) -> dict:
        key = (stage, engine, resumed)
        if key not in cache:
            work = tmp_path_factory.mktemp(f"{stage}-{engine}")
            checkpoint = get(stage, engine)["dir"] / f"checkpoint-{SAVE_AT}" if resumed else None
            cache[key] = run(stage, engine, tiny_model_dir, work, resume_from=checkpoint)
        return cache[key]

    return get


def keys_for(stage: str) -> list[str]:
    return ["loss", "grad_norm"] + (["reward", "kl"] if stage == "grpo" else [])


def test_cpu_configs_change_only_cpu_keys(tmp_path):
    for engine, changed in CPU_KEYS.items():
        shipped = yaml.safe_load((CONFIGS / f"{engine}.yaml").read_text())
        derived = yaml.safe_load(cpu_config(engine, tmp_path).read_text())
        assert {k for k in derived if derived[k] != shipped.get(k)} <= set(changed)
        assert {k: v for k, v in derived.items() if k not in changed} == {
            k: v for k, v in shipped.items() if k not in changed
        }


# -- sharding ------------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "grpo"])
@pytest.mark.parametrize("engine", SHARDED)
def test_each_rank_holds_half_of_every_parameter(engine, stage, runs):
    reports = runs(stage, engine)["reports"]
    assert [r["world"] for r in reports] == [2, 2]
    assert {r["distributed_type"] for r in reports} == {ENGINES[engine]}
    records = [r["records"] for r in reports]
    assert [x["when"] for x in records[0]] == ["train_begin"] + ["step_end"] * STEPS
    for when in range(len(records[0])):  # at train start and after every optimizer step
        params = [records[rank][when]["params"] for rank in (0, 1)]
        assert params[0].keys() == params[1].keys() and len(params[0]) == 26  # tied lm_head: one parameter
        total = sum(p["global"] for p in params[0].values())
        assert total == 28_320
        for name, p0 in params[0].items():
            p1, numel = params[1][name], p0["global"]
            if engine == "fsdp":  # DTensor Shard(dim=0): rank 0 takes ceil(rows / 2) rows, rank 1 the rest
                assert p0["placements"] == p1["placements"] == ["Shard(0)"], name
                rows, width = p0["shape"][0], numel // p0["shape"][0]
                assert (p0["local"], p1["local"]) == (math.ceil(rows / 2) * width, rows // 2 * width), name
            else:  # ZeRO-3 partition: ceil(numel / 2) per rank (padded), and nothing gathered between steps
                assert p0["local"] == p1["local"] == math.ceil(numel / 2), name
                assert p0["data"] == p1["data"] == 0, name
        # every parameter of this model has an even size: each rank holds exactly half of the 28,320 elements
        assert [sum(p["local"] for p in params[rank].values()) for rank in (0, 1)] == [14_160, 14_160]


# -- same training as DDP -------------------------------------------------------------------------------------------
#: Measured on the 2-core CPU machine (torch 2.13, deepspeed 0.19.8): losses and rewards equal DDP's bit for bit
#: with TRL's default activation checkpointing (up to 8.4e-8 relative after updates without it, as the recipes now run);
#: gradient norms differ in the last float32 bits (FSDP2: at most 1.36e-7 relative, a reduce-scatter sums in another
#: order; ZeRO-3: at most 1.87e-7, DeepSpeed computes the norm from its partitions); ZeRO-3's KL differs by up to
#: 9.3e-10 absolute (a KL of 7e-5 is the cancellation of two log-probabilities that agree to ~1e-7).
TOLERANCE = {"fsdp": dict(rel=5e-7, abs=1e-12), "zero3": dict(rel=1e-6, abs=1e-8)}


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "grpo"])
@pytest.mark.parametrize("engine", SHARDED)
def test_training_equals_ddp(engine, stage, runs):
    ddp, sharded = runs(stage, "ddp"), runs(stage, engine)
    for key in keys_for(stage):
        expected, got = logged(ddp["dir"], key), logged(sharded["dir"], key)
        assert set(expected) == set(got) == set(range(1, STEPS + 1)), key
        assert any(v != 0 for v in expected.values()), (key, expected)  # something to compare
        assert [got[s] for s in sorted(got)] == pytest.approx(
            [expected[s] for s in sorted(expected)], **TOLERANCE[engine]
        ), key
    # bit for bit where the parameters are the initial ones; after updates the last float32 bits may differ (the
    # tiny SFT recipe without activation checkpointing: ZeRO-3's step-4 loss 8.4e-8 relative from DDP's)
    assert logged(sharded["dir"], "loss")[1] == logged(ddp["dir"], "loss")[1]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "grpo"])
@pytest.mark.parametrize("engine", SHARDED)
def test_resume_reproduces_the_next_steps(engine, stage, runs):
    straight, resumed = runs(stage, engine), runs(stage, engine, resumed=True)
    state = json.loads((resumed["dir"] / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS
    for key in keys_for(stage):
        a, b = logged(straight["dir"], key), logged(resumed["dir"], key)
        assert set(b) == set(range(1, STEPS + 1))  # steps 1-2 come from the checkpoint's state
        assert any(a[s] != 0 for s in (3, 4)), (key, a)
        assert [b[3], b[4]] == [a[3], a[4]], key  # measured: bit for bit under both engines
    # the resumed ranks hold shards again
    last = [r["records"][-1]["params"] for r in resumed["reports"]]
    assert [sum(p["local"] for p in params.values()) for params in last] == [14_160, 14_160]


# -- the saved model ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "grpo"])
@pytest.mark.parametrize("engine", SHARDED)
def test_saved_model_reloads_with_the_trained_logits(engine, stage, runs):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    result = runs(stage, engine)
    reports = result["reports"]
    assert reports[0]["logits"] == reports[1]["logits"]  # the sharded forward agrees on both ranks
    with safe_open(str(result["dir"] / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        if engine == "fsdp":
            # accelerate's FSDP2 full state dict gathers every name into its own tensor, so transformers (which
            # drops aliases by shared storage) writes the tied lm_head as a second copy of the embeddings
            assert len(keys) == 27 and "lm_head.weight" in keys
            assert torch.equal(f.get_tensor("lm_head.weight"), f.get_tensor("model.embed_tokens.weight"))
        else:  # ZeRO-3's consolidated state dict keeps the alias: tied weights saved once
            assert len(keys) == 26 and "lm_head.weight" not in keys
    model = AutoModelForCausalLM.from_pretrained(result["dir"]).eval()
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied again on load
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(reports[0]["probe_ids"])).logits
    trained = torch.tensor(reports[0]["logits"])
    assert logits.shape == trained.shape
    torch.testing.assert_close(logits, trained, rtol=0, atol=1e-6)  # measured: identical


# -- iterative RL -----------------------------------------------------------------------------------------------------
#: Reward-model and policy losses of a sharded engine against DDP's. Measured: FSDP2 bit for bit; ZeRO-3 reward-model
#: losses within 4.5e-7 relative, policy losses within 9.5e-7 absolute (6.6e-5 relative on the PRM run's step-4 loss
#: of 0.0144: process advantages normalize PRM scores that differ little within a group, which magnifies the
#: reward model's last-bit differences; values of 1e-8 to 1e-6 are float cancellation of zero-mean advantages).
RM_TOLERANCE = dict(rel=1e-4, abs=1e-9)
POLICY_TOLERANCE = dict(rel=1e-4, abs=2e-6)
KINDS = ("prm", "orm")


@pytest.fixture(scope="module")
def iterative_runs(tmp_path_factory, tiny_model_dir):  # noqa: F811
    """One launch of tests/scripts/sharded_iterative.py per engine (PRM and ORM, straight and resumed), on first use."""
    cache: dict[str, list[dict]] = {}

    def get(engine: str) -> list[dict]:
        if engine not in cache:
            work = tmp_path_factory.mktemp(f"iterative-{engine}")
            out = work / "out"
            accelerate_launch(
                SCRIPTS / "sharded_iterative.py", str(tiny_model_dir), str(out), *ENGINE_FLAGS[engine],
                config_file=None if engine == "ddp" else cpu_config(engine, work), env_extra=ENGINE_ENV.get(engine),
                timeout=LAUNCH_TIMEOUT,
            )  # fmt: skip
            cache[engine] = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
        return cache[engine]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("engine", SHARDED)
def test_iterative_rl_equals_ddp(engine, iterative_runs):
    """Reward-model updates (at steps 2 and 4) under a sharded engine: the same Math-Shepherd labels / ORM pairs as
    DDP, the same reward-model loss at each of its optimizer steps and the same policy losses, on both ranks."""
    ddp, sharded = iterative_runs("ddp"), iterative_runs(engine)
    for rank in (0, 1):
        for kind in KINDS:
            a, b = ddp[rank][kind]["straight"], sharded[rank][kind]["straight"]
            assert b["distributed_type"] == ENGINES[engine] and b["engine"] == engine
            assert [u["step"] for u in b["updates"]] == [u["step"] for u in a["updates"]] == [2, 4]
            assert [u["samples"] for u in b["updates"]] == [7, 7]  # labelled in uneven shares: 4 and 3 samples
            assert [u["records"] for u in b["updates"]] == [u["records"] for u in a["updates"]], kind
            assert b["history"] == a["history"]
            if kind == "prm":  # labels of both values, so equal labels say the rollouts were equal
                assert {x for r in b["history"] for x in r["labels"]} == {0, 1}
            else:
                assert all(u["records"] for u in b["updates"])  # chosen/rejected pairs in every update
            losses = [x for u in b["updates"] for x in u["losses"]]
            assert len(losses) == 4 and losses == pytest.approx([x for u in a["updates"] for x in u["losses"]],
                                                                **RM_TOLERANCE), kind  # fmt: skip
            assert b["policy_log"] == pytest.approx(a["policy_log"], **POLICY_TOLERANCE), kind
    for kind in KINDS:  # the two ranks trained one reward model on the same records
        ranks = [[(u["records"], u["losses"]) for u in sharded[r][kind]["straight"]["updates"]] for r in (0, 1)]
        assert ranks[0] == ranks[1], kind


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ddp", *SHARDED])
def test_iterative_rl_reward_model_share_per_rank(engine, iterative_runs):
    """During each reward-model update every rank holds about half of the reward model's parameter elements under
    ZeRO-3 and FSDP2 (all of them under DDP), printed per rank and optimizer step."""
    for rank, report in enumerate(iterative_runs(engine)):
        for kind in KINDS:
            for update in report[kind]["straight"]["updates"]:
                assert len(update["memory"]) == 2  # after each of the 2 optimizer steps
                for m in update["memory"]:
                    share = m["param_share_per_rank"]
                    print(f"{engine} {kind} rank {rank} step {update['step']}: {m['param_elements_per_rank']:.0f} "
                          f"parameter elements held = {share:.4f} of the reward model; optimizer state "
                          f"{m['optimizer_state_elements_per_rank']:.0f} elements")  # fmt: skip
                    if engine == "ddp":
                        assert share == 1.0
                    else:
                        assert 0.45 <= share <= 0.55, (engine, kind, rank, share)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ddp", *SHARDED])
def test_iterative_rl_resume_inside_an_iteration(engine, iterative_runs):
    """A run killed after its checkpoint at step 3 (inside the second iteration: pending samples, the reward model
    and its optimizer after one update, the reference of step 2) and resumed reproduces step 4: the policy loss and
    the reward-model update (labels and losses)."""
    for report in iterative_runs(engine):
        for kind in KINDS:
            straight, resumed = report[kind]["straight"], report[kind]["resumed"]
            assert [u["step"] for u in resumed["updates"]] == [4]
            assert resumed["updates"][0]["records"] == straight["updates"][1]["records"], kind
            assert resumed["updates"][0]["losses"] == straight["updates"][1]["losses"], kind  # measured: bit for bit
            assert resumed["policy_log"]["4"] == straight["policy_log"]["4"], kind
            assert resumed["iteration"] == straight["iteration"] == 2 and resumed["history"] == straight["history"]
            assert straight["ref_equal"] and resumed["ref_equal"]  # step 4 ends an iteration: reference = policy
