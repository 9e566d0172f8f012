"""The plain HTML pages a run folder holds (eval index, rollouts, run overview): one look, no assets.

Each page is a single file that opens from disk in any browser and links to its neighbours by
relative path, so a run folder copied elsewhere (or served by ``python -m http.server``) still reads.
"""

from __future__ import annotations

from html import escape

STYLE = """body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
table.numbers td, table.numbers th { text-align: right; }
table.numbers td:first-child, table.numbers th:first-child { text-align: left; }
a.ok { color: #1a7f37; } a.fail { color: #cf222e; }
img { max-width: 900px; display: block; margin-top: 1em; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }"""


def page(title: str, body: str) -> str:
    """A whole page: ``title`` as its heading, ``body`` (already HTML) below it."""
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>\n'
        f"<style>\n{STYLE}\n</style></head><body>\n<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )
