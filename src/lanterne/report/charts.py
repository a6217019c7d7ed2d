"""Charts as inline SVG: no script, no network, they print and open from disk.

Every label is escaped: company and site names come from lists and scanned pages.
"""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = {"bar": "#b3362b", "bar_muted": "#8a8f98", "grid": "#d9dce1", "text": "#1d2129", "cell": "#b3362b"}


def _chart_start(width: int, height: int, title: str, heading_y: int | None = 18) -> list[str]:
    """The opening of every chart: an accessible SVG element named by its title, and the title as a heading."""
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if heading_y is not None:
        parts.append(f'<text x="0" y="{heading_y}" font-size="14" font-weight="bold" fill="{PALETTE["text"]}">{escape(title)}</text>')
    return parts


def bar_chart(rows: list[tuple[str, int, int]], title: str, unit_label: str, width: int = 720) -> Markup:
    """Horizontal bars: (label, count, total) per row, drawn as the share count/total."""
    if not rows:
        return Markup("")
    label_w, bar_w, row_h, top = 230, width - 230 - 90, 24, 34
    height = top + row_h * len(rows) + 10
    parts = _chart_start(width, height, title)
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
    parts = _chart_start(width, height, title, heading_y=None)  # the column labels take the heading's place
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


def forest_plot(rows: list[tuple[str, float, float, float, str]], title: str, reference: str = "1") -> Markup:
    """Estimates with 95% intervals on a log scale: (label, estimate, low, high, group) per row."""
    import math

    rows = [r for r in rows if all(math.isfinite(v) and v > 0 for v in r[1:4])]
    if not rows:
        return Markup("")
    label_w, plot_w, row_h, top = 230, 420, 22, 40
    width = label_w + plot_w + 150
    height = top + row_h * len(rows) + 36
    lo = min(min(r[2] for r in rows), 0.8)
    hi = max(max(r[3] for r in rows), 1.25)
    lmin, lmax = math.log(lo) - 0.1, math.log(hi) + 0.1

    def x(value: float) -> float:
        return label_w + (math.log(value) - lmin) / (lmax - lmin) * plot_w

    parts = [
        *_chart_start(width, height, title),
        f'<line x1="{x(1):.1f}" y1="{top - 8}" x2="{x(1):.1f}" y2="{height - 28}" stroke="{PALETTE["bar_muted"]}" stroke-dasharray="4 3"/>',
    ]
    for tick in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200):
        if lmin <= math.log(tick) <= lmax:
            parts.append(f'<text x="{x(tick):.1f}" y="{height - 10}" font-size="11" text-anchor="middle" fill="{PALETTE["text"]}">{tick:g}</text>')
    colours = {"sensitive": PALETTE["bar"], "placebo": "#c98a1b", "control": "#2b7a4b", "model": "#1d2129"}
    for i, (label, est, low, high, group) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        colour = colours.get(group, PALETTE["text"])
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end" fill="{PALETTE["text"]}">{escape(label)}</text>')
        parts.append(f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<rect x="{x(est) - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"><title>{escape(label)}: '
                     f'{est:.2f} [{low:.2f}, {high:.2f}]</title></rect>')
        parts.append(f'<text x="{label_w + plot_w + 8}" y="{y + 4:.1f}" font-size="11" fill="{PALETTE["text"]}">{est:.2f} [{low:.2f}–{high:.2f}]</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def survival_chart(series: list[tuple[str, list[tuple[float, float]]]], title: str, x_label: str) -> Markup:
    """Kaplan-Meier step curves, one per topic: share of items still available against days."""
    series = [(name, points) for name, points in series if points]
    if not series:
        return Markup("")
    width, height, left, top, plot_w, plot_h = 720, 320, 50, 30, 480, 240
    max_day = max(max(t for t, _ in points) for _, points in series) or 1.0
    palette = ["#b3362b", "#1f5fa8", "#2b7a4b", "#c98a1b", "#6b4c9a", "#5d6470", "#0f8b8d", "#a4336e"]

    def px(day: float, share: float) -> tuple[float, float]:
        return left + day / max_day * plot_w, top + (1 - share) * plot_h

    parts = [
        *_chart_start(width, height + 30, title, heading_y=16),
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{PALETTE["grid"]}"/>',
    ]
    for share in (0, 0.25, 0.5, 0.75, 1):
        _, y = px(0, share)
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{share * 100:.0f}%</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 28}" font-size="12" text-anchor="middle">{escape(x_label)}</text>')
    for i, (name, points) in enumerate(series):
        colour = palette[i % len(palette)]
        path, last_share = [], 1.0
        for day, share in points:
            x1, y_prev = px(day, last_share)
            _, y_new = px(day, share)
            path.append(f"L{x1:.1f},{y_prev:.1f} L{x1:.1f},{y_new:.1f}")
            last_share = share
        x_end, y_end = px(max_day, last_share)
        x0, y0 = px(0, 1.0)
        parts.append(f'<path d="M{x0:.1f},{y0:.1f} {" ".join(path)} L{x_end:.1f},{y_end:.1f}" fill="none" stroke="{colour}" stroke-width="2"><title>{escape(name)}</title></path>')
        parts.append(f'<text x="{left + plot_w + 10}" y="{top + 14 + i * 16}" font-size="12" fill="{colour}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
