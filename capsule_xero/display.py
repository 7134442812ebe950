"""Values from Capsule, Xero or the rules file as a person sees them: literally, on every screen.

A name is data, never instructions to the terminal or to rich. Three things would otherwise let a
value show something other than what Xero gets:

- rich markup and emoji codes: ``Acme [/bold] Pty Ltd`` crashes a print (``MarkupError``),
  ``[link=…]`` hides a hyperlink, ``[red on red]`` hides text, ``:thumbs_up:`` turns into 👍;
- terminal control sequences: ESC (``\\x1b[2J`` clears the screen, ``\\x1b]8;;…`` makes a link), the
  one-byte C1 introducers (``\\x9b`` is CSI), BEL, backspace, carriage return;
- characters that reorder or hide text: bidi overrides and isolates (``\\u202e`` shows "Ltd ytP" as
  "Pty Ltd"), zero-width spaces, a byte-order mark.

``spell_out`` writes each of those characters as its escape (``\\x1b``, ``\\u202e``), so the reviewer
sees that it is there; ``literal`` gives a rich ``Text`` (never parsed as markup or emoji) and
``markup_literal`` a string to put inside our own markup. ``LiteralConsole`` is the net under all of
it: whatever string reaches it, a control character is spelt out before rich renders it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

# C0 and C1 controls and DEL; the bidi marks, embeddings, overrides and isolates; line and paragraph
# separators; zero-width space, word joiner and BOM (invisible, and no name needs them). ZWJ/ZWNJ stay:
# emoji sequences and several scripts (Persian, Indic) need them to be written correctly.
_INVISIBLE = r"\u061c\u200b\u200e\u200f\u202a-\u202e\u2028\u2029\u2060\u2066-\u2069\ufeff"
_HIDDEN_ANYWHERE = re.compile(rf"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_HIDDEN_BUT_LINES = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")  # tab and newline kept


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _spelt(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def spell_out(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` as text with every control or invisible character written as its escape.

    ``keep_newlines``: for text made of lines (an e-mail body, our own messages); a single value (a
    name, a reason in a table cell) shows its newlines as ``\\n`` too, so it cannot fake another row.
    """
    text = "" if value is None else str(value)
    return (_HIDDEN_BUT_LINES if keep_newlines else _HIDDEN_ANYWHERE).sub(_spelt, text)


def literal(value: object, style: str = "") -> Text:
    """A value for a rich table or line: shown as typed, control characters spelt out, no markup."""
    return Text(spell_out(value), style=style)


def markup_literal(value: object) -> str:
    """A value to put inside our own rich markup (``f"[red]{markup_literal(name)}[/red]"``)."""
    return escape(spell_out(value))


def json_for_terminal(data: Any) -> str:
    """JSON (UTF-8 kept readable) whose control and invisible characters are ``\\u`` escapes: the same
    document for a script, nothing a terminal would act on."""
    return _HIDDEN_ANYWHERE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False))


class LiteralConsole(Console):
    """A rich console that never sends a control character from a string to the terminal.

    Every string it renders (a printed message, a table cell, a progress description) has its control
    characters spelt out first; newlines and tabs stay, since our own messages use them. Emoji codes
    are off: ``:name:`` in a value stays as typed. Markup in values still needs ``markup_literal``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)
        if "width" not in kwargs:
            # rich freezes $COLUMNS as it is when the console is made (at import, for a module-level
            # console); a long-lived process and a test that sets COLUMNS later want the width of now.
            self._width = None

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(spell_out(text, keep_newlines=True), **kwargs)


def cell(value: object) -> str:
    """One report value as text, the same on screen, in CSV and in the Dagster UI: empty for null, ISO
    for times."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    return str(value)
