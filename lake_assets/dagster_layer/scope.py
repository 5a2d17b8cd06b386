"""Lineage scopes for Dagster: reads made anywhere inside a step (IO manager, `gros://`, the
Python API) are recorded against `(run_id, step_key)`, and that step's outputs list them."""

from __future__ import annotations

from dagster import DagsterInvariantViolationError, OpExecutionContext, StepExecutionContext

from lake_assets.lake import lineage

StepScope = tuple[str, str]


def step_scope(step_context: StepExecutionContext) -> StepScope:
    return (step_context.run_id, step_context.step.key)


def _current_step() -> StepScope | None:
    try:
        context = OpExecutionContext.get()
    except DagsterInvariantViolationError:
        return None
    return step_scope(context.get_step_execution_context())


lineage.add_scope_resolver(_current_step)
