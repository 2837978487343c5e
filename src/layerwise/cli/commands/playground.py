"""``layerwise playground``: a local web app to touch backpropagation (graphs, a digit, training).

Serves on 127.0.0.1 (a free port unless ``--port``), prints the address and opens the browser
(not with ``--no-browser``). ``--host`` serves on another interface, with a warning: anyone who
can reach it can use the page. Needs the extra: ``pip install "layerwise[playground]"``.

Exit codes: 0 stopped normally; 1 the extra is missing or ``--model`` cannot be used; 2 a
usage error (a port out of range or in use, a ``--save-dir`` that is not a writable folder);
130 stopped by Ctrl-C, the usual way to end it (models saved by the page stay intact).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "layerwise[playground]"'


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "playground", help="a web app in the browser: graphs, a digit and its backward pass, training",
        description="Start a local web app: the chapter-5 graphs with editable inputs, a digit to draw "
                    "and its backward trace, and training with live curves. Everything is computed "
                    "by layerwise and served from this machine.")
    p.add_argument("--model", metavar="MODEL", help="a model file (from `layerwise train --save`) for the "
                   "digit page; default: a small conv net trained on mnist-sample at start (a second)")
    p.add_argument("--port", type=int, default=0, metavar="N", help="the port (default: a free one)")
    p.add_argument("--host", default=None, metavar="H",
                   help="listen on H instead of 127.0.0.1 (others on the network can then use it)")
    p.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")
    p.add_argument("--save-dir", default=".", metavar="DIR",
                   help="the folder where the training page saves models (default: the current one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from layerwise.cli.commands.common import fail, warn
    from layerwise.errors import ConfigError

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        return fail(f"the playground needs its extra ({exc.name} is missing): {INSTALL_HINT}")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port: expected 0..65535 (0: a free port), got {args.port}")
    save_dir = Path(args.save_dir)
    if not save_dir.is_dir():
        raise ConfigError(f"--save-dir {save_dir}: not an existing folder")
    from layerwise.files.fileio import check_writable

    try:
        check_writable(save_dir / "playground-probe.safetensors", "--save-dir")
    except OSError as exc:
        raise ConfigError(str(exc)) from None

    # The playground trains, so the engine is on (kernels, threads), as it says at start.
    from layerwise.fast import switch, training
    from layerwise.playground.digits import DigitModel, check_digit_network
    from layerwise.playground.server import Playground, create_app, is_loopback

    switch.enable()
    model = DigitModel()
    if args.model is not None:
        from layerwise.files.model_files import load_model

        net = load_model(args.model)  # DataError: exit 1, naming the file
        check_digit_network(net, args.model)
        model = DigitModel(net, f"{type(net).__name__} from {args.model}")
    host = args.host if args.host is not None else "127.0.0.1"
    loopback = is_loopback(host)
    app = create_app(model, save_dir, trusted_hosts=None if loopback else ["*"])
    try:
        server = Playground(app, host, args.port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host} port {args.port}: {exc.strerror or exc}") from None
    if not loopback:
        warn(f"listening on {server.host} port {server.port}, not only on this computer: ANYONE who can "
             "reach it can use the playground, run its models and save files in "
             f"{save_dir.resolve()}. Leave out --host to keep it on 127.0.0.1.")
    print(f"layerwise playground: {server.url}  (Ctrl-C to stop)", flush=True)
    print(f"engine: {training.describe()} (the same numbers as the book's code up to float rounding)",
          flush=True)
    if not args.no_browser:
        threading.Thread(target=_open_browser, args=(server.url,), daemon=True).start()
    server.serve()
    return 0


def _open_browser(url: str) -> None:
    import os
    import webbrowser

    # Without a display, Python's webbrowser falls back to text browsers (lynx, w3m) that
    # would take over this terminal: leave it to the printed address.
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not display:
        print(f"layerwise: no display to open a browser on; open {url}", file=sys.stderr)
        return
    try:
        opened = webbrowser.open(url)
    except Exception:  # webbrowser's own failures vary by platform
        opened = False
    if not opened:
        print(f"layerwise: could not open a browser; open {url}", file=sys.stderr)
