"""Layouts of the numeric-axis charts (trend lines, waterfall, spider): positions follow the values."""
from __future__ import annotations

from ictms.lib.charts import spider_chart, trend_chart, waterfall_chart


def test_waterfall_bars_start_at_zero_and_reference_lines_sit_at_their_values():
    plot = waterfall_chart([("bor-pd", "A", 25.0), ("bor-pr", "B", -50.0)])
    up, down = plot.bars
    assert plot.zero_y is not None
    assert up.y + up.height == plot.zero_y and down.y == plot.zero_y  # one rises from 0 %, one falls
    assert down.height == 2 * up.height  # -50 % is twice as long as +25 %
    (minus_30, label_minus), (plus_20, label_plus) = plot.references
    assert label_minus == "-30 %" and label_plus == "+20 %" and minus_30 > plot.zero_y > plus_20
    assert up.x < down.x and up.text == "A: +25.0 %"


def test_spider_lines_start_at_baseline_and_scale_weeks():
    plot = spider_chart([("bor-pr", "A", [(0.0, 0.0), (8.0, -40.0), (16.0, -60.0)])], x_unit=" wk")
    [series] = plot.series
    first, middle, last = series.points
    assert first.x == plot.left and last.x == plot.right and middle.x == (plot.left + plot.right) / 2
    assert first.y == plot.zero_y and last.y > middle.y > first.y
    assert last.text == "A, 16 wk: -60.0 %"


def test_trend_lines_share_one_axis():
    plot = trend_chart(["2026-01", "2026-02"], [("a", "Enrolled", [2, 4]), ("b", "Received", [0, 4])])
    enrolled, received = plot.series
    assert received.points[0].y == plot.bottom and enrolled.points[1].y == received.points[1].y == plot.top
    assert [label for _x, label in plot.x_ticks] == ["2026-01", "2026-02"]


def test_bar_chart_ticks_are_distinct_whole_numbers():
    from ictms.lib.charts import stacked_bar_chart

    for top in (1, 2, 3, 5, 7, 13, 48, 101):
        chart = stacked_bar_chart([("a", [top])], [("k", "K")])
        labels = [label for _x, label in chart.ticks]
        assert len(labels) == len(set(labels)) >= 2, (top, labels)  # not "0 0 1"
        assert all(label.isdigit() for label in labels) and int(labels[-1]) >= top
        assert [x for x, _l in chart.ticks] == sorted(x for x, _l in chart.ticks)
        assert chart.bars[0].segments[0].width <= chart.plot_width
    percent = stacked_bar_chart([("a", [40, 60])], [("p", "P"), ("r", "R")], maximum=100, unit=" %")
    assert [label for _x, label in percent.ticks] == ["0 %", "50 %", "100 %"]


def test_bar_chart_labels_get_the_room_they_need():
    from ictms.lib.charts import LABEL_CHAR_WIDTH, stacked_bar_chart

    short = stacked_bar_chart([("101 Berlin", [1])], [("k", "K")])
    long_label = "103 Boston Medical Center Radiology"
    wide = stacked_bar_chart([("101 Berlin", [1]), (long_label, [2])], [("k", "K")])
    assert wide.label_width >= len(long_label) * LABEL_CHAR_WIDTH
    assert wide.plot_width == short.plot_width and wide.width - wide.label_width == short.width - short.label_width
