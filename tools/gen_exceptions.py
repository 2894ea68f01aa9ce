#!/usr/bin/env python3
"""Generate python/asyncpg_rs/exceptions/__init__.py from tools/errcodes.txt.

One class per SQLSTATE, named as asyncpg names it. A class-level code (``22000``) is the base
of every code in its class (``22012`` DivisionByZeroError derives from DataError); warnings
(classes 01 and 02) derive from PostgresWarning, a PostgresLogMessage that is also a Warning.

Usage:
    python tools/gen_exceptions.py           # rewrite the generated module
    python tools/gen_exceptions.py --check   # exit 1 if the generated module is stale
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ERRCODES = ROOT / "tools" / "errcodes.txt"
OUTPUT = ROOT / "python" / "asyncpg_rs" / "exceptions" / "__init__.py"

# Codes added to PostgreSQL after 15 that asyncpg 0.32 already has classes for. They live here,
# in errcodes.txt's own line format, so that tools/errcodes.txt stays a verbatim pinned copy.
LATER_CODES = """\
10608    E    ERRCODE_INVALID_ARGUMENT_FOR_XQUERY    invalid_argument_for_xquery
25P04    E    ERRCODE_TRANSACTION_TIMEOUT            transaction_timeout
58P03    E    ERRCODE_FILE_NAME_TOO_LONG             file_name_too_long
"""

# asyncpg's names where the mechanical rule (see class_name) does not give them: mostly to
# avoid clashing with Python builtins (SyntaxError, ConnectionError, ...) or to read better.
NAME_MAP = {
    "01000": "PostgresWarning",
    "08000": "PostgresConnectionError",
    "08001": "ClientCannotConnectError",
    "08004": "ConnectionRejectionError",
    "22P01": "PostgresFloatingPointError",
    "38002": "ModifyingExternalRoutineSQLDataNotPermittedError",
    "38003": "ProhibitedExternalRoutineSQLStatementAttemptedError",
    "38004": "ReadingExternalRoutineSQLDataNotPermittedError",
    "39004": "NullValueInExternalRoutineNotAllowedError",
    "40001": "SerializationError",
    "42000": "SyntaxOrAccessError",
    "42601": "PostgresSyntaxError",
    "58000": "PostgresSystemError",
    "58030": "PostgresIOError",
    "P0004": "AssertError",
    "XX000": "InternalServerError",
}

# Words kept upper-case in class names.
UPPER_WORDS = {"sql", "fdw", "plpgsql"}

# Classes with no SQLSTATE of their own: (name, base class name, docstring). The client picks
# InvalidCachedStatementError for a 0A000 raised by RevalidateCachedQuery (see _base.py).
EXTRA_CLASSES = {
    "0A000": [
        (
            "InvalidCachedStatementError",
            "FeatureNotSupportedError",
            "A cached prepared statement became invalid after a schema or configuration change.",
        )
    ],
}

LINE_RE = re.compile(r"^([0-9A-Z]{5})\s+([EWS])\s+(ERRCODE_\w+)(?:\s+(\w+))?\s*$")


@dataclass
class Code:
    sqlstate: str
    kind: str  # E (error), W (warning) or S (success)
    macro: str
    spec_name: str

    @property
    def class_code(self) -> str:
        return self.sqlstate[:2] + "000"


def parse(text: str) -> list[Code]:
    """Codes in file order. Aliases (a second macro for a code, with no spec name) are skipped."""
    codes = []
    seen = set()
    for line in text.splitlines():
        m = LINE_RE.match(line)
        if m is None:
            continue
        sqlstate, kind, macro, spec_name = m.groups()
        if spec_name is None or sqlstate in seen:
            continue
        seen.add(sqlstate)
        codes.append(Code(sqlstate, kind, macro, spec_name))
    return codes


def class_name(code: Code) -> str:
    """unique_violation -> UniqueViolationError; *_exception / *_error end in a single Error."""
    if code.sqlstate in NAME_MAP:
        return NAME_MAP[code.sqlstate]
    words = code.spec_name.split("_")
    if code.kind == "E":
        if words[-1] in ("exception", "error"):
            words[-1] = "error"
        else:
            words.append("error")
    return "".join(w.upper() if w in UPPER_WORDS else w.capitalize() for w in words)


def pg_version(text: str) -> str:
    m = re.search(r"PostgreSQL (\d+)", text)
    if m is None:
        raise SystemExit(f"{ERRCODES}: no 'PostgreSQL <version>' in its header")
    return m.group(1)


def base_names() -> list[str]:
    """The names of exceptions/_base.py's literal ``__all__`` (read without importing it)."""
    tree = ast.parse((OUTPUT.parent / "_base.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return sorted(ast.literal_eval(node.value))
    raise SystemExit("exceptions/_base.py has no literal __all__")


def render(errcodes_text: str) -> str:
    codes = [c for c in parse(errcodes_text) + parse(LATER_CODES) if c.kind != "S"]
    # Group by SQLSTATE class, keeping file order, so a class root precedes its members.
    groups: dict[str, list[Code]] = {}
    for c in codes:
        groups.setdefault(c.sqlstate[:2], []).append(c)
    by_code = {c.sqlstate: c for c in codes}

    out = [
        (
            "# GENERATED by tools/gen_exceptions.py from tools/errcodes.txt "
            f"(PostgreSQL {pg_version(errcodes_text)}) — do not edit."
        ),
        "# Also LATER_CODES from the script: newer PostgreSQL codes that asyncpg 0.32 names.",
        '"""asyncpg_rs.exceptions: one class per PostgreSQL SQLSTATE, named as in asyncpg."""',
        "",
        "from . import _base",
        # Explicit re-exports (`X as X`), listed in the one literal __all__ below: type checkers
        # follow neither `import *` chains nor `__all__ +=`.
        *(f"from ._base import {n} as {n}" for n in base_names()),
        "from ._base import _make_log_message, _make_server_error  # noqa: F401",
    ]
    names = []

    def emit(name: str, bases: str, doc: str, sqlstate: str | None) -> None:
        names.append(name)
        out.extend(["", "", f"class {name}({bases}):", f'    """{doc}"""'])
        if sqlstate is not None:
            out.extend(["", f'    sqlstate = "{sqlstate}"'])

    for group in groups.values():
        for c in group:
            root = by_code.get(c.class_code)
            if c.sqlstate == "01000":
                bases = "_base.PostgresLogMessage, Warning"
            elif root is not None and root is not c:
                bases = class_name(root)
            elif c.kind == "W":
                bases = class_name(by_code["01000"])
            else:
                bases = "_base.PostgresError"
            emit(class_name(c), bases, f"SQLSTATE {c.sqlstate}: {c.spec_name}.", c.sqlstate)
            for name, base, doc in EXTRA_CLASSES.get(c.sqlstate, []):
                emit(name, base, doc, None)

    out.extend(["", "", "__all__ = ("])
    out.extend(f'    "{n}",' for n in sorted(names + base_names()))
    out.extend([")", ""])
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = parser.parse_args()

    text = render(ERRCODES.read_text(encoding="utf-8"))
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    rel = OUTPUT.relative_to(ROOT)
    if args.check:
        if current != text:
            print(f"{rel} is stale: run python tools/gen_exceptions.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
