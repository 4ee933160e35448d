"""`digest send|preview`: the watchlists' e-mails, sent when due or written out to look at."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import UsageError
from models.vocabulary import load_vocabulary
from pipeline.cli.arguments import SuggestingParser, watchlist_name
from pipeline.cli.base import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, Context, open_database
from pipeline.cli.cron import load_cron
from pipeline.cli.watchlist import watchlists_file, watchlists_file_option
from pipeline.config.cron import CronFile
from pipeline.config.settings import MAIL_VARIABLES, SmtpSettings, environment
from pipeline.config.watchlists import Watchlist, load_watchlists

if TYPE_CHECKING:
    from .base import Subcommands


def register(commands: Subcommands, common: SuggestingParser) -> None:
    """`digest` and its actions."""
    digest = commands.add_parser("digest", help="send the due digest e-mails, or preview one")
    actions = digest.add_subparsers(dest="digest_command", metavar="ACTION", required=True)
    cron_option = SuggestingParser(add_help=False)
    cron_option.add_argument(
        "--cron", type=Path, default=Path("cron.yaml"), metavar="PATH", help="default: cron.yaml"
    )
    parents = [common, watchlists_file_option(), cron_option]
    sending = actions.add_parser(
        "send", parents=parents, help="send every due digest once (all watchlists, or --watchlist)"
    )
    sending.add_argument(
        "--watchlist", type=watchlist_name, action="append", default=[], metavar="NAME"
    )
    sending.add_argument("--dry-run", action="store_true", help="build the digests, send nothing")
    settle = sending.add_mutually_exclusive_group()
    settle.add_argument(
        "--resend-unconfirmed",
        dest="unconfirmed",
        action="store_const",
        const="resend",
        help="the digests listed as unconfirmed did not arrive: send them again (same Message-ID)",
    )
    settle.add_argument(
        "--dismiss-unconfirmed",
        dest="unconfirmed",
        action="store_const",
        const="dismiss",
        help="the digests listed as unconfirmed did arrive: mark them sent",
    )
    sending.set_defaults(handler=command_digest_send, reads=MAIL_VARIABLES, mails=True)
    previewing = actions.add_parser(
        "preview",
        parents=parents,
        help="write the digest a watchlist would send now as .eml and .html",
    )
    previewing.add_argument("--watchlist", type=watchlist_name, required=True, metavar="NAME")
    previewing.add_argument(
        "--out",
        type=Path,
        default=Path("digest-preview"),
        metavar="DIR",
        help="default: digest-preview",
    )
    previewing.set_defaults(handler=command_digest_preview, reads=MAIL_VARIABLES, mails=True)


def _chosen_watchlists(
    args: argparse.Namespace, context: Context
) -> tuple[list[Watchlist], CronFile, SmtpSettings]:
    """The watchlists to send (all, or --watchlist), with `${VAR}` filled in; the schedule; SMTP."""
    path = watchlists_file(args, context.settings)
    variables = environment()
    # Sending and previewing fill in `${VAR}` recipients; listing and editing never need them.
    watchlists = load_watchlists(path, load_vocabulary(), variables)
    cron = load_cron(args.cron, context)
    for item in watchlists:
        cron.job(item.schedule)  # a schedule that is not a cron.yaml job is an error now
    chosen = getattr(args, "watchlist", None)
    if chosen:
        names = [chosen] if isinstance(chosen, str) else chosen
        unknown = [name for name in names if name not in {w.name for w in watchlists}]
        if unknown:
            known = ", ".join(w.name for w in watchlists)
            raise UsageError(f"no watchlist {unknown[0]!r} in {path}; known: {known}")
        watchlists = [w for w in watchlists if w.name in names]
    return watchlists, cron, SmtpSettings.from_environment(variables)


def command_digest_send(args: argparse.Namespace, context: Context) -> int:
    """Send every due digest at most once; a failed one stays pending for the next run."""
    # The job flows load spaCy: only the commands that run them import them.
    from pipeline.flows.digests import send_digests

    watchlists, cron, smtp = _chosen_watchlists(args, context)
    with open_database(context.settings) as database:
        summary = send_digests(
            database.sessions,
            watchlists,
            cron,
            smtp,
            datetime.now(UTC),
            args.dry_run,
            context.settings.unsubscribe_url,
            args.unconfirmed,
        )
    verb = "would send" if args.dry_run else "sent"
    lines = [f"{verb} {len(summary.sent)} digest(s), {len(summary.failed)} failed (kept pending)"]
    lines += [f"  {verb}: {label}" for label in summary.sent]
    lines += [f"  failed: {label}" for label in summary.failed]
    lines += [f"  unconfirmed: {label}" for label in summary.unconfirmed]
    if summary.unconfirmed:
        lines.append(
            "  an unconfirmed digest may or may not have arrived: ask its recipient, then run "
            "`newstrack digest send --resend-unconfirmed` (it did not) or --dismiss-unconfirmed"
        )
    context.summary(asdict(summary), "\n".join(lines))
    if summary.failed:
        return EXIT_PARTIAL if summary.sent else EXIT_FAILURE
    return EXIT_PARTIAL if summary.unconfirmed else EXIT_OK


def command_digest_preview(args: argparse.Namespace, context: Context) -> int:
    """Write the digest a watchlist would send now, as .eml and .html, and print their paths."""
    from pipeline.delivery.message import standalone_html
    from pipeline.flows.digests import preview_digest

    [watchlist], cron, smtp = _chosen_watchlists(args, context)
    # an older schema is brought up to date; none is never created
    with open_database(context.settings, existing=True) as database:
        message = preview_digest(
            database.sessions,
            watchlist,
            cron,
            smtp,
            datetime.now(UTC),
            context.settings.unsubscribe_url,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    eml = _inside(args.out, f"{watchlist.name}.eml")
    eml.write_bytes(bytes(message))
    html = _inside(args.out, f"{watchlist.name}.html")
    html.write_text(standalone_html(message), encoding="utf-8")  # the chart inlined
    print(f"{eml}\n{html}")
    return EXIT_OK


def _inside(folder: Path, file_name: str) -> Path:
    """A file directly in a folder, links resolved; a name that would lead elsewhere is an error."""
    resolved_folder = folder.resolve()
    path = (resolved_folder / file_name).resolve()
    if path.parent != resolved_folder:
        raise UsageError(f"{file_name!r} would be written outside {folder}: refused")
    return folder / file_name
