"""Layout of the horizontal stacked bar charts that dashboards draw as inline SVG (no JavaScript)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    total: int
    segments: list[Segment]
    note: str = ""
    text_y: float = 0.0  # baseline of the bar's label and total
    end_x: float = 0.0  # where the total is written, just after the bar


@dataclass(frozen=True)
class Chart:
    """A horizontal stacked bar chart laid out for an inline SVG (imaging/_qc_chart.html)."""

    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int
    bars: list[Bar]
    legend: list[tuple[str, str]]
    ticks: list[tuple[float, str]] = field(default_factory=list)
    axis_y: float = 0.0  # bottom of the tick lines; their labels sit below it

    @property
    def label_x(self) -> int:
        return self.label_width - 6


def stacked_bar_chart(rows: Sequence[tuple[str, Sequence[int]] | tuple[str, Sequence[int], str]],
                      keys: Sequence[tuple[str, str]], *, maximum: int | None = None, unit: str = "",
                      width: int = 640, label_width: int = 170) -> Chart:
    """Lay out one bar per row, its values stacked in the order of `keys` ((css key, legend label))."""
    bar_height, gap, top = 18, 8, 6
    plot_width = width - label_width - 120  # room after the longest bar for its total or note
    top_value = maximum or max([sum(r[1]) for r in rows] + [1])
    bars = []
    for index, row in enumerate(rows):
        label, values = row[0], row[1]
        note = row[2] if len(row) > 2 else ""
        x, segments = float(label_width), []
        for (key, name), value in zip(keys, values, strict=True):
            w = plot_width * value / top_value if top_value else 0.0
            if value:
                segments.append(Segment(key, name, value, round(x, 1), round(w, 1)))
            x += w
        y = top + index * (bar_height + gap)
        bars.append(Bar(label, y, sum(values), segments, note, text_y=y + 13, end_x=round(x + 4, 1)))
    ticks = [(round(label_width + plot_width * f, 1), f"{round(top_value * f)}{unit}") for f in (0, 0.5, 1)]
    axis_y = top + max(len(rows), 1) * (bar_height + gap)
    return Chart(width, axis_y + 14, label_width, plot_width, bar_height, bars, list(keys), ticks, axis_y)
