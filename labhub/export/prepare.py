"""`labhub export prepare`: a Spyglass paper export -> a docker build context for its two images.

Input: the export directory Spyglass writes (`environment.yml` and the
`.sql` files its dump script produced). Output: `--out CONTEXT` holding

    notebook.Dockerfile, environment.yml, jupyter_server_config.py
    database.Dockerfile, mysqld.cnf, initdb/NN-<file>.sql (cleaned, in the export's order)
    labhub-export.json  (what was cleaned: per file, bytes and clauses)

The SQL is streamed through `sqlclean.clean_sql` (exports run to
gigabytes). The context is built in a hidden sibling directory and renamed
into place only when complete, so a failure or an interrupt never leaves a
half-written context where a build would pick it up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from labhub.errors import UserError
from labhub.export import context
from labhub.export.sqlclean import CleanStats, DumpFormatError, clean_sql

_PAPER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
BUFFER = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--export-dir", type=Path, required=True, help="Spyglass's export directory: environment.yml and the .sql files")
    parser.add_argument("--out", type=Path, required=True, help="build context to create (must not exist unless --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.add_argument(
        "--shorten-varchars", action="store_true", help="apply the varchar shortenings of Spyglass's Export docs (exports from pre-0.4.3 databases)"
    )
    parser.add_argument("--notebook-base", default=context.DEFAULT_NOTEBOOK_BASE, help="base image of the notebook image")
    parser.add_argument("--database-base", default=context.DEFAULT_DATABASE_BASE, help="base image of the database image (an official-mysql-based image)")


def read_environment(path: Path) -> str:
    """The conda environment's name (Spyglass sets it to the paper ID), checked so it is safe in a Dockerfile."""
    try:
        environment = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing: the export directory must hold Spyglass's environment.yml") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UserError(f"{path} is not a readable YAML file: {type(error).__name__}") from None
    if not isinstance(environment, dict) or not isinstance(environment.get("dependencies"), list):
        raise UserError(f"{path} is not a conda environment file (no 'dependencies' list)")
    name = str(environment.get("name", ""))
    if not _PAPER_ID.fullmatch(name):
        raise UserError(f"{path}: environment name {name!r} must be 1-63 letters, digits, '.', '_' or '-' (Spyglass names it after the paper)")
    return name


def sql_files(export_dir: Path) -> list[Path]:
    files = sorted(p for p in export_dir.iterdir() if p.suffix == ".sql" and p.is_file())
    if not files:
        raise UserError(f"{export_dir} holds no .sql file: run the export's dump script first (Spyglass's _ExportSQL_*.sh)")
    return files


def build(export_dir: Path, target: Path, args: argparse.Namespace) -> dict:
    """Write the whole context into `target` (a fresh directory); return the manifest."""
    paper = read_environment(export_dir / "environment.yml")
    shutil.copyfile(export_dir / "environment.yml", target / "environment.yml")
    (target / "notebook.Dockerfile").write_text(context.notebook_dockerfile(args.notebook_base, paper))
    (target / "jupyter_server_config.py").write_text(context.jupyter_config())
    (target / "database.Dockerfile").write_text(context.database_dockerfile(args.database_base))
    (target / "mysqld.cnf").write_text(context.MYSQLD_CNF)
    (target / "initdb").mkdir()
    files = []
    sources = sql_files(export_dir)
    width = len(str(len(sources)))
    for number, source in enumerate(sources, start=1):
        output = f"initdb/{number:0{width}d}-{source.name}"
        with source.open("rb", buffering=BUFFER) as src, (target / output).open("wb", buffering=BUFFER) as dst:
            try:
                stats: CleanStats = clean_sql(src, dst, shorten_varchars=args.shorten_varchars)
            except DumpFormatError as error:
                raise UserError(f"{source}: {error}") from None
        files.append({"source": source.name, "output": output, **vars(stats)})
    manifest = {"paper": paper, "shortenVarchars": args.shorten_varchars, "files": files}
    (target / "labhub-export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def run(args: argparse.Namespace) -> int:
    export_dir, out = args.export_dir, args.out
    if not export_dir.is_dir():
        raise UserError(f"--export-dir {export_dir} is not a directory")
    if out.exists() and not args.force:
        raise UserError(f"--out {out} already exists: remove it or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest = build(export_dir, staging, args)
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; a build context is not secret
        if out.exists():  # --force: swap, then drop the old one
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, old / "context")
            os.rename(staging, out)
            shutil.rmtree(old)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    removed = sum(f["clauses_removed"] for f in manifest["files"])
    shortened = sum(f["columns_shortened"] for f in manifest["files"])
    print(f"wrote {out}: {len(manifest['files'])} SQL file(s), {removed} charset/collation clause(s) removed, {shortened} column(s) shortened")
    return 0
