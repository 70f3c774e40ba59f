"""The layers of the tree, as docs/architecture.md draws them, held against every import of
the non-test code (read by tests/support/import_graph.py, imports inside functions and
``importlib.import_module`` names included).

Bottom up: ``toolhut`` (the contract, the floor) -> ``firmware_bridge``, ``labels`` ->
``hut_gateway``, ``server`` -> ``toolhut_cli`` (the command and the demo) -> ``bench``.
A package imports only from the floors below it; packages on one floor are peers and do
not import each other (the server and the gateway meet only on the MQTT wire). Inside the
server: ``domain`` <- ``storage`` <- the adapters and services <- ``app`` and ``cli``.
And no import cycle anywhere, between packages or between modules of one package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.import_graph import (
    Import,
    cycles,
    imports_of,
    module_files,
    top_level_imports,
)

ROOT = Path(__file__).resolve().parents[1]

FLOORS: dict[str, int] = {
    "toolhut": 0,
    "firmware_bridge": 1,
    "labels": 1,
    "hut_gateway": 2,
    "server": 2,
    "toolhut_cli": 3,
    "bench": 4,
}

# Floors inside the server package; a module not named here is an adapter or service (1).
# The clock and the card UID spelling are plain Python every part may ask, the rules too.
SERVER_FLOORS: dict[str, int] = {
    "server.domain": -1,
    "server.clock": -1,
    "server.card_uids": -1,
    "server.storage": 0,
    "server.app": 2,
    "server.cli": 2,
}
SERVER_ADAPTERS = 1

# The rules need no database, web framework or broker; the storage needs no web or broker.
FORBIDDEN_LIBRARIES: dict[str, frozenset[str]] = {
    "server.domain": frozenset({"sqlalchemy", "alembic", "fastapi", "starlette", "paho"}),
    "server.storage": frozenset({"fastapi", "starlette", "paho"}),
}


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return module_files(ROOT, FLOORS)


@pytest.fixture(scope="module")
def imports(modules: dict[str, Path]) -> list[Import]:
    return imports_of(ROOT, modules)


def test_no_import_cycle(imports: list[Import]) -> None:
    found = list(cycles(imports))
    assert not found, "import cycles:\n" + "\n\n".join(
        "\n".join(f"  {imp}" for imp in loop) for loop in found
    )


def test_no_import_runs_from_a_lower_floor_to_a_higher_one_or_sideways(
    imports: list[Import],
) -> None:
    wrong = [imp for imp in imports if _breaks_the_floors(imp)]
    assert not wrong, _listing("imports against the layers", wrong)


def test_the_server_domain_and_storage_stay_below_the_adapters(imports: list[Import]) -> None:
    wrong = [imp for imp in imports if _breaks_the_server_floors(imp)]
    assert not wrong, _listing("server imports against domain <- storage <- adapters", wrong)


def test_the_rules_and_the_storage_import_none_of_the_libraries_they_must_not_know(
    modules: dict[str, Path],
) -> None:
    wrong = []
    for name, path in modules.items():
        forbidden = FORBIDDEN_LIBRARIES.get(_server_area(name), frozenset())
        for library, line in top_level_imports(name, path):
            if library in forbidden:
                wrong.append(f"{path.relative_to(ROOT)}:{line} -> {library}")
    assert not wrong, "forbidden libraries:\n" + "\n".join(f"  {w}" for w in wrong)


def test_the_graph_sees_imports_inside_functions_and_import_module_names(
    imports: list[Import],
) -> None:
    # The test is worth only what the reader sees: a late import and the command's table.
    seen = {(imp.importer, imp.imported) for imp in imports}
    assert ("toolhut_cli.demo_cli", "toolhut_cli.demo") in seen  # inside run()
    assert ("toolhut_cli.cli", "server.cli") in seen  # by name, through import_module
    assert ("bench.hut_latency", "bench._emulator_lines") in seen  # a script's neighbour


def _breaks_the_floors(imp: Import) -> bool:
    importer, imported = _package(imp.importer), _package(imp.imported)
    return importer != imported and FLOORS[imported] >= FLOORS[importer]


def _breaks_the_server_floors(imp: Import) -> bool:
    if _package(imp.importer) != "server" or _package(imp.imported) != "server":
        return False
    importer, imported = _server_area(imp.importer), _server_area(imp.imported)
    return importer != imported and _server_floor(imported) > _server_floor(importer)


def _server_area(module: str) -> str:
    """The part of the server a module belongs to: ``server.storage.models`` ->
    ``server.storage``, ``server.ingest`` -> itself."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _server_floor(area: str) -> int:
    return SERVER_FLOORS.get(area, SERVER_ADAPTERS)


def _package(module: str) -> str:
    return module.split(".")[0]


def _listing(title: str, wrong: list[Import]) -> str:
    return f"{title}:\n" + "\n".join(f"  {imp}" for imp in wrong)
