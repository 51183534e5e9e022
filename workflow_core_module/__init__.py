"""workflow_core_module: schedules and runs workflows for chat-bot communities and other services."""

__version__ = "0.1.0"
