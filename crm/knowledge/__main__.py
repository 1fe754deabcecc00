"""`python -m crm.knowledge load [DIR]`: validate the knowledge base and load it into the db."""

from __future__ import annotations

import argparse
import sys

from crm.config import get_settings
from crm.db import session_scope
from crm.errors import KnowledgeBaseError
from crm.knowledge.loader import load_knowledge_base
from crm.knowledge.service import LoadSummary, replace_all


def main(argv: list[str] | None = None) -> int:
    """Entry point of the knowledge-base command."""
    parser = argparse.ArgumentParser(prog="python -m crm.knowledge")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("load", "check"):
        cmd = sub.add_parser(name, help=f"{name} the knowledge base")
        cmd.add_argument("directory", nargs="?", default=get_settings().knowledge_base_dir)
    args = parser.parse_args(argv)
    print(f"knowledge base: reading {args.directory} ...", flush=True)
    try:
        kb = load_knowledge_base(args.directory)
    except KnowledgeBaseError as exc:
        print(f"knowledge base: invalid: {exc}", file=sys.stderr)
        return 1
    print(
        f"knowledge base: valid ({len(kb.faqs)} FAQs, {len(kb.products)} products, "
        f"{len(kb.stores)} stores, {len(kb.rules)} rules)",
        flush=True,
    )
    if args.command == "load":
        with session_scope() as session:
            summary = replace_all(session, kb)
        print("knowledge base: loaded into the database", flush=True)
        report_backoffice_work(summary)
    return 0


def report_backoffice_work(summary: LoadSummary) -> None:
    """Say what the load did with FAQs created or edited in the back office."""
    if summary.backoffice_kept:
        print(f"knowledge base: kept {summary.backoffice_kept} FAQs created in the back office")
    if summary.edits_kept:
        print(f"knowledge base: kept back-office edits of {', '.join(summary.edits_kept)}")
    if summary.edits_replaced:
        replaced = ", ".join(summary.edits_replaced)
        print(
            "knowledge base: faq.yml changed or dropped these FAQs after they were edited in the "
            f"back office, so the file's version replaced the edit: {replaced}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(main())
