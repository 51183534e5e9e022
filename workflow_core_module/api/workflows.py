"""/api/v1/workflows and /api/v1/executions."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response
from quart_schema import document_request, document_response, validate_querystring, validate_request

from ..services.workflow_service import WorkflowService
from .context import actor, optional_body, payload, runtime, scope
from .schemas import (
    ErrorOut,
    ExecuteRequest,
    ExecutionOut,
    ExecutionStarted,
    PageQuery,
    WorkflowCreate,
    WorkflowOut,
    WorkflowPage,
    WorkflowReplace,
)
from .serialize import execution_json, page_json, workflow_json

bp = Blueprint("workflows", __name__, url_prefix="/api/v1")


def _service() -> WorkflowService:
    return runtime().workflows


@bp.post("/workflows")
@validate_request(WorkflowCreate)
@document_response(WorkflowOut, 201)
@document_response(ErrorOut, 400)
async def create_workflow(data: WorkflowCreate) -> tuple[dict[str, Any], int]:
    """Create a workflow; its steps are validated now (unknown action, missing url...)."""
    return workflow_json(await _service().create(payload(data), actor=actor(), scope=scope())), 201


@bp.get("/workflows")
@validate_querystring(PageQuery)
@document_response(WorkflowPage)
async def list_workflows(query_args: PageQuery) -> dict[str, Any]:
    """Workflows this key can see (its community's and the shared ones)."""
    page = await _service().list(scope=scope(), limit=query_args.limit, offset=query_args.offset)
    return page_json(page, workflow_json)


@bp.get("/workflows/<workflow_id>")
@document_response(WorkflowOut)
async def get_workflow(workflow_id: str) -> dict[str, Any]:
    return workflow_json(await _service().get(workflow_id, scope=scope()))


@bp.put("/workflows/<workflow_id>")
@validate_request(WorkflowReplace)
@document_response(WorkflowOut)
async def replace_workflow(workflow_id: str, data: WorkflowReplace) -> dict[str, Any]:
    """Replace a workflow's name, description, steps and is_active."""
    return workflow_json(await _service().replace(workflow_id, payload(data), actor=actor(), scope=scope()))


@bp.delete("/workflows/<workflow_id>")
@document_response(ErrorOut, 409)
async def delete_workflow(workflow_id: str) -> Response:
    """Delete (204); 409 while active or paused schedules use it."""
    await _service().delete(workflow_id, actor=actor(), scope=scope())
    return Response(status=204)


@bp.post("/workflows/<workflow_id>/execute")
@document_request(ExecuteRequest)
@document_response(ExecutionStarted, 202)
async def execute_workflow(workflow_id: str) -> tuple[dict[str, Any], int]:
    """Run a workflow now; answers at once with the execution id to poll. The body is optional; the
    router's workflow trigger body is accepted as it is (see ExecuteRequest)."""
    data = await optional_body(ExecuteRequest)
    execution_id = await _service().execute(workflow_id, data.context(), actor=actor(), scope=scope(),
                                            extra=data.trigger_fields())
    return {"execution_id": execution_id}, 202


@bp.get("/executions/<execution_id>")
@document_response(ExecutionOut)
async def get_execution(execution_id: str) -> dict[str, Any]:
    """One execution with its step results."""
    return execution_json(await _service().get_execution(execution_id, scope=scope()))
