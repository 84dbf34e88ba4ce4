"""Each rule's section of docs/rules.md (what it catches, why, the fix, how to exempt), for SARIF help.

Code-scanning views show ``help.markdown`` beside each alert, where the reader has no copy of the
docs; so the text itself is carried, read once from the ``docs/rules.md`` shipped beside the
package (the container image copies it too). Without the file, rules get their one-line summary.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

RULES_DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
_SECTION = re.compile(r"^## `([^`]+)`\s*$", re.MULTILINE)


@cache
def rule_sections() -> dict[str, str]:
    """Markdown of every ``## `rule.id` `` section of docs/rules.md, by rule ID (empty without the file)."""
    try:
        text = RULES_DOC.read_text(encoding="utf-8")
    except OSError:
        return {}
    headings = list(_SECTION.finditer(text))
    sections = {}
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(text)
        sections[heading.group(1)] = text[heading.end() : end].strip().split("\n## ", 1)[0].strip()
    return sections

