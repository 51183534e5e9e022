"""The one exception of the chat grammar, and the working examples its messages show.

Every message is a single line under 300 characters: what is wrong (naming the word, quoted),
an optional "did you mean" and one command that does work, e.g.

    I don't know "evry" (did you mean "every"?). Try: !schedule add every day at 18:00 say Stream starts soon!
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

MAX_MESSAGE_CHARS = 299
_MAX_SHOWN_WORD = 30
_MAX_KEPT_WORD = 100
_MAX_SUGGESTED_WORD = 24

EXAMPLES: dict[str, str] = {
    "add": "!schedule add every day at 18:00 say Stream starts soon!",
    "cron": '!schedule add "0 9 * * 1-5" say Good morning!',
    "every": "!schedule add every monday,thursday at 20:30 say Raid night!",
    "every_nth": "!schedule add every first monday of the month at 19:00 say Community meeting",
    "every_month": "!schedule add every month on the 15th at 12:00 say Half-time!",
    "every_other": "!schedule add every other day at 10:00 say Water the plants",
    "morning": "!schedule add every morning at 8 say Good morning!",
    "hourly": "!schedule add every hour at :30 say Stretch break",
    "yearly": "!schedule add every year on dec 24 at 18:00 say Merry Christmas!",
    "interval": "!schedule add every 30 minutes say Drink some water",
    "in": "!schedule add in 10 minutes say Break is over",
    "at": "!schedule add at 18:30 say Going live soon!",
    "on": "!schedule add on dec 24 at 18:00 say Merry Christmas!",
    "tomorrow": "!schedule add tomorrow at 9 say Good morning!",
    "until": "!schedule add every day at 9:00 until dec 31 say Advent calendar!",
    "times": "!schedule add every 30 minutes times 5 say Drink some water",
    "as": "!schedule add every day at 18:00 as reminder say Stream soon!",
    "say": "!schedule add every day at 18:00 say Stream starts soon!",
    "run": "!schedule add every day at 03:00 run nightly-backup",
    "list": "!schedule list",
    "list_page": "!schedule list 2",
    "info": "!schedule info nightly",
    "next": "!schedule next #2",
    "pause": "!schedule pause nightly for 2 hours because raid",
    "resume": "!schedule resume nightly",
    "remove": "!schedule remove #2",
    "run_now": "!schedule run nightly",
    "rename": "!schedule rename nightly evening-reminder",
    "timezone": "!schedule timezone Europe/Berlin",
    "dateorder": "!schedule dateorder dmy",
    "managers": "!schedule managers add 123456789",
    "managers_remove": "!schedule managers remove 123456789",
    "platform": "!schedule platform twitch",
    "alerts": "!schedule alerts nightly on",
    "help": "!schedule help add",
}


class ChatParseError(ValueError):
    """A command the grammar cannot read.

    `message` is one friendly line for chat (< 300 characters) that names the wrong word and
    shows a working example; `word` is the offending word, when there is one.
    """

    def __init__(self, message: str, word: str | None = None) -> None:
        self.message = _one_line(message)[:MAX_MESSAGE_CHARS]
        self.word = None if word is None else word[:_MAX_KEPT_WORD]
        super().__init__(self.message)


def show(word: str) -> str:
    """`word` in double quotes for a message: control characters replaced, long words clipped."""
    clean = "".join("?" if unicodedata.category(ch)[0] == "C" else ch for ch in word[: _MAX_SHOWN_WORD + 1])
    if len(word) > _MAX_SHOWN_WORD:
        clean = clean[:_MAX_SHOWN_WORD] + "…"
    return f'"{clean}"'


def fail(problem: str, example: str, word: str | None = None) -> ChatParseError:
    """An error saying `problem`, followed by the example command called `example`."""
    tail = f" Try: {EXAMPLES[example]}"
    room = MAX_MESSAGE_CHARS - len(tail)
    if len(problem) > room:
        problem = problem[: room - 1] + "…"
    return ChatParseError(problem + tail, word)


def unknown(word: str, example: str, vocabulary: Iterable[str] = ()) -> ChatParseError:
    """'I don't know "evry" (did you mean "every"?). Try: ...'"""
    return fail(f"I don't know {show(word)}{suggestion(word, vocabulary)}.", example, word)


def suggestion(word: str, vocabulary: Iterable[str]) -> str:
    """' (did you mean "every"?)' when `word` is a likely typo of one word of `vocabulary`."""
    if not word or len(word) > _MAX_SUGGESTED_WORD:
        return ""
    candidates = [known for known in vocabulary if known != word.lower()]  # never itself
    matches = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    return f" (did you mean {show(matches[0])}?)" if matches else ""


def _one_line(text: str) -> str:
    return " ".join("".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text).split())
