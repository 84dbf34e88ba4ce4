"""Load-time checks of site Rego for mistakes rego-cpp accepts silently, reported at ``file:line``.

rego-cpp compiles a rule that calls an unknown function or reads a variable nothing binds, and then
simply never fires it: a site rule that was meant to deny would allow everything. These checks
refuse such modules at start-up instead (a configuration mistake must never weaken a rule):

- a call to a function that is neither a built-in nor defined by a loaded module;
- a variable that is used but never bound anywhere in its module (not assigned with ``:=``/``=``,
  not iterated with ``some``/``every`` or inside ``[…]``, not a rule, import or function argument);
- ``deny``/``violation``/``warn`` rules written for conftest or Gatekeeper, which gate never reads;
- rules in a package outside ``gate.rules.*`` that no other module imports, which never fire.

The checks read tokens, not a full Rego parse; they err on the side of accepting (a variable bound
in any form they recognise anywhere in the module counts as bound).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regopy

from gate.policy._sources import Module, package_of, strip_comments

_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|:=|==|!=|<=|>=|\d+(?:\.\d+)?|\S')
_KEYWORDS = frozenset(
    "package import as if else contains some every in not with default true false null input data rego future keywords v1 _".split()
)
_CONFTEST = re.compile(r"^(deny|violation|warn)\s*(contains\b|\[|\s*=\s*|\s*:=|\s+if\b|\s*\{)", re.MULTILINE)
_FUNCTION_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_RULE_NAME = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\b", re.MULTILINE)
_IMPORT = re.compile(r"^import\s+(data(?:\.[A-Za-z_]\w*)+|input|rego\.v1|future\.keywords(?:\.\w+)?)(?:\s+as\s+(\w+))?", re.MULTILINE)
_HEADER_LINES = re.compile(r"^(?:package|import)\b.*$", re.MULTILINE)
_SITE_PREFIX = "gate.rules."
_SHARED_PACKAGES = ("gate", "gate.lib")


@dataclass(frozen=True)
class Finding:
    """One mistake at ``module:line``."""

    module: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.message}"


@dataclass(frozen=True)
class _Token:
    text: str
    line: int
    depth: int  # brackets open before it


def lint_modules(site: tuple[Module, ...], every: tuple[Module, ...], *, check_calls: bool = True) -> list[Finding]:
    """Findings for the ``site`` modules, judged against ``every`` loaded module (shipped ones too).

    ``check_calls``: check function names against rego-cpp's built-ins (off for an OPA server,
    whose built-ins differ)."""
    functions = _functions_by_package(every)
    imported = {path for module in every for path, _ in _IMPORT.findall(strip_comments(module.source))}
    imported |= {ref for module in every for ref in re.findall(r"\bdata\.([\w.]+)", strip_comments(module.source))}
    rules: dict[str, set[str]] = {}
    for module in every:
        rules.setdefault(package_of(module.source) or "", set()).update(_RULE_NAME.findall(strip_comments(module.source)))
    interpreter = regopy.Interpreter()
    findings: list[Finding] = []
    for module in site:
        text = strip_comments(module.source)
        findings += _conftest_style(module, text)
        findings += _unreachable_package(module, text, imported)
        tokens = _tokens(_HEADER_LINES.sub("", text))  # package and import lines name paths, not variables
        findings += _undefined_calls(module, text, tokens, functions, interpreter) if check_calls else []
        findings += _unbound_variables(module, text, tokens, rules.get(package_of(module.source) or "", set()))
    return findings


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _tokens(text: str) -> list[_Token]:
    tokens, line, last, depth = [], 1, 0, 0
    for match in _TOKEN.finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        token = match.group(0)
        depth -= token in (")", "]", "}")
        tokens.append(_Token(token, line, depth))
        depth += token in ("(", "[", "{")
    return tokens


def _conftest_style(module: Module, text: str) -> list[Finding]:
    return [
        Finding(
            module.name,
            _line(text, match.start()),
            f"`{match.group(1)}` is conftest/Gatekeeper style and gate never reads it: in `package gate.rules.<name>` write "
            '`violations contains {"rule": "<site>.<id>", "message": msg, "details": {}} if { … }`',
        )
        for match in _CONFTEST.finditer(text)
    ]


def _unreachable_package(module: Module, text: str, imported: set[str]) -> list[Finding]:
    package = package_of(module.source)
    if package is None or package.startswith(_SITE_PREFIX) or package in _SHARED_PACKAGES:
        return []
    if any(path == package or path.startswith(package + ".") or package.startswith(path + ".") for path in imported):
        return []  # a library another module uses
    line = _line(text, text.find("package"))
    return [
        Finding(module.name, line, f"rules in `package {package}` can never fire: gate collects `violations` from `package gate.rules.<name>`")
    ]


def _functions_by_package(modules: tuple[Module, ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module in modules:
        package = package_of(module.source) or ""
        found.setdefault(package, set()).update(_FUNCTION_HEAD.findall(strip_comments(module.source)))
    return found


def _aliases(text: str) -> dict[str, str]:
    """Import alias -> imported package path (``import data.gate.lib`` -> ``lib``: ``gate.lib``)."""
    aliases = {}
    for path, alias in _IMPORT.findall(text):
        if path.startswith("data."):
            aliases[alias or path.rsplit(".", 1)[-1]] = path[len("data.") :]
    return aliases


def _undefined_calls(
    module: Module, text: str, tokens: list[_Token], functions: dict[str, set[str]], interpreter: regopy.Interpreter
) -> list[Finding]:
    own = functions.get(package_of(module.source) or "", set())
    aliases = _aliases(text)
    findings = []
    for index, token in enumerate(tokens[:-1]):
        if tokens[index + 1].text != "(" or not (token.text[0].isalpha() or token.text[0] == "_") or token.text in _KEYWORDS:
            continue
        if _is_head(tokens, index):
            continue
        if not _callable(token.text, own, aliases, functions, interpreter):
            findings.append(Finding(module.name, token.line, f"`{token.text}(…)` is not a built-in function nor defined by any loaded module"))
    return findings


def _is_head(tokens: list[_Token], index: int) -> bool:
    """True when the token starts its line at the top level (a function definition)."""
    return tokens[index].depth == 0 and (index == 0 or tokens[index - 1].line != tokens[index].line)


def _callable(name: str, own: set[str], aliases: dict[str, str], functions: dict[str, set[str]], interpreter: regopy.Interpreter) -> bool:
    if "." not in name:
        return name in own or bool(interpreter.is_builtin(name))
    head, _, rest = name.partition(".")
    if head == "data":
        path, _, function = rest.rpartition(".")
    elif head in aliases:
        inner, _, function = rest.rpartition(".")
        path = ".".join(filter(None, (aliases[head], inner)))
    else:
        return bool(interpreter.is_builtin(name))
    return function in functions.get(path, set())


def _unbound_variables(module: Module, text: str, tokens: list[_Token], package_rules: set[str]) -> list[Finding]:
    known = set(_KEYWORDS) | package_rules | set(_aliases(text))
    bound = _bound_names(tokens)
    reported: set[str] = set()
    findings = []
    for index, token in enumerate(tokens):
        name = token.text.split(".", 1)[0]
        if not (name[:1].isalpha() or name[:1] == "_") or name in known or name in bound or name in reported:
            continue
        if index and tokens[index - 1].text == ".":
            continue  # a field of what comes before (`x["k"].field`, `f(x).field`), not a variable
        following = tokens[index + 1].text if index + 1 < len(tokens) else ""
        if following == "(" or following == ":" and _in_object(tokens, index):
            continue  # a call (checked above) or an object key written without quotes
        reported.add(name)
        findings.append(
            Finding(
                module.name,
                token.line,
                f"unsafe variable `{name}`: nothing assigns (`{name} := …`) or iterates (`some {name} in …`) it, so its rule can never fire",
            )
        )
    return findings


def _in_object(tokens: list[_Token], index: int) -> bool:
    depth = 0
    for token in reversed(tokens[:index]):
        if token.text in (")", "]", "}"):
            depth += 1
        elif token.text in ("(", "[", "{"):
            if depth == 0:
                return token.text == "{"
            depth -= 1
    return False


def _bound_names(tokens: list[_Token]) -> set[str]:
    """Names bound somewhere: assigned or unified, declared by ``some``/``every``, used inside
    ``[…]`` (iteration, keys, destructuring), or a function head's parameter."""
    bound: set[str] = set()
    declaring = False
    opened: list[str] = []
    for index, token in enumerate(tokens):
        text = token.text
        if text in ("some", "every"):
            declaring = True
            continue
        if declaring and (text == "in" or (index and tokens[index - 1].line != token.line)):
            declaring = False
        following = tokens[index + 1].text if index + 1 < len(tokens) else ""
        previous = tokens[index - 1].text if index else ""
        if text.isidentifier() and (declaring or "[" in opened or following in (":=", "=") or previous == "="):
            bound.add(text)
        if text in ("(", "[", "{"):
            opened.append(text)
        elif text in (")", "]", "}") and opened:
            opened.pop()
    return bound | _parameters(tokens)


def _parameters(tokens: list[_Token]) -> set[str]:
    """Identifiers between the parentheses of a function head at the start of a line."""
    names: set[str] = set()
    for index in range(len(tokens) - 1):
        if tokens[index + 1].text == "(" and _is_head(tokens, index):
            for inner in tokens[index + 2 :]:
                if inner.text == ")":
                    break
                if inner.text.isidentifier():
                    names.add(inner.text)
    return names
