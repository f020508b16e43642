"""Spyglass paper exports turned into docker build contexts (in-cluster code: no Pulumi here)."""
