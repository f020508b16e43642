"""XNAT integration: `xnat_jupyterhub.py` is shipped into the hub as one file (see its docstring)."""

from pathlib import Path

HUB_MODULE = Path(__file__).with_name("xnat_jupyterhub.py")
"""The file z2jh's hub.extraFiles mounts next to jupyterhub_config.py (importable as `xnat_jupyterhub`)."""

MOUNT_PATH = "/usr/local/etc/jupyterhub/xnat_jupyterhub.py"
"""Beside z2jh's /usr/local/etc/jupyterhub/jupyterhub_config.py, which puts its own folder first on sys.path."""

AUTHENTICATOR_CLASS = "xnat_jupyterhub.XnatAuthenticator"

HUB_EXTRA_CONFIG = "import xnat_jupyterhub\nc.KubeSpawner.pre_spawn_hook = xnat_jupyterhub.pre_spawn_hook\n"
"""The `hub.extraConfig` snippet that hooks the spawn (a function cannot be set from hub.config's YAML)."""
