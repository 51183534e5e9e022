"""Request context helpers: the services a handler may use, and the calling principal.

The shell (app.py) builds the services and registers them as ``app.extensions["runtime"]``;
handlers see them through :class:`Services`, so the HTTP layer never imports the shell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from quart import current_app, g, request
from quart_schema import RequestSchemaValidationError

from ..scheduling.records import Principal

if TYPE_CHECKING:
    from ..chat.service import ChatService
    from ..clock import Clock
    from ..services.access import Authenticator
    from ..services.alerts import AlertService
    from ..services.audit_service import AuditService
    from ..services.bulk import BulkService
    from ..services.community_service import CommunityService
    from ..services.run_views import RunViews
    from ..services.schedule_service import ScheduleService
    from ..services.scheduler import Scheduler
    from ..services.status import StatusReport
    from ..services.transfer import TransferService
    from ..services.workflow_service import WorkflowService
    from .chat import Replays
    from .metrics import Metrics


class Services(Protocol):
    """What the HTTP layer uses of a serving process."""

    clock: Clock
    metrics: Metrics
    schedules: ScheduleService
    scheduler: Scheduler
    workflows: WorkflowService
    bulk: BulkService
    transfer: TransferService
    communities: CommunityService
    chat: ChatService
    auth: Authenticator
    audit: AuditService
    alerts: AlertService
    chat_replays: Replays

    status: StatusReport
    views: RunViews


def runtime() -> Services:
    services: Services = current_app.extensions["runtime"]
    return services


def principal() -> Principal:
    p: Principal = g.principal
    return p


def scope() -> str | None:
    return principal().community_id


def actor() -> str:
    return principal().name


def payload(model: Any) -> dict[str, Any]:
    """The fields a request set (exclude_unset keeps PATCH semantics)."""
    data: dict[str, Any] = model.model_dump(exclude_unset=True)
    return data


async def optional_body(model: type[Any]) -> Any:
    """Validate a body that may be left out (no body, or JSON null = an empty object)."""
    raw = await request.get_data()
    data = await request.get_json() if raw.strip() else None
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestSchemaValidationError(exc) from None
