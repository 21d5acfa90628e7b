"""Build the wall screens' own font, assets/fonts/ioc-wall-sans-{regular,bold}.woff2, from Liberation Sans 2.

Why: a wall is sized for a narrow face ("97,4 %" must fit a seventh of the screen at figure size). A display
without Liberation Sans or Arial (a Linux kiosk with only DejaVu, as Debian's Chromium brings) set everything
wider and cut the tiles; served from the app, the face is the same on every wall and nothing is downloaded.

Source: Debian's fonts-liberation2 (/usr/share/fonts/truetype/liberation2/), Liberation Fonts 2.1,
Copyright (c) 2012 Red Hat, Inc., digitized data copyright (c) 2010 Google Corporation, SIL Open Font
License 1.1 (assets/fonts/OFL.txt). The OFL reserves the names "Liberation" and "Arimo" for unmodified
fonts: this is a modified version (subset to the characters Vietnamese and English screens use, WOFF2),
so it is renamed "IOC Wall Sans".

Run once and commit the output: ``apt-get install fonts-liberation2 && pip install fonttools brotli &&
python scripts/build_wall_font.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDER = Path("/usr/share/fonts/truetype/liberation2")
OUT_FOLDER = ROOT / "assets" / "fonts"
FAMILY = "IOC Wall Sans"
STYLES = {"regular": ("LiberationSans-Regular.ttf", "Regular"), "bold": ("LiberationSans-Bold.ttf", "Bold")}

# Latin, Vietnamese (precomposed letters and the combining marks of decomposed text), punctuation, currency, the
# triangles of the change notes (▲ ▼). The check and cross marks are not in Liberation: the system font draws them.
UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x100),
    0x102, 0x103, 0x110, 0x111, 0x128, 0x129, 0x168, 0x169, 0x1A0, 0x1A1, 0x1AF, 0x1B0,
    *range(0x300, 0x304), 0x309, 0x323,
    *range(0x1EA0, 0x1EFA),
    *range(0x2010, 0x2027), 0x2030, 0x2039, 0x203A, 0x20AB, 0x20AC, 0x2212, 0x25B2, 0x25BC,
]  # fmt: skip


def build(source_folder: Path, out_folder: Path) -> list[Path]:
    """Subset, rename and write each style as WOFF2; returns the files written."""
    out_folder.mkdir(parents=True, exist_ok=True)
    written = []
    for style, (file_name, subfamily) in STYLES.items():
        # The source's own timestamp, not today's: the same input gives the same bytes.
        font = TTFont(source_folder / file_name, recalcTimestamp=False)
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.drop_tables += ["FFTM"]  # FontForge's timestamps: nothing a browser reads
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=UNICODES)
        subsetter.subset(font)
        _rename(font, subfamily)
        out = out_folder / f"ioc-wall-sans-{style}.woff2"
        font.flavor = "woff2"
        font.save(out)
        written.append(out)
    return written


def _rename(font: TTFont, subfamily: str) -> None:
    """Family, full and PostScript names that do not use the reserved "Liberation" (OFL §3)."""
    postscript = f"{FAMILY.replace(' ', '')}-{subfamily}"
    names = {1: FAMILY, 3: f"{postscript};subset of Liberation Sans 2.1", 4: f"{FAMILY} {subfamily}", 6: postscript,
             16: FAMILY, 17: subfamily}  # fmt: skip
    table = font["name"]
    for record in list(table.names):
        if record.nameID in names or record.nameID == 21 or record.nameID == 22:
            table.removeNames(nameID=record.nameID)
    for name_id, text in names.items():
        table.setName(text, name_id, 3, 1, 0x409)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE_FOLDER, help="folder holding LiberationSans-*.ttf")
    parser.add_argument("--out", type=Path, default=OUT_FOLDER)
    args = parser.parse_args(argv)
    missing = [name for name, _ in STYLES.values() if not (args.source / name).exists()]
    if missing:
        print(f"error: {args.source} lacks {', '.join(missing)}: apt-get install fonts-liberation2", file=sys.stderr)
        return 1
    for path in build(args.source, args.out):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
