"""lrbook.checks: named claims that fail loudly and render as the chapter's table."""

from __future__ import annotations

import numpy as np
import pytest

from lrbook.checks import CheckFailed, Checks, Table, fmt, glue


def test_passing_checks_are_recorded_in_order_with_values_and_conditions():
    ck = Checks("ch", scale="ci")
    ck.check("a", "a is small", 0.1234, lt=0.5)
    ck.check("b", "every b in [1, 3]", [1, 2, 3], between=(1, 3))
    ck.check("c", "c at least 2", 2, ge=2)
    ck.that("d", "d holds", [True, True], value=7, condition="both")
    assert [c.name for c in ck] == ["a", "b", "c", "d"]
    assert ck["a"].value == "0.123" and ck["a"].condition == "< 0.5"
    assert ck["b"].value == "1–3" and ck["b"].condition == "in [1, 3]"
    assert ck["c"].condition == "≥ 2" and ck["d"].value == "7"
    assert all(c.passed and c.scale == "ci" for c in ck)


@pytest.mark.parametrize("value, kw", [
    (0.5, {"lt": 0.5}),                   # strict bound
    ([0.1, 0.7], {"lt": 0.5}),            # one element out
    (float("nan"), {"gt": 0.0}),          # NaN never passes
    ([], {"gt": 0.0}),                    # nothing measured
    (np.ma.masked_all(3), {"gt": 0.0}),   # all masked: nothing measured
    (4, {"between": (1, 3)}),
    (1, {"gt": 0, "lt": 1}),              # both conditions needed
])
def test_failing_check_raises_and_is_recorded_as_failed(value, kw):
    ck = Checks("ch", scale="ci")
    with pytest.raises(CheckFailed, match="check 'x' failed: the claim"):
        ck.check("x", "the claim", value, **kw)
    assert ck["x"].passed is False
    assert "FAIL" in repr(ck.table())
    assert isinstance(CheckFailed("m"), AssertionError)      # nbval and plain asserts treat it alike


def test_masked_entries_are_ignored_but_reported():
    ck = Checks("ch", scale="ci")
    ck.check("ranks", "defined ranks are small", np.ma.MaskedArray([2, 99, 3], mask=[0, 1, 0]), le=3)
    assert ck["ranks"].value == "2–3"


def test_that_fails_on_false_or_empty():
    ck = Checks("ch", scale="ci")
    with pytest.raises(CheckFailed):
        ck.that("no", "claim", [True, False])
    with pytest.raises(CheckFailed):
        ck.that("empty", "claim", [])


def test_bad_names_conditions_and_repeats_are_refused():
    ck = Checks("ch", scale="ci")
    with pytest.raises(ValueError, match="condition"):
        ck.check("a", "claim", 1.0)
    for bad in ("Upper", "with space", "", "-lead"):
        with pytest.raises(ValueError, match="check name"):
            ck.check(bad, "claim", 1.0, lt=2)
    ck.check("a", "claim", 1.0, lt=2)
    with pytest.raises(ValueError, match="already recorded"):
        ck.check("a", "claim", 1.0, lt=2)
    with pytest.raises(ValueError, match="chapter"):
        Checks("")


def test_scale_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("LRBOOK_SCALE", "paper")
    assert Checks("ch").scale == "paper"


def test_table_renders_html_with_headers_and_escapes():
    ck = Checks("ch", scale="book")
    ck.check("a", "x < y & z", 0.25, lt=1)
    t = ck.table()
    html = t._repr_html_()
    assert html.count("<tr>") == 2 and "<th>check</th>" in html and "<th>measured</th>" in html
    assert "x &lt; y &amp; z" in html and "scale: book" in html
    assert ck.to_dict()["checks"][0]["value"] == "0.25"


def test_table_formats_numbers_and_checks_row_lengths():
    t = Table(["g", "loss"], [[0.0, 0.012345], [1.5, np.float32(2.0)], [3, "n/a"]])
    assert t.rows == [["0", "0.0123"], ["1.5", "2"], ["3", "n/a"]]
    assert repr(t).splitlines()[0].split() == ["g", "loss"]
    with pytest.raises(ValueError, match="rows\\[0\\] has 1 cells"):
        Table(["a", "b"], [[1]])


def test_fmt():
    assert fmt(3) == "3" and fmt(np.int64(12)) == "12" and fmt(0.000123456) == "0.000123"
    assert fmt(True) == "yes" and fmt(float("nan")) == "nan" and fmt([2.0, 2.0]) == "2"
    assert fmt(12345.6) == "1.23e+04"


def test_glue_hands_python_scalars_to_myst_nb_and_returns_nothing(monkeypatch):
    """A cell ending with glue(...) shows no output; numpy scalars reach the prose as Python numbers."""
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: seen.__setitem__(name, (value, display)))
    assert glue("k", np.float64(0.5)) is None
    assert seen["k"] == (0.5, False) and type(seen["k"][0]) is float
    glue("k2", np.int64(3), display=True)
    assert type(seen["k2"][0]) is int and seen["k2"][1] is True
