"""The MySQL memory rule: the buffer pool and everything beside it fit inside the container limit.

Invariant: for every accepted limit, pool + mysqld's own memory + the allowed
connections stay below the limit; a limit that cannot hold a minimal server is refused.
"""

from __future__ import annotations

import pytest

from components import mysql_memory as mm
from components.mysql_memory import plan_mysql_memory
from components.quantities import parse_memory_quantity

MiB, GiB = 2**20, 2**30


@pytest.mark.parametrize(
    ("limit", "pool", "connections", "packet"),
    [
        pytest.param("256Mi", 128 * MiB, 12, 32 * MiB, id="256Mi-smallest"),
        pytest.param("1000Mi", 384 * MiB, 134, 154 * MiB, id="1000Mi-rounds-down-to-chunk"),
        pytest.param("1Gi", 512 * MiB, 108, 128 * MiB, id="1Gi"),
        pytest.param("3Gi", 1536 * MiB, 151, 384 * MiB, id="3Gi"),
        pytest.param("4Gi", 2 * GiB, 151, 512 * MiB, id="4Gi-default"),
        pytest.param("16Gi", 8 * GiB, 151, 512 * MiB, id="16Gi-capped"),
    ],
)
def test_buffer_pool_and_connections_fit_the_memory_limit(limit: str, pool: int, connections: int, packet: int) -> None:
    sizing = plan_mysql_memory(limit)
    assert (sizing.buffer_pool_bytes, sizing.max_connections, sizing.max_allowed_packet_bytes) == (pool, connections, packet)
    assert sizing.buffer_pool_bytes % (128 * MiB) == 0, "MySQL rounds a pool that is not a chunk multiple up"
    assert sizing.log_file_bytes == pool // 4
    rest = parse_memory_quantity(limit) - sizing.buffer_pool_bytes
    beside_pool = mm.BASE_OVERHEAD + mm.LOG_BUFFER + sizing.max_connections * mm.PER_CONNECTION
    assert beside_pool <= rest, "pool + mysqld + connections must stay inside the limit"


def test_the_images_4g_pool_is_halved_inside_the_2i2c_4gi_limit() -> None:
    assert plan_mysql_memory("4Gi").buffer_pool_bytes == 2 * GiB  # datajoint/mysql's my.cnf asks for 4G


@pytest.mark.parametrize(
    ("limit", "fraction", "message"),
    [
        pytest.param("255Mi", 0.5, "too small", id="below-256Mi"),
        pytest.param("128Mi", 0.5, "too small", id="128Mi"),
        pytest.param("4Gi", 0.0, "fraction", id="fraction-zero"),
        pytest.param("4Gi", 0.8, "fraction", id="fraction-too-big"),
    ],
)
def test_impossible_sizes_are_refused(limit: str, fraction: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_mysql_memory(limit, fraction)


def test_a_larger_fraction_gives_a_larger_pool() -> None:
    assert plan_mysql_memory("4Gi", 0.75).buffer_pool_bytes == 3 * GiB
