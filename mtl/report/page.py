"""The report as one self-contained HTML page: tables written here, charts (charts.py) drawn by vega-embed, whose
JavaScript (Vega, Vega-Lite, vega-embed: vl-convert's bundle) is inlined once, so the page opens offline from
any folder and loads nothing from the network. The same bundle makes `dvc plots show`'s page (plots_template).

When every chart has drawn, <body data-charts="ready"> (or "failed", with the error on the console): what a
browser test waits for.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from pathlib import Path

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1240px; padding: 0 20px 40px; color: #222; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
nav a { margin-right: 14px; } .muted { color: #666; } .note { background: #fff8e1; padding: 6px 10px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.inconclusive { color: #ef6c00; font-weight: 600; } .chart { margin: 10px 0 18px; }
section.task { border-left: 4px solid #90caf9; padding-left: 14px; margin-top: 24px; }
.row { display: flex; flex-wrap: wrap; gap: 4px 28px; align-items: flex-start; }
"""

RENDER = """
const specs = JSON.parse(document.getElementById('chart-specs').textContent);
Promise.all(Object.entries(specs).map(([id, spec]) =>
  vegaEmbed('#' + id, spec, {renderer: 'svg', actions: false})))
  .then(() => { document.body.dataset.charts = 'ready'; })
  .catch((error) => { console.error('chart failed:', error); document.body.dataset.charts = 'failed'; });
"""


@cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script that sets window.vegaEmbed (vl-convert ships them). Bundling
    takes ~2 s, so the script is kept in the user's cache folder, one file per vl-convert version."""
    import vl_convert

    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mtl"
    cached = folder / f"vega-bundle-{version('vl-convert-python')}.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(cached)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        pass  # a read-only home: bundle again next time
    return bundle


def plots_template() -> str:
    """`dvc plots show`'s HTML template ({plot_divs} is DVC's placeholder) with Vega inlined instead of DVC's
    CDN links, so its page draws offline."""
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>DVC plots</title>\n"
            f"<script>{vega_bundle()}</script>\n<style>{STYLE}</style>\n</head>\n<body>\n{{plot_divs}}\n</body>\n</html>\n")


@dataclass
class Page:
    """Sections of HTML in order, and the chart specs their placeholders name."""

    title: str
    parts: list[str] = field(default_factory=list)
    specs: dict[str, dict] = field(default_factory=dict)

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def chart(self, spec: dict, name: str) -> None:
        ident = f"chart-{len(self.specs) + 1}"
        self.specs[ident] = spec
        self.parts.append(f'<div class="chart" id="{ident}" data-chart="{esc(name)}"></div>')

    def render(self) -> str:
        specs = json.dumps(self.specs, ensure_ascii=False).replace("</", "<\\/")  # no "</script>" inside the data
        return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{esc(self.title)}</title>\n"
                f"<style>{STYLE}</style>\n<script>{vega_bundle()}</script>\n</head>\n<body>\n" + "\n".join(self.parts)
                + f"\n<script type=\"application/json\" id=\"chart-specs\">{specs}</script>\n<script>{RENDER}</script>\n"
                "</body>\n</html>\n")


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def number(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    """An HTML table. Cells are HTML (escape text with esc()); the columns in `numeric` are escaped here and
    right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="num">{esc(cell)}</td>' if i in numeric else f"<td>{cell}</td>"
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def verdict(value: str | None) -> str:
    return f'<span class="{esc(value)}">{esc(value)}</span>' if value else "-"
