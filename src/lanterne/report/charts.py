"""Charts as inline SVG: no script, no network, they print and open from disk.

Every label is escaped: company and site names come from lists and scanned pages.
"""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = {"bar": "#b3362b", "bar_muted": "#8a8f98", "grid": "#d9dce1", "text": "#1d2129", "cell": "#b3362b"}


def bar_chart(rows: list[tuple[str, int, int]], title: str, unit_label: str, width: int = 720) -> Markup:
    """Horizontal bars: (label, count, total) per row, drawn as the share count/total."""
    if not rows:
        return Markup("")
    label_w, bar_w, row_h, top = 230, width - 230 - 90, 24, 34
    height = top + row_h * len(rows) + 10
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" font-size="14" font-weight="bold" fill="{PALETTE["text"]}">{escape(title)}</text>',
    ]
    for tick in (0, 25, 50, 75, 100):
        x = label_w + bar_w * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 8}" stroke="{PALETTE["grid"]}"/>')
    for i, (label, count, total) in enumerate(rows):
        y = top + i * row_h
        share = count / total if total else 0
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end" fill="{PALETTE["text"]}">'
            f"{escape(short)}<title>{escape(label)}</title></text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(bar_w * share, 1):.1f}" height="{row_h - 8}" '
            f'fill="{PALETTE["bar"]}"><title>{escape(label)}: {count}/{total} {escape(unit_label)}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + bar_w * share + 6:.1f}" y="{y + 16}" font-size="12" fill="{PALETTE["text"]}">'
            f"{share * 100:.0f}% ({count}/{total})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def matrix_chart(
    rows: list[str], columns: list[str], cells: set[tuple[str, str]], title: str, yes: str = "yes", no: str = "no"
) -> Markup:
    """A site x company grid: a filled cell where the site sends data to the company."""
    if not rows or not columns:
        return Markup("")
    label_w, cell = 220, 22
    longest = max(min(len(c), 22) for c in columns)
    top = 20 + int(longest * 6.5 * 0.82)  # room for the column labels, written at an angle
    width = label_w + cell * len(columns) + int(longest * 6.5 * 0.57) + 10
    height = top + cell * len(rows) + 10
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for j, column in enumerate(columns):
        x = label_w + j * cell + cell / 2
        short = column if len(column) <= 22 else column[:21] + "…"
        parts.append(
            f'<text transform="translate({x + 4:.1f},{top - 6}) rotate(-55)" font-size="11" fill="{PALETTE["text"]}">'
            f"{escape(short)}<title>{escape(column)}</title></text>"
        )
    for i, row in enumerate(rows):
        y = top + i * cell
        short = row if len(row) <= 30 else row[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="11" text-anchor="end" fill="{PALETTE["text"]}">'
            f"{escape(short)}<title>{escape(row)}</title></text>"
        )
        for j, column in enumerate(columns):
            filled = (row, column) in cells
            parts.append(
                f'<rect x="{label_w + j * cell + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{PALETTE["cell"] if filled else "#f1f2f4"}"><title>{escape(row)} → {escape(column)}: '
                f'{escape(yes if filled else no)}</title></rect>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
