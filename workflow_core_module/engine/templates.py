"""String fields of a step are templates over `trigger` and `steps`, rendered in jinja2's sandbox.

``{{ trigger.schedule_id }}``, ``{{ trigger.context_data.channel }}``,
``{{ steps[0].output.status_code }}``. A reference to something that does not exist is an error
(StrictUndefined): a step never silently sends an empty value.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateRenderError(ValueError):
    pass


@lru_cache(maxsize=1024)
def _compile(source: str) -> Any:
    return _ENV.from_string(source)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def check_template(text: str) -> str | None:
    """None when `text` compiles, else what is wrong (for validation on write)."""
    if not is_template(text):
        return None
    try:
        _compile(text)
    except TemplateError as exc:
        return f"template error: {exc}"
    return None


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every template string inside `value` (dicts and lists are walked)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        try:
            return _compile(value).render(context)
        except TemplateError as exc:
            raise TemplateRenderError(f"template {value!r}: {exc}") from None
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value
