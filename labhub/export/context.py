"""The files of a paper's docker build context, as text: two Dockerfiles and their configuration.

Two images per paper (Spyglass's export-docker repository, rebuilt):

* the notebook image: the paper's conda environment (`environment.yml`, as
  Spyglass exported it) as a Jupyter kernel on top of the Jupyter stack's
  base-notebook, so JupyterHub's single-user server still runs from the base
  environment; no password (the hub authenticates; the original set the
  Jupyter password to the paper ID);
* the database image: the MySQL image with the cleaned SQL in
  /docker-entrypoint-initdb.d, which the official entrypoint loads exactly
  once, when it initialises an empty data directory (the original's wrapper
  re-ran every file on every start). No password in the image: the root
  password is the container's environment at run time, from a Secret.
"""

from __future__ import annotations

import json

DEFAULT_NOTEBOOK_BASE = "quay.io/jupyter/base-notebook:2025-10-20"  # the same Jupyter stack date as the hub's image
DEFAULT_DATABASE_BASE = "datajoint/mysql:8.0"
KERNEL = "paper"  # the conda environment's name inside the image, whatever environment.yml calls it

NOTEBOOK_DOCKERFILE = """\
# The paper's conda environment as the default Jupyter kernel (labhub export prepare).
FROM {base}
COPY --chown=${{NB_UID}}:${{NB_GID}} environment.yml /tmp/paper-environment.yml
RUN mamba env create --yes --name {kernel} --file /tmp/paper-environment.yml \\
 && (/opt/conda/envs/{kernel}/bin/python -c "import ipykernel" || mamba install --yes --name {kernel} ipykernel) \\
 && /opt/conda/envs/{kernel}/bin/python -m ipykernel install --prefix /opt/conda --name {kernel} --display-name {display} \\
 && mamba clean --all --force-pkgs-dirs --yes \\
 && rm /tmp/paper-environment.yml
COPY jupyter_server_config.py /etc/jupyter/jupyter_server_config.d/labhub_paper.py
"""

JUPYTER_CONFIG = """\
# The paper's environment is the kernel a new notebook gets (labhub export prepare).
c.MappingKernelManager.default_kernel_name = {kernel}
"""

DATABASE_DOCKERFILE = """\
# MySQL preloaded with the paper's cleaned export; loaded once, when the data directory is initialised.
# No password here: MYSQL_ROOT_PASSWORD comes from a Secret at run time.
FROM {base}
COPY mysqld.cnf /etc/mysql/conf.d/labhub-paper.cnf
COPY initdb/ /docker-entrypoint-initdb.d/
"""

MYSQLD_CNF = """\
# labhub export prepare: the server defaults the cleaned SQL relies on (its charset clauses were removed).
[mysqld]
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
max_allowed_packet = 512M
innodb_file_per_table = 1
innodb_default_row_format = dynamic

[client]
default-character-set = utf8mb4
max_allowed_packet = 512M
"""


def notebook_dockerfile(base: str, display_name: str) -> str:
    return NOTEBOOK_DOCKERFILE.format(base=base, kernel=KERNEL, display=json.dumps(display_name))


def jupyter_config() -> str:
    return JUPYTER_CONFIG.format(kernel=json.dumps(KERNEL))


def database_dockerfile(base: str) -> str:
    return DATABASE_DOCKERFILE.format(base=base)
