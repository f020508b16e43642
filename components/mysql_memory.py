"""How a MySQL 8 server is sized to fit a container's memory limit (pure arithmetic, no Pulumi).

The per-user sidecar's config model refuses a limit mysqld cannot fit in, and
its builder writes the resulting settings into mysqld's option file: both ask
`plan_mysql_memory`, so the rule lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.quantities import parse_memory_quantity

MiB = 2**20
CHUNK = 128 * MiB  # innodb_buffer_pool_chunk_size, set explicitly (one pool instance)
MIN_POOL = 128 * MiB
MIN_HEADROOM = 128 * MiB  # memory beside the pool, at the least
BASE_OVERHEAD = 64 * MiB  # mysqld itself with performance_schema off: code, dictionary, caches
LOG_BUFFER = 16 * MiB  # innodb_log_buffer_size (MySQL 8's default)
PER_CONNECTION = 4 * MiB  # thread stack + sort/join/read buffers of one busy connection, rounded up
MIN_CONNECTIONS, MAX_CONNECTIONS = 10, 151  # 151 is MySQL's default; one user needs far fewer
MAX_PACKET = 512 * MiB  # what datajoint/mysql sets: DataJoint blobs need large packets


@dataclass(frozen=True)
class MySQLSizing:
    """Memory settings derived from the container memory limit (`plan_mysql_memory`)."""

    memory_limit_bytes: int
    buffer_pool_bytes: int
    max_connections: int
    max_allowed_packet_bytes: int
    log_file_bytes: int
    log_buffer_bytes: int = LOG_BUFFER


def plan_mysql_memory(memory_limit: str | int, fraction: float = 0.5) -> MySQLSizing:
    """Size mysqld to fit its container limit L. The rule:

    * pool = max(128 MiB, L * fraction rounded down to 128 MiB chunks); the rest,
      L - pool, must be at least 128 MiB (so L >= 256 MiB at the default 0.5);
    * the rest pays for mysqld itself (64 MiB, performance_schema off), the log
      buffer (16 MiB) and connections at 4 MiB each:
      max_connections = clamp((rest - 80 MiB) / 4 MiB, 10, 151);
    * one huge packet must not blow the limit either: max_allowed_packet =
      clamp(rest / 4 rounded down to MiB, 16 MiB, 512 MiB);
    * innodb_log_file_size = pool / 4 (it is disk, in the user's volume when
      persistent; the image's 2G would eat a fifth of a 10Gi home).
    """
    limit = parse_memory_quantity(memory_limit)
    if not 0 < fraction <= 0.75:
        raise ValueError(f"buffer pool fraction {fraction!r} must be in (0, 0.75]")
    pool = max(MIN_POOL, int(limit * fraction) // CHUNK * CHUNK)
    rest = limit - pool
    if rest < MIN_HEADROOM:
        raise ValueError(
            f"MySQL memory limit {memory_limit!r} is too small: a {pool // MiB} MiB buffer pool needs "
            f"{MIN_HEADROOM // MiB} MiB beside it (use at least 256Mi)"
        )
    connections = min(MAX_CONNECTIONS, max(MIN_CONNECTIONS, (rest - BASE_OVERHEAD - LOG_BUFFER) // PER_CONNECTION))
    packet = min(MAX_PACKET, max(16 * MiB, rest // 4 // MiB * MiB))
    return MySQLSizing(limit, pool, connections, packet, log_file_bytes=pool // 4)
