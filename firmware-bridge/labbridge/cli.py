"""The `labbridge` command: run the bridge, or print what each device last did."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from labbridge import __version__
from labbridge.agent import Agent
from labbridge.config import ConfigError, load_config
from labbridge.database import DatabaseMissing
from labbridge.status import format_report, read_report

EXIT_CONFIG = 2
EXIT_NO_STATE = 1


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``labbridge --config FILE [run|status]`` and ``--version``."""
    parser = argparse.ArgumentParser(
        prog="labbridge",
        description="Edge bridge: serial devices and Bambu printers to the lab's MQTT broker.",
    )
    parser.add_argument("--version", action="version", version=f"labbridge {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="the bridge's TOML file (see bridge.toml.example)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log (default INFO)",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "status"],
        help="run the bridge (default), or print each device's last activity",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; the exit status."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"labbridge: config error: {exc}\n")
        return EXIT_CONFIG
    if args.command == "status":
        return _status(config.outbox_path)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        """Signal handler: ask the agent to stop."""
        logging.getLogger(__name__).info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    Agent(config).run(stop)
    return 0


def _status(path: Path) -> int:
    """Print the status report; the exit status."""
    try:
        report = read_report(path)
    except DatabaseMissing:
        sys.stderr.write(
            f"labbridge: no state at {path}: the bridge has not run with this config\n"
        )
        return EXIT_NO_STATE
    sys.stdout.write(format_report(report))
    return 0
