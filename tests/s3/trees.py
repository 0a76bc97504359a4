"""The tree checks of the harness: `etagsum check` on whole trees.

- listings.py: list-objects-v2 listings printed by the aws cli for a bucket that several real clients
  filled; a copy fetched with `aws s3 sync`; changed, deleted and added files; shards.
- inventory.py: S3 Inventory reports (CSV and Parquet) built from a versioned bucket, fetched with
  `aws s3 sync`; encrypted rows, delete markers, old versions; broken reports.
- example_files.py: the Kubernetes and Slurm examples and the merge script, run as their
  schedulers would run them.

Run alone with `.venv/bin/python tests/s3/run.py --etagsum target/release/etagsum --trees-only`.
"""

from __future__ import annotations

from example_files import ExampleTests
from inventory import InventoryTests
from listings import ListingTests


def run_tree_tests(harness, present: set[str]) -> None:
    """Run every tree check; each reports its own lines, and a harness error fails only its part."""
    for name, make in (("listing tests", lambda: ListingTests(harness, present)),
                       ("inventory tests", lambda: InventoryTests(harness)),
                       ("example tests", lambda: ExampleTests(harness))):
        tests = []
        harness._guarded(name, lambda: tests.append(make()))
        if tests:
            tests[0].run()
