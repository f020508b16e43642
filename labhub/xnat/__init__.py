"""XNAT integration: `xnat_jupyterhub.py` is shipped into the hub as one file (see its docstring)."""

from pathlib import Path

HUB_MODULE = Path(__file__).with_name("xnat_jupyterhub.py")
"""The file z2jh's hub.extraFiles mounts next to jupyterhub_config.py (importable as `xnat_jupyterhub`)."""
