"""The Unicode font embedded in every PDF: DejaVu Sans, found where the system keeps it.

PDF's 14 built-in fonts only cover Latin-1, and patient names, site names and labels come in
every script. DejaVu Sans covers Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and
Arabic; it is not copied into this repository: Debian ships it as ``fonts-dejavu-core``
(which ``.ci/run`` installs) and other systems in their own font folders, and matplotlib's
wheel carries it too, so any of those is used. Not covered: CJK scripts (DejaVu has no
ideographs; such characters come out as blanks, and fpdf2 logs which glyphs were missing).

Without any of them the PDF is still produced, in the built-in Helvetica, with characters
outside Latin-1 replaced by ``?`` (and a warning in the server log), rather than failing the
request.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger("localcap")

REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"

#: Where systems keep DejaVu (Debian/Ubuntu, Fedora, Arch/Alpine, BSD, macOS with Homebrew).
SYSTEM_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts/dejavu",
    "/usr/local/share/fonts",
    "/opt/homebrew/share/fonts",
)
#: Set to a folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf to use those files.
ENV_DIR = "LOCALCAP_PDF_FONT_DIR"


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


def _candidate_dirs() -> list[Path]:
    dirs = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    dirs += [Path(d) for d in SYSTEM_DIRS]
    try:  # matplotlib's wheel ships DejaVu Sans; used only if it happens to be installed
        import matplotlib  # type: ignore[import-not-found]

        dirs.append(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf")
    except ImportError:
        pass
    return dirs


@cache
def find_fonts() -> FontFiles | None:
    """The first folder holding both DejaVu Sans files, or None (logged once)."""
    for folder in _candidate_dirs():
        regular, bold = folder / REGULAR, folder / BOLD
        if regular.is_file() and bold.is_file():
            return FontFiles(regular, bold)
    log.warning(
        "No DejaVu Sans font found (install fonts-dejavu-core, or set %s): PDFs use "
        "Helvetica and show characters outside Latin-1 as '?'",
        ENV_DIR,
    )
    return None
