"""A lazy tokenizer over the command text.

Words are separated by white space; a comma is a token of its own (``monday,thursday`` reads as
``monday , thursday``). A token that starts with a quote (``"`` ``'`` and the typographic quotes
phones type: “ ” ‘ ’ „ « ») runs to the matching closing quote and may hold spaces and commas.
A quote inside a word (``don't``) is an ordinary character.

Tokens are read only when the parser asks for them, so ``rest()`` can hand back everything after
``say`` exactly as typed, apostrophes and unbalanced quotes included. A quote that is never
closed is an error only when its token is consumed, not when the parser merely looks ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import fail, show

_CLOSERS: dict[str, str] = {
    '"': '"',
    "'": "'",
    "“": "”“",
    "”": "”",
    "„": "“”",
    "‘": "’‘",
    "’": "’",
    "«": "»",
    "»": "«",
}


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # the word, or what is between the quotes
    start: int
    end: int  # one past the last character (the closing quote included)
    quoted: bool
    unclosed: bool = False  # a quote without its closing quote: an error once consumed

    @property
    def low(self) -> str:
        return self.text.lower()


class TokenStream:
    """Tokens of `text` from `start`, read on demand, with look-ahead."""

    def __init__(self, text: str, start: int = 0) -> None:
        self._text = text
        self._scan_at = start
        self._consumed_to = start
        self._ahead: list[Token] = []

    def peek(self, ahead: int = 0) -> Token | None:
        while len(self._ahead) <= ahead:
            token = self._scan()
            if token is None:
                return None
            self._ahead.append(token)
        return self._ahead[ahead]

    def peek_word(self, ahead: int = 0) -> str | None:
        """The lower-cased word `ahead` tokens on; None at the end or for a quoted token."""
        token = self.peek(ahead)
        return None if token is None or token.quoted else token.low

    def next(self) -> Token | None:
        token = self.peek()
        if token is not None and token.unclosed:
            shown = self._text[token.start : token.start + 20]
            raise fail(f"The quote before {show(shown[1:])} is never closed.", "cron", shown)
        if token is not None:
            self._ahead.pop(0)
            self._consumed_to = token.end
        return token

    def accept(self, *words: str) -> Token | None:
        """Consume the next token if it is one of `words` (unquoted, any case)."""
        return self.next() if self.peek_word() in words else None

    def rest(self) -> str:
        """Everything after the last consumed token, exactly as typed."""
        return self._text[self._consumed_to :]

    def at_end(self) -> bool:
        return self.peek() is None

    def _scan(self) -> Token | None:
        text, i = self._text, self._scan_at
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            self._scan_at = i
            return None
        if text[i] == ",":
            token = Token(",", i, i + 1, False)
        elif text[i] in _CLOSERS:
            token = self._quoted(i)
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] != ",":
                j += 1
            token = Token(text[i:j], i, j, False)
        self._scan_at = token.end
        return token

    def _quoted(self, i: int) -> Token:
        text, closers = self._text, _CLOSERS[self._text[i]]
        for j in range(i + 1, len(text)):
            if text[j] in closers:
                return Token(text[i + 1 : j], i, j + 1, True)
        return Token(text[i + 1 :], i, len(text), True, unclosed=True)
