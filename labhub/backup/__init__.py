"""Database backups that run in the cluster: dump, restore, verify, prune, off-site copy (no Pulumi here).

`labhub backup mysql ...` and `labhub backup postgres ...` share the layout
(labhub.backup.layout: a folder renamed into place when complete, a manifest
with sizes, sha256 and per-table stats) and `labhub backup prune`.
"""
