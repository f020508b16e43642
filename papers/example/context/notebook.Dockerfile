# The paper's conda environment as the default Jupyter kernel (labhub export prepare).
FROM quay.io/jupyter/base-notebook:2025-10-20
COPY --chown=${NB_UID}:${NB_GID} environment.yml /tmp/paper-environment.yml
RUN mamba env create --yes --name paper --file /tmp/paper-environment.yml \
 && (/opt/conda/envs/paper/bin/python -c "import ipykernel" || mamba install --yes --name paper ipykernel) \
 && /opt/conda/envs/paper/bin/python -m ipykernel install --prefix /opt/conda --name paper --display-name "example-paper" \
 && mamba clean --all --force-pkgs-dirs --yes \
 && rm /tmp/paper-environment.yml
COPY jupyter_server_config.py /etc/jupyter/jupyter_server_config.d/labhub_paper.py
