"""``python -m zoo.studio [runs_dir=runs] [host=127.0.0.1] [port=7860]``: serve genzoo studio.

Same option syntax as ``train.py`` and ``compare.py`` (``conf/studio.yaml``). Binds to 127.0.0.1
unless told otherwise and makes no public share link unless ``share=true``; everything it writes
(uploads, GIFs, copies of reports) goes into one temporary folder, removed when it stops: by Ctrl-C,
by SIGTERM (``kill``, a service manager) or at its end.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import Field

from zoo.commands import parse_config
from zoo.errors import ZooError
from zoo.options import Options
from zoo.signals import interrupt_on_sigterm


class StudioOptions(Options):
    """``conf/studio.yaml``."""

    runs_dir: str = "runs"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 7860
    share: bool = False
    device: str = "auto"
    data_root: str | None = None
    max_upload_mb: Annotated[int, Field(ge=1, le=1000)] = 10


def serve(options: StudioOptions, block: bool = True):
    """Start the page; with ``block`` False return ``(page, url)`` and leave it running."""
    scratch = Path(tempfile.mkdtemp(prefix="genzoo-studio-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    os.environ["GRADIO_TEMP_DIR"] = str(scratch / "gradio")  # uploads land here, nowhere else
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    from zoo.logs import setup_logging
    from zoo.studio.actions import Studio
    from zoo.studio.catalogue import Catalogue
    from zoo.studio.page import CSS, THEME, build_page
    from zoo.trainer import pick_device

    setup_logging()  # the server's log: where a bug's traceback goes (the page only says so)
    if not Path(options.runs_dir).is_dir():
        raise ZooError(f"runs_dir={options.runs_dir} is not a folder; train a model first or pass runs_dir=<folder>")
    catalogue = Catalogue(options.runs_dir, pick_device(options.device), options.data_root)
    page = build_page(Studio(catalogue, scratch / "studio"))
    try:
        _, url, _ = page.launch(
            server_name=options.host,
            server_port=options.port,
            share=options.share,
            max_file_size=f"{options.max_upload_mb}mb",
            prevent_thread_lock=not block,
            theme=THEME,
            css=CSS,
            quiet=not block,
            footer_links=[],
        )
    except OSError as e:  # the port is taken
        raise ZooError(f"cannot serve on {options.host}:{options.port}: {e}; pass another port=") from None
    finally:
        if block:  # Gradio returns once Ctrl-C or SIGTERM closed the server: the uploads go now
            shutil.rmtree(scratch, ignore_errors=True)
    return page, url


def main(argv: list[str] | None = None) -> int:
    interrupt_on_sigterm()  # SIGTERM takes Ctrl-C's way out, which removes the temporary folder
    try:
        options = parse_config("studio", StudioOptions, sys.argv[1:] if argv is None else argv)
        print(f"genzoo studio: runs under {options.runs_dir}, on http://{options.host}:{options.port}")
        serve(options)
    except ZooError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the server was up; atexit removes the temporary folder
        print("interrupted; the studio stopped", file=sys.stderr)
        return 130
    print("the studio stopped; its temporary folder (uploads, GIFs) was removed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
