"""Drawing: panoptic overlays as thumbnails, and bar charts as inline SVG.

Overlays colour each segment by its category (stuff) or by its instance (things, a colour
derived from the id, so the same instance keeps its colour along a video), outline thing
instances, and hatch void. Everything is a pure function of the arrays: same data, same bytes.
"""

from __future__ import annotations

import hashlib
import html
import io

import numpy as np
from PIL import Image

from segprep.report.model import Category, ClassStats, LabelView

THUMB_WIDTH = 480


def instance_color(segment_id: int) -> tuple[int, int, int]:
    """A bright colour that depends only on the id."""
    digest = hashlib.blake2b(int(segment_id).to_bytes(8, "little", signed=True), digest_size=3).digest()
    return tuple(64 + b * 191 // 255 for b in digest)  # type: ignore[return-value]


def overlay(view: LabelView, categories: list[Category], width: int = THUMB_WIDTH) -> bytes:
    """JPEG bytes of the frame with its labels drawn over it, ``width`` pixels wide."""
    h, w = view.segments.shape
    height = max(1, round(h * width / w))
    image = np.asarray(Image.fromarray(view.image).resize((width, height), Image.BILINEAR), dtype=np.float32)
    rows = (np.arange(height) * h // height)[:, None]
    cols = (np.arange(width) * w // width)[None, :]
    segments = view.segments[rows, cols]
    void = view.void[rows, cols]
    ids, inverse = np.unique(segments, return_inverse=True)
    inverse = inverse.reshape(segments.shape)
    palette = np.zeros((len(ids), 3), np.float32)
    thing = np.zeros(len(ids), bool)
    known = np.zeros(len(ids), bool)
    for i, segment_id in enumerate(ids.tolist()):
        index = view.category_of.get(segment_id)
        if index is None:
            continue
        category = categories[index]
        known[i], thing[i] = True, category.isthing
        palette[i] = instance_color(segment_id) if category.isthing else category.color
    colour = palette[inverse]
    labelled = ~void & known[inverse]
    out = image.copy()
    out[labelled] = 0.45 * image[labelled] + 0.55 * colour[labelled]
    hatch = ((np.arange(height)[:, None] + np.arange(width)[None, :]) // 3) % 4 == 0
    out[void & hatch] = (40, 40, 40)
    out[void & ~hatch] = 0.6 * image[void & ~hatch] + 0.4 * 200
    edges = np.zeros_like(void)
    across, down = inverse[:, :-1] != inverse[:, 1:], inverse[:-1, :] != inverse[1:, :]
    edges[:, :-1] |= across  # both sides of a boundary: the thing side is outlined whatever is beside it
    edges[:, 1:] |= across
    edges[:-1, :] |= down
    edges[1:, :] |= down
    outline = edges & thing[inverse]
    out[outline] = (255, 255, 255)
    buffer = io.BytesIO()
    Image.fromarray(out.clip(0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def bar_chart(title: str, names: list[str], values: list[int], colors: list[tuple[int, int, int]], unit: str) -> str:
    """A horizontal bar chart as inline SVG (log-free: bars proportional to the value)."""
    rows = [(n, v, c) for n, v, c in zip(names, values, colors) if v > 0]
    if not rows:
        return f"<p>{html.escape(title)}: none</p>"
    top = max(v for _, v, _ in rows)
    bar_h, label_w, chart_w = 16, 170, 420
    height = bar_h * len(rows) + 30
    parts = [f'<svg class="chart" width="{label_w + chart_w + 110}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for i, (name, value, color) in enumerate(rows):
        y = 24 + i * bar_h
        width = max(1, round(chart_w * value / top))
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{html.escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{width}" height="{bar_h - 4}" '
                     f'fill="rgb{tuple(color)}" stroke="#333" stroke-width="0.5"/>')
        parts.append(f'<text x="{label_w + width + 4}" y="{y + 12}">{value:,} {unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def class_charts(stats: ClassStats, categories: list[Category]) -> str:
    names = [c.name for c in categories]
    colors = [c.color for c in categories]
    charts = bar_chart("pixels per class", names, stats.pixels, colors, "px")
    if any(stats.instances):
        charts += bar_chart("instances per class", names, stats.instances, colors, "")
    return charts
