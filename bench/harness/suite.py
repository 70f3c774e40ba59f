"""The benches ``make bench`` runs, in order, and which of them the quick mode (CI) runs.

Each is a script in bench/ that takes ``--quick`` and ``--json PATH`` and writes one JSON
result (bench/harness/run.py). An ``optional`` script may be missing from a tree (it is
said, not failed); ``quick=False`` keeps a long one out of CI's quick run, with the reason;
without the mosquitto binary the quick run skips, loudly, those that need it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    script: str
    quick: bool = True
    optional: bool = False
    why_not_quick: str = ""
    needs_broker: bool = True  # the mosquitto binary: the floors are Mosquitto's own

    @property
    def name(self) -> str:
        return self.script.removesuffix(".py")


BENCHES = (
    Entry("hut_latency.py"),
    Entry("ingest_throughput.py"),
    Entry("outbox_drain.py"),
    Entry("reminder_sweep.py"),
    Entry("gateway_footprint.py"),
    Entry("labels_pdf.py", needs_broker=False),
    Entry("import_rows.py", needs_broker=False),
    Entry("console_pages.py"),  # the console at a district's size (issue 14)
    Entry("allowlist_build.py", needs_broker=False),  # a hut's list in the district
    Entry("district.py", optional=True),  # the 500-hut district (issue 15)
    Entry(
        "fault_run.py",
        quick=False,
        why_not_quick="tests/e2e/test_faults.py runs its harness in every test run",
    ),
)
