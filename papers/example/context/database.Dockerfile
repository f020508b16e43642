# MySQL preloaded with the paper's cleaned export; loaded once, when the data directory is initialised.
# No password here: MYSQL_ROOT_PASSWORD comes from a Secret at run time.
FROM datajoint/mysql:8.0
COPY mysqld.cnf /etc/mysql/conf.d/labhub-paper.cnf
COPY initdb/ /docker-entrypoint-initdb.d/
