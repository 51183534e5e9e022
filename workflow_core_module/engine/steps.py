"""The built-in steps, declared once for /openapi.json, /docs and docs/workflows.md.

One pydantic model per built-in action (:data:`BuiltinStep`, a union on ``action``): its fields,
types, defaults, bounds and a description of each. The models document; a step is checked on
write by its action's ``validate`` in :mod:`.actions` (the engine's registry), so an action
registered from Python is accepted beside them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field

from .actions import (
    DEFAULT_HTTP_METHOD,
    DEFAULT_HTTP_TIMEOUT_SECONDS,
    MAX_DELAY_SECONDS,
    MAX_HEADER_VALUE_CHARS,
    MAX_HEADERS,
    MAX_HTTP_TIMEOUT_SECONDS,
    HttpMethod,
)


def _step_schema(schema: dict[str, Any], model: type[Any]) -> None:
    """A step's JSON schema: its example, and each field's default said in its description too
    (/docs shows descriptions, not defaults)."""
    for prop in schema.get("properties", {}).values():
        if "const" in prop:  # the action's name: /docs shows an enum's values, not a const
            prop.setdefault("enum", [prop["const"]])
        if prop.get("default") is not None:
            prop["description"] = f"{prop.get('description', '')} Default: {json.dumps(prop['default'])}.".strip()
    example = getattr(model, "example", None)
    if example is not None:
        schema["examples"] = [example]


class StepFields(BaseModel):
    """Fields every step may have. String fields (inside `headers` and `body` too) are templates
    over `trigger`, `steps` and `workflow` (docs/workflows.md)."""

    model_config = ConfigDict(json_schema_extra=_step_schema)
    example: ClassVar[dict[str, Any] | None] = None  # a step that passes write-time validation

    action: str = Field(description="What the step does: a built-in action below, or one the operator "
                                    "registered in Python.")
    label: str | None = Field(None, description="A name for the step, for people reading the workflow; "
                                                "no action uses it.")


class HttpRequestStep(StepFields):
    """Send one HTTP request. Output: `{"status_code", "body"}` (`body` parsed as JSON when it is,
    else text; `body_truncated_at_bytes` when the answer was cut). A non-2xx answer fails the step."""

    example = {"action": "http_request", "method": "POST", "url": "https://example.org/hook",
               "headers": {"X-Execution": "{{ trigger.execution_id }}"},
               "body": {"text": "{{ trigger.context_data.message }}"}}

    action: Literal["http_request"] = Field(description="Send an HTTP request.")
    url: str = Field(description="http:// or https:// URL (a template is allowed). It must not reach loopback, "
                                 "private or link-local addresses unless OUTBOUND_ALLOWLIST allows them "
                                 "(docs/security.md).")
    method: HttpMethod = Field(DEFAULT_HTTP_METHOD, description="HTTP method, any case.")
    headers: dict[str, str] = Field({}, max_length=MAX_HEADERS,
                                    description=f"Request headers: names are RFC 9110 tokens, values strings of at "
                                                f"most {MAX_HEADER_VALUE_CHARS} characters without CR, LF or NUL.")
    body: Any = Field(None, description="Any JSON value, sent as the JSON body; string values inside are "
                                        "templates. Left out: no body.")
    timeout_seconds: float = Field(DEFAULT_HTTP_TIMEOUT_SECONDS, gt=0, le=MAX_HTTP_TIMEOUT_SECONDS,
                                   description="Seconds to wait for the whole answer.")


class LogStep(StepFields):
    """Write a line to the service log. Output: `{"message"}` (the rendered text)."""

    example = {"action": "log", "message": "hello from {{ trigger.trigger }}, execution {{ trigger.execution_id }}"}

    action: Literal["log"] = Field(description="Write a line to the service log.")
    message: str = Field(description="The text to log (a template is allowed).")


class DelayStep(StepFields):
    """Wait before the next step. Output: `{"seconds"}`."""

    example = {"action": "delay", "seconds": 30}

    action: Literal["delay"] = Field(description="Wait before the next step.")
    seconds: float = Field(ge=0, le=MAX_DELAY_SECONDS, description="How long to wait, in seconds (a number, "
                                                                   "not a template).")


class CommandStep(StepFields):
    """Run a command from the operator's allowlist (COMMANDS_FILE). Output: `{"exit_code", "stdout",
    "stderr"}` (the last 4,096 characters of each). A non-zero exit fails the step."""

    model_config = ConfigDict(extra="forbid")  # as validate_command: arguments belong in COMMANDS_FILE
    example = {"action": "command", "name": "backup"}

    action: Literal["command"] = Field(description="Run an allowlisted command.")
    name: str = Field(min_length=1, description="The name of a command in COMMANDS_FILE. Its argv, directory, "
                                                "timeout and environment come from there; a step passes no "
                                                "arguments.")


class ChatMessageStep(StepFields):
    """Post a message into the chat of the community that runs the workflow, through
    CHAT_MESSAGE_URL. Output: `{"status_code", "body"}` of that request."""

    example = {"action": "chat_message", "message": "Standup in 5 minutes",
               "entity_id": "{{ trigger.entity_id }}", "platform": "{{ trigger.platform }}"}

    action: Literal["chat_message"] = Field(description="Post a chat message.")
    message: str = Field(min_length=1, description="The text to post (a template is allowed).")
    entity_id: str = Field(description="The channel or server to post into, usually "
                                       "`{{ trigger.context_data.entity_id }}` or `{{ trigger.entity_id }}`.")
    platform: str = Field(description="twitch, discord, slack or kick. The community's own platform setting "
                                      "wins, then this, then CHAT_DEFAULT_PLATFORM.")
    community_id: str | None = Field(None, description="Leave it out: a message goes to the community that runs "
                                                       "the workflow, and to no other. Needed only for runs of a "
                                                       "global key's workflow that belong to no community.")


BuiltinStep = Annotated[Union[HttpRequestStep, LogStep, DelayStep, CommandStep, ChatMessageStep],
                        Field(discriminator="action")]
STEP_MODELS: dict[str, type[StepFields]] = {
    get_args(model.model_fields["action"].annotation)[0]: model for model in get_args(get_args(BuiltinStep)[0])
}
