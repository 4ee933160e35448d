"""A small soak: 160 loopback sources, one in three misbehaving, three cycles (bench/soak.py: 2,000)."""

from __future__ import annotations

from pathlib import Path

from tests.soak import Cycle, soak


def test_cycles_store_every_good_article_once_and_leak_no_files_or_threads(
    tmp_path: Path,
) -> None:
    """Each cycle adds exactly the new good articles; open files and threads come back each time."""
    cycles: list[Cycle] = soak(160, 3, tmp_path, report=lambda cycle: None)
    for cycle in cycles:
        assert cycle.stored == cycle.distinct_urls == cycle.expected  # every good one, once
        assert cycle.failed_sources == 160 * 6 // 20  # the misbehaving ones fail, with a reason
    assert cycles[0].expected < cycles[-1].expected
    assert cycles[-1].open_files <= cycles[0].open_files  # no socket or file left open
    assert cycles[-1].threads <= cycles[0].threads  # no fetch thread left running
