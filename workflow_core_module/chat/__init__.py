"""Chat commands (`!schedule ...`): a pure parser from text to typed commands.

See :mod:`workflow_core_module.chat.parser` for the grammar and
:mod:`workflow_core_module.chat.when` for the ways to say when.
"""

from __future__ import annotations

from .commands import (
    Add,
    Command,
    Help,
    Info,
    List,
    Next,
    Pause,
    Remove,
    Rename,
    Resume,
    RunNow,
    SetTimezone,
    Target,
    When,
)
from .errors import EXAMPLES, ChatParseError
from .parser import COMMAND_ALIASES, HELP_TOPICS, parse_command, read_when, schedule_spec

__all__ = [
    "COMMAND_ALIASES",
    "EXAMPLES",
    "HELP_TOPICS",
    "Add",
    "ChatParseError",
    "Command",
    "Help",
    "Info",
    "List",
    "Next",
    "Pause",
    "Remove",
    "Rename",
    "Resume",
    "RunNow",
    "SetTimezone",
    "Target",
    "When",
    "parse_command",
    "read_when",
    "schedule_spec",
]
