"""Reading files under the templates mount: through kubelet's links, never outside the mount.

Why: a ConfigMap volume is all symlinks (`<entry> -> ..data/<entry>`,
`..data -> ..<timestamp>`), so a "no symlinks" rule refuses every template
kubelet ships. The rule that matters is where a path *ends up*: a file is
served when its real path lies inside the mount's real path, and that is
checked again on every read (on the opened descriptor itself, so swapping a
file for a link between check and open does not help), not only at a rescan.
"""

from __future__ import annotations

import os
from collections.abc import Iterator


class OutsideMount(OSError):
    """A path that resolves outside the templates mount (or does not resolve at all)."""


def inside(root: str, real: str) -> bool:
    """Whether the real path `real` is `root` or below it (`root` itself a real path)."""
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def walk_templates(root: str) -> Iterator[str]:
    """Every `*.ipynb` reachable from `root` by links that stay inside it, as "/"-separated paths.

    Hidden entries are skipped (kubelet's `..data` and `..<timestamp>`, which
    would list every template twice; `.ipynb_checkpoints`); each real folder
    is entered once, so a link loop ends.
    """
    seen: set[str] = {root}
    pending = [("", root)]
    while pending:
        rel_dir, directory = pending.pop()
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in entries:
            if name.startswith("."):
                continue
            full = os.path.join(directory, name)
            real = os.path.realpath(full)
            if not inside(root, real):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if os.path.isdir(real):
                if real not in seen:
                    seen.add(real)
                    pending.append((rel, full))
            elif name.endswith(".ipynb") and os.path.isfile(real):
                yield rel


def resolve(root: str, rel: str) -> str:
    """The real path of `root/rel`, or OutsideMount if it resolves outside `root`."""
    real = os.path.realpath(os.path.join(root, *rel.split("/")))
    if not inside(root, real):
        raise OutsideMount(f"{rel} resolves outside the templates folder")
    return real


def open_inside(root: str, rel: str) -> tuple[int, os.stat_result]:
    """An open read-only descriptor for `root/rel` and its stat, checked to be inside `root` after opening."""
    real = resolve(root, rel)
    fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
        if not inside(root, opened):
            raise OutsideMount(f"{rel} was replaced by a link outside the templates folder")
        stat = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd, stat
