"""A report inline in a notebook (Jupyter, JupyterLab, VS Code, Colab): ``Report._repr_html_``.

The HTML page :func:`deltaeval.report.html.render_html` writes goes, whole, into the ``srcdoc`` of
one sandboxed ``<iframe>``: its styles and its script stay inside the frame (the notebook's own
page is left alone), the sandbox gives the script no access to the notebook (``allow-scripts``
without ``allow-same-origin``), and the page's Content-Security-Policy still forbids any network
load. The page escapes every model output; the attribute escapes it once more, so a planted
``<script>`` stays text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

#: Height of the frame in pixels; the user can drag it taller (``resize: vertical``).
FRAME_HEIGHT = 640


def notebook_html(report: Mapping[str, Any], *, height: int = FRAME_HEIGHT) -> str:
    """An HTML fragment that shows ``report`` (a JSON report dict) in a notebook cell."""
    from deltaeval.report.html import render_html

    page = render_html(report)
    return (
        f'<iframe title="deltaeval report" sandbox="allow-scripts" srcdoc="{html.escape(page, quote=True)}"'
        f' style="width: 100%; height: {int(height)}px; border: 1px solid #ccc; resize: vertical;"></iframe>'
    )
