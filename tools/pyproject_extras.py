"""Print the requirements of pyproject.toml's optional-dependency groups, one per line.

Usage: python tools/pyproject_extras.py dev test [bench ...]

The Makefile and .ci/run install these into the project's virtualenv without building the
project itself (pip has no "dependencies only" mode). Runs on Python 3.9+ with only the standard
library and pip: tomllib from 3.11, pip's vendored copy of tomli before that.
"""

from __future__ import annotations

import pathlib
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

PYPROJECT = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"


def main(groups: list[str]) -> int:
    with PYPROJECT.open("rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    unknown = [g for g in groups if g not in extras]
    if unknown:
        print(f"unknown extras {unknown}; pyproject.toml has {sorted(extras)}", file=sys.stderr)
        return 2
    seen: set[str] = set()
    for group in groups:
        for req in extras[group]:
            if req not in seen:
                seen.add(req)
                print(req)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
