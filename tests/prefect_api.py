"""What a flow run left on the session's Prefect API (what the UI shows): its tasks' states and its logs."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId, LogFilter, LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogWorker


def task_states(flow_run_id: str) -> dict[str, str]:
    """Task run name -> its final state's name, for the flow run and its subflows."""
    with get_client(sync_client=True) as client:
        subflows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))
        )
        runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id, *(run.id for run in subflows)]))
        return {task.name: task.state.name for task in client.read_task_runs(flow_run_filter=runs)}


def log_lines(flow_run_id: str) -> list[str]:
    """The flow run's log messages (its tasks' included), oldest first."""
    APILogWorker.drain_all(timeout=5)  # what the flow logged, all of it sent
    with get_client(sync_client=True) as client:
        return [log.message for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))]
