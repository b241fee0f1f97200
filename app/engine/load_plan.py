"""What a load will take, decided on the GUI side before an engine starts (no llama_cpp).

The pool sizes each engine by the memory its model will use, and that depends on the
context: for an automatic one (``n_ctx`` 0) on the memory free now. So the pool decides the
context here, once, with ``memory.load_context`` (the rule the fit labels use too) and
sends the engine that length: the estimate and the load agree by construction, and an
engine started after others were evicted does not pick a longer context than it was
budgeted for. An engine sent 0 by another caller decides with the same function itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.core import protocol as p
from app.core.errors import HearthError
from app.core.gguf_info import read_gguf_info
from app.core.memory import available_memory, load_context, model_memory_bytes, with_all_parts


@dataclass(frozen=True)
class LoadPlan:
    """A spec as it is sent to an engine (its context decided) and the memory it needs."""

    spec: p.ModelSpec
    memory_bytes: int


def plan_load(model: p.ModelSpec, available_bytes: int | None = None) -> LoadPlan:
    """The plan for loading ``model`` with ``available_bytes`` free (None: free RAM now).

    A file that cannot be read here, or a spec the engine will refuse, is planned as it is
    with no memory: the engine reports the problem.
    """
    try:
        info = with_all_parts(read_gguf_info(model.path))
        if available_bytes is None:
            available_bytes = available_memory()
        n_ctx = load_context(info, model.n_ctx, available_bytes, model.type_k, model.type_v)
        need = model_memory_bytes(info, n_ctx, model.type_k, model.type_v)
    except (HearthError, ValueError):   # ValueError: an unknown KV cache type
        return LoadPlan(model, 0)
    return LoadPlan(replace(model, n_ctx=n_ctx), need)


def replan(plan: LoadPlan, before: p.ModelSpec, model: p.ModelSpec,
           freed_bytes: int) -> LoadPlan:
    """The plan for a running engine that was planned as ``plan`` for ``before`` and is
    now asked for ``model`` (same file; the engine reloads in place).

    When the context setting and KV types are the same, the context stays as planned (a
    change of threads or template does not shrink it, and saved states stay valid);
    otherwise it is planned again with the memory the engine frees first (``freed_bytes``).
    """
    if (model.n_ctx, model.type_k, model.type_v) == (before.n_ctx, before.type_k,
                                                      before.type_v):
        return LoadPlan(replace(model, n_ctx=plan.spec.n_ctx), plan.memory_bytes)
    return plan_load(model, available_memory() + freed_bytes)
