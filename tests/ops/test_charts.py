"""ops.charts is pure: series in, SVG text out."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest

from ops.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    PALETTE,
    Series,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]


def _chart(**kwargs):
    series = kwargs.pop(
        "series", [Series("sent", [i * 10 for i in range(30)]), Series("opened", [3] * 30)]
    )
    return line_chart(title="Emails per day", days=DAYS, series=series, **kwargs)


def test_ticks_are_round_numbers_from_zero_that_reach_the_peak():
    assert nice_ticks(290) == [0, 100, 200, 300]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(1) == [0, 1]
    assert nice_ticks(0) == [0, 1]  # an empty month still has an axis


def test_it_is_well_formed_svg_with_an_accessible_title_and_description():
    root = ElementTree.fromstring(_chart())
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Emails per day"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "2026-11-01 to 2026-11-30" in desc.text
    assert "sent 4350" in desc.text and "opened 90" in desc.text  # the totals


def test_it_draws_one_line_and_one_legend_entry_per_series_in_distinct_colours():
    root = ElementTree.fromstring(_chart())
    lines = root.findall(f".//{SVG}polyline")
    assert [line.get("stroke") for line in lines] == [PALETTE[0], PALETTE[1]]
    legend = root.find(f"{SVG}g[@class='legend']")
    assert [t.text for t in legend.findall(f"{SVG}text")] == ["sent", "opened"]
    assert [r.get("fill") for r in legend.findall(f"{SVG}rect")] == [PALETTE[0], PALETTE[1]]


def test_each_point_says_its_series_day_and_value_and_sits_at_its_height():
    root = ElementTree.fromstring(_chart())
    sent = root.find(f"{SVG}g[@data-series='sent']")
    points = sent.findall(f"{SVG}circle")
    assert len(points) == 30
    assert points[-1].find(f"{SVG}title").text == "sent, 2026-11-30: 290"
    # The y axis goes to 300: 290 is near the top, 0 on the axis line.
    ys = [float(p.get("cy")) for p in points]
    bottom, top = HEIGHT - MARGIN_BOTTOM, MARGIN_TOP
    assert ys[0] == bottom and ys[0] > ys[15] > ys[29]
    assert ys[29] == pytest.approx(bottom - 290 * (bottom - top) / 300, abs=0.1)


def test_the_axes_carry_tick_values_and_day_labels_ending_today():
    svg = _chart()
    labels = re.findall(r">(\d\d \w\w\w)</text>", svg)
    assert labels[-1] == "30 Nov" and len(labels) <= 6
    assert ">300</text>" in svg and ">0</text>" in svg


def test_names_are_escaped():
    svg = _chart(series=[Series("<script>", [1] * 30)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ElementTree.fromstring(svg)


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="has 2 values for 30 days"):
        _chart(series=[Series("sent", [1, 2])])
