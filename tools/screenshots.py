"""The screenshots of docs/screenshots/ (linked from the README): every main page of the
console and the public pages, on a desktop (1366×900) and a phone (390×844), taken in
Debian's Chromium from a real stack (broker, seeded server, gateway, the controller's
emulator on a pseudo-terminal) after a resident has borrowed two things and the door was
forced open, so the pages show what staff would see.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots]

A development tool: it uses the tests' own stack (tests/support/hut_stack.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.domain.roles import Role  # noqa: E402
from tests.support.browser import DESKTOP, PHONE, chromium_browser, new_tab  # noqa: E402
from tests.support.hut_stack import HUT, ZHANG, hut_stack  # noqa: E402
from tests.support.processes import poll_until  # noqa: E402
from tests.support.staff_auth import PASSWORD  # noqa: E402

# name -> path; the member and item pages are the seeded ones.
PAGES = {
    "sign-in": "/console/sign-in",
    "dashboard": "/console",
    "inventory": "/console/items",
    "item": "/console/items/T0001",
    "members": "/console/members",
    "member": "/console/members/1",
    "loans": "/console/loans",
    "supplies": "/console/supplies",
    "alarms": "/console/alarms",
    "import-export": "/console/transfer",
    "users": "/console/users",
    "audit": "/console/audit",
    "public-inventory": "/",
    "public-item": "/i/T0001",
}
PUBLIC = {"sign-in", "public-inventory", "public-item"}


def stage(stack) -> None:  # type: ignore[no-untyped-def]
    """Two loans and an open alarm, through the emulated hut as a resident makes them."""
    emulator = stack.emulator
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock pulse_ms=\d+")
    emulator.send("door open")
    for tag in ("T0001", "T0003"):
        emulator.send(f"scan {tag}")
        emulator.expect(r"^recv feedback beep=ok")
    emulator.send("door close")
    emulator.expect(r"^lock engaged")
    poll_until(lambda: stack.item("T0003")["status"] == "on_loan", timeout=30, what="the loan")
    emulator.send("door open")  # no card: forced open
    emulator.expect(r"^sent alarm kind=forced_open active=1")
    poll_until(
        lambda: stack.staff(f"/api/v1/alarms?hut={HUT}")["data"], timeout=30, what="the alarm"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, hut_stack(Path(tmp), "screenshots") as stack:
        stage(stack)
        admin = stack.account(Role.ADMIN)
        with chromium_browser() as browser:
            for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                tab = new_tab(browser, stack.base, viewport=viewport)
                for name in PUBLIC:
                    tab.goto(PAGES[name])
                    tab.page.screenshot(path=str(args.out / f"{name}-{device}.png"), full_page=True)
                tab.sign_in(admin, PASSWORD)
                for name, path in PAGES.items():
                    if name in PUBLIC:
                        continue
                    tab.goto(path)
                    if tab.page.locator(".chart").count():  # drawn by ECharts after load
                        tab.page.wait_for_selector(".chart canvas")
                    tab.page.screenshot(path=str(args.out / f"{name}-{device}.png"), full_page=True)
                print(f"{device}: {len(PAGES)} pages; problems: {tab.problems or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
