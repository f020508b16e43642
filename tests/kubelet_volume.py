"""A ConfigMap volume laid out on disk exactly as kubelet lays it out (its AtomicWriter).

Why: code that reads a mounted ConfigMap meets symlinks, not plain files.
For a volume with `items`, kubelet writes the listed keys' values at their
`path`s inside a hidden timestamped folder, points `..data` at that folder,
and links each top-level entry to `..data/<entry>`:

    <mount>/..2026_12_03_07_52_40.123456789/Sample_{name}.ipynb   (regular file, mode 0644)
    <mount>/..2026_12_03_07_52_40.123456789/instrument/a.ipynb
    <mount>/..data -> ..2026_12_03_07_52_40.123456789
    <mount>/Sample_{name}.ipynb -> ..data/Sample_{name}.ipynb
    <mount>/instrument -> ..data/instrument                       (a nested path links its top folder)

An update writes a new timestamped folder, renames a `..data_tmp` symlink
over `..data` (the atomic swap), links new top-level entries, removes
entries no longer present, and deletes the old timestamped folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def _timestamp_dir(mount: Path) -> Path:
    now = time.time_ns()
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(now // 1_000_000_000)) + f".{now % 1_000_000_000:09d}"
    return mount / f"..{stamp}"


def _payload(data: dict[str, str | bytes], items: list[dict[str, str]] | None) -> dict[str, bytes]:
    """path -> bytes, as kubelet projects a ConfigMap's keys (all keys at their names, or only `items`)."""
    pairs = [(key, key) for key in data] if items is None else [(item["key"], item["path"]) for item in items]
    out = {}
    for key, path in pairs:
        value = data[key]
        out[path] = value.encode("utf-8") if isinstance(value, str) else value
    return out


def write_configmap_volume(mount: Path, data: dict[str, str | bytes], items: list[dict[str, str]] | None = None, mode: int = 0o644) -> Path:
    """Lay out (or update, atomically) a ConfigMap volume at `mount`; return the new timestamped folder."""
    mount.mkdir(parents=True, exist_ok=True)
    payload = _payload(data, items)
    old_target = os.readlink(mount / "..data") if (mount / "..data").is_symlink() else None
    new_dir = _timestamp_dir(mount)
    new_dir.mkdir(mode=0o755)
    for path, content in payload.items():
        target = new_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
    tmp_link = mount / "..data_tmp"
    os.symlink(new_dir.name, tmp_link)
    os.rename(tmp_link, mount / "..data")  # the atomic swap
    top_level = {path.split("/", 1)[0] for path in payload}
    for entry in top_level:
        link = mount / entry
        if not link.is_symlink():
            os.symlink(f"..data/{entry}", link)
    for entry in os.listdir(mount):
        if not entry.startswith("..") and entry not in top_level and (mount / entry).is_symlink():
            os.unlink(mount / entry)
    if old_target:
        _remove_tree(mount / old_target)
    return new_dir


def _remove_tree(path: Path) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))
    os.rmdir(path)


def configmap_volume_from_manifests(mount: Path, config_map: dict, volume: dict) -> Path:
    """Lay out the volume a rendered Deployment's `volume` entry makes of a rendered ConfigMap."""
    items = volume["configMap"].get("items")
    return write_configmap_volume(mount, config_map.get("data", {}), items, mode=volume["configMap"].get("defaultMode", 0o644))
