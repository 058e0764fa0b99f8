"""A missing value is a typed ``NA(reason)``: the table shows "n/a", the reasons are listed once
(shared by every row, or per model), and the files keep their "n/a: <reason>" text."""

from zoo.compare.na import NA
from zoo.compare.report import cell, jsonable, reasons


def test_a_missing_value_is_na_in_the_table_and_its_reason_in_the_files():
    assert cell(NA("no encoder"), "{:.3f}") == "n/a"
    assert cell("n/a: a model named so", "{}") == "n/a: a model named so"  # text is text, not a guess
    assert jsonable(NA("no encoder")) == "n/a: no encoder"
    assert jsonable(float("inf")) == "inf" and jsonable(0.5) == 0.5


def test_reasons_are_listed_once_when_every_row_shares_them():
    rows = [
        {"model": "dcgan", "recon_mse": NA("no encoder"), "fid_inception": NA("weights not found")},
        {"model": "vae", "recon_mse": 0.01, "fid_inception": NA("weights not found")},
    ]
    assert reasons(rows) == ["- every row: n/a because weights not found", "- dcgan: n/a because no encoder"]
