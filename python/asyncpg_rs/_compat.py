"""Run libraries that ``import asyncpg`` themselves (SQLAlchemy, ...) on asyncpg_rs.

``import asyncpg_rs as asyncpg`` covers code you write. A library such as SQLAlchemy's
``postgresql+asyncpg`` dialect imports ``asyncpg`` by name, so it needs the name itself to
resolve to asyncpg_rs::

    import asyncpg_rs

    asyncpg_rs.install_as_asyncpg()  # before the first engine is created

    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://user@host/db")

SQLAlchemy imports the driver when an engine is created, so installing the alias any time
before that is enough; other libraries may import it at import time, so the safest place is
the top of the program. Modules that already hold a reference to the real ``asyncpg`` keep it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import uuid
from typing import Optional

# Submodules that ``import asyncpg_rs`` loads anyway: aliased at once. Any other
# ``asyncpg.X`` (``asyncpg.cluster``, ``asyncpg._testbase``, ``asyncpg.connect_utils``, ...) is
# resolved on first import by ``_AliasFinder`` to ``asyncpg_rs.X``, so nothing heavy or optional
# is imported up front.
_EAGER = (
    "connection",
    "cursor",
    "exceptions",
    "exceptions._base",
    "pool",
    "prepared_stmt",
    "serverversion",
    "transaction",
    "types",
    "utils",
)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a throwaway module; exec_module swaps the real one in

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system returns whatever sys.modules holds under the name after this
        # call, so the alias gets asyncpg_rs's module itself (with its own __spec__ intact).
        sys.modules[module.__name__] = importlib.import_module(self._target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``asyncpg.X`` as ``asyncpg_rs.X`` when asyncpg_rs has such a module."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith("asyncpg."):
            return None
        if sys.modules.get("asyncpg") is not sys.modules.get(__package__ or "asyncpg_rs"):
            return None  # the alias is not (or no longer) installed: leave asyncpg alone
        target_name = "asyncpg_rs" + fullname[len("asyncpg") :]
        try:
            found = importlib.util.find_spec(target_name)
        except (ImportError, ValueError):
            return None
        if found is None:
            return None
        return importlib.util.spec_from_loader(
            fullname,
            _AliasLoader(target_name),
            is_package=found.submodule_search_locations is not None,
        )


_FINDER = _AliasFinder()


@functools.cache  # one set of stand-ins, so repeated installs change nothing
def _pgproto_modules() -> dict[str, types.ModuleType]:
    """Stand-ins for ``asyncpg.pgproto`` (a compiled module in asyncpg).

    asyncpg decodes ``uuid`` to ``asyncpg.pgproto.pgproto.UUID``, a ``uuid.UUID`` subclass;
    asyncpg_rs decodes to ``uuid.UUID`` itself, so ``pgproto.UUID`` is ``uuid.UUID`` here and
    ``isinstance(value, pgproto.UUID)`` keeps holding. ``asyncpg.pgproto.types`` holds the
    geometric types and ``BitString``, which are in ``asyncpg_rs.types``.
    """
    from . import types as rs_types

    package = types.ModuleType("asyncpg.pgproto", "asyncpg_rs stand-in for asyncpg.pgproto")
    package.__path__ = []  # a package, so ``import asyncpg.pgproto.pgproto`` resolves
    pgproto = types.ModuleType(
        "asyncpg.pgproto.pgproto", "asyncpg_rs stand-in for asyncpg.pgproto.pgproto"
    )
    pgproto.UUID = uuid.UUID  # type: ignore[attr-defined]
    package.pgproto = pgproto  # type: ignore[attr-defined]
    package.types = rs_types  # type: ignore[attr-defined]
    return {
        "asyncpg.pgproto": package,
        "asyncpg.pgproto.pgproto": pgproto,
        "asyncpg.pgproto.types": rs_types,
    }


@functools.cache
def _protocol_modules() -> dict[str, types.ModuleType]:
    """Stand-ins for ``asyncpg.protocol.protocol`` and ``asyncpg.protocol.record`` (compiled
    modules in asyncpg), holding the names code written for asyncpg imports from them.

    ``asyncpg.protocol`` itself is asyncpg_rs's ``protocol`` module; these two hang off it.
    ``_create_record(mapping, elems)`` builds a Record from a name -> position mapping as
    asyncpg's does; ``BUILTIN_TYPE_OID_MAP`` / ``BUILTIN_TYPE_NAME_MAP`` are the core types this
    driver handles (binary codecs and the types read as text), by OID and by name.
    """
    from . import _native
    from . import protocol as rs_protocol

    record = types.ModuleType(
        "asyncpg.protocol.record", "asyncpg_rs stand-in for asyncpg.protocol.record"
    )
    record.Record = _native.Record  # type: ignore[attr-defined]
    protocol = types.ModuleType(
        "asyncpg.protocol.protocol", "asyncpg_rs stand-in for asyncpg.protocol.protocol"
    )
    oid_map = dict(_native._builtin_type_oids())
    protocol.Protocol = rs_protocol.Protocol  # type: ignore[attr-defined]
    protocol.Record = _native.Record  # type: ignore[attr-defined]
    protocol._create_record = _native._create_record  # type: ignore[attr-defined]
    protocol.BUILTIN_TYPE_OID_MAP = oid_map  # type: ignore[attr-defined]
    protocol.BUILTIN_TYPE_NAME_MAP = {name: oid for oid, name in oid_map.items()}  # type: ignore[attr-defined]
    return {"asyncpg.protocol.protocol": protocol, "asyncpg.protocol.record": record}


def public_class_name(cls: type) -> str:
    """``module.QualName`` of a class as users import it: once ``install_as_asyncpg()`` has run,
    asyncpg_rs's classes go by asyncpg's paths (``asyncpg.connection.Connection``)."""
    module = cls.__module__
    if sys.modules.get("asyncpg") is sys.modules.get(__package__ or "asyncpg_rs") and (
        module == "asyncpg_rs" or module.startswith("asyncpg_rs.")
    ):
        module = "asyncpg" + module[len("asyncpg_rs") :]
    return f"{module}.{cls.__qualname__}"


def install_as_asyncpg() -> None:
    """Make ``import asyncpg`` (and ``asyncpg.exceptions``, ``asyncpg.pool``, ...) give asyncpg_rs.

    Puts asyncpg_rs and its submodules into ``sys.modules`` under the ``asyncpg`` names.
    Idempotent. Call it before the library that imports asyncpg does so (for SQLAlchemy:
    before ``create_async_engine``). Modules that already imported the real asyncpg keep
    their reference to it.
    """
    package = importlib.import_module(__package__ or "asyncpg_rs")
    aliases: dict[str, types.ModuleType] = {"asyncpg": package}
    for name in _EAGER:
        aliases[f"asyncpg.{name}"] = importlib.import_module(f"{package.__name__}.{name}")
    pgproto = _pgproto_modules()
    aliases.update(pgproto)
    aliases["asyncpg.protocol"] = importlib.import_module(f"{package.__name__}.protocol")
    protocol_modules = _protocol_modules()
    aliases.update(protocol_modules)
    # Submodules of a real asyncpg imported earlier would shadow the finder: forget them
    # (modules already holding them keep their reference).
    for name in [n for n in sys.modules if n.startswith("asyncpg.") and n not in aliases]:
        if not getattr(sys.modules[name], "__name__", "").startswith("asyncpg_rs"):
            del sys.modules[name]
    sys.modules.update(aliases)
    # ``import asyncpg.pgproto.pgproto`` then reads ``asyncpg.pgproto`` as an attribute; the
    # real submodules are attributes already (importing a submodule sets it on its parent).
    if getattr(package, "pgproto", None) is not pgproto["asyncpg.pgproto"]:
        setattr(package, "pgproto", pgproto["asyncpg.pgproto"])  # noqa: B010
    rs_protocol = aliases["asyncpg.protocol"]
    for name in ("protocol", "record"):
        if getattr(rs_protocol, name, None) is not protocol_modules[f"asyncpg.protocol.{name}"]:
            setattr(rs_protocol, name, protocol_modules[f"asyncpg.protocol.{name}"])
    # Messages and reprs of Record name asyncpg's classes, as code written for asyncpg expects.
    from . import _native

    _native._set_asyncpg_names(True)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
