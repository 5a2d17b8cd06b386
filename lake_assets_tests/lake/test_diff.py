"""`diff_frames`: schema, rows added/removed/changed by key or as multisets, and the rules by
which two cells are equal (lake_assets/lake/diff.py's docstring)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from lake_assets.lake import LakeError
from lake_assets.lake.diff import DiffError, FrameDiff, diff_frames


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "name": ["ann", "bob", "cy", "dee"],
            "score": [1.5, 2.5, np.nan, 4.0],
            "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", None]),
        }
    )


def assert_equal(found: FrameDiff) -> None:
    assert found.equal, found
    assert found.rows_added == found.rows_removed == found.rows_changed == 0
    assert found.changed_cells == {}
    assert found.to_json()["equal"] is True


@pytest.mark.parametrize("key", [None, ["id"], ["name", "id"]])
def test_equal_frames_in_any_row_order(key: list[str] | None) -> None:
    a = people()
    b = a.iloc[::-1].reset_index(drop=True)
    found = diff_frames(a, b, key)
    assert_equal(found)
    assert (found.rows_a, found.rows_b) == (4, 4)
    assert found.key == (None if key is None else tuple(key))


def test_by_key_added_removed_changed_with_examples() -> None:
    a = people()
    b = people()
    b.loc[1, "name"] = "bobby"  # id 2: one cell
    b.loc[2, "score"] = 3.0  # id 3: NaN -> 3.0 is a change
    b.loc[0, "day"] = pd.NaT  # id 1: a value -> null is a change
    b.loc[0, "score"] = 9.0  # and a second cell of id 1
    b = b[b["id"] != 4]  # removed (an index with a gap: positions, not labels, count)
    b = pd.concat([b, pd.DataFrame({"id": [7], "name": ["eve"], "score": [7.0]})])

    found = diff_frames(a, b, ["id"])
    assert not found.equal and found.schema_equal
    assert (found.rows_a, found.rows_b) == (4, 4)
    assert (found.rows_added, found.rows_removed, found.rows_changed) == (1, 1, 3)
    assert found.changed_cells == {"name": 1, "score": 2, "day": 1}
    assert found.added_examples == [{"id": 7, "name": "eve", "score": 7.0, "day": None}]
    assert found.removed_examples == [
        {"id": 4, "name": "dee", "score": 4.0, "day": None},
    ]
    assert found.changed_examples == [
        {
            "key": {"id": 1},
            "changes": {
                "score": {"a": 1.5, "b": 9.0},
                "day": {"a": "2024-01-01T00:00:00", "b": None},
            },
        },
        {"key": {"id": 2}, "changes": {"name": {"a": "bob", "b": "bobby"}}},
        {"key": {"id": 3}, "changes": {"score": {"a": None, "b": 3.0}}},
    ]


def test_without_key_rows_are_whole_and_a_change_is_one_removed_one_added() -> None:
    a = people()
    b = people()
    b.loc[1, "name"] = "bobby"
    found = diff_frames(a, b)
    assert (found.rows_added, found.rows_removed, found.rows_changed) == (1, 1, 0)
    assert found.changed_cells == {} and found.changed_examples == []
    assert found.added_examples == [
        {"id": 2, "name": "bobby", "score": 2.5, "day": "2024-01-02T00:00:00"}
    ]
    assert found.removed_examples[0]["name"] == "bob"


def test_multisets_count_duplicates() -> None:
    a = pd.DataFrame({"x": [1, 1, 2, 3, 3, 3], "y": ["p", "p", "q", "r", "r", "r"]})
    b = pd.DataFrame({"x": [3, 1, 2, 2, 3], "y": ["r", "p", "q", "q", "r"]})
    found = diff_frames(a, b)
    assert (found.rows_added, found.rows_removed) == (1, 2)  # one more (2, q); (1, p), (3, r)
    assert found.added_examples == [{"x": 2, "y": "q"}]
    assert found.removed_examples == [{"x": 1, "y": "p"}, {"x": 3, "y": "r"}]
    assert_equal(diff_frames(a, a.sample(frac=1, random_state=1)))
    assert diff_frames(a, a.iloc[1:]).rows_removed == 1


def test_examples_are_limited_and_in_row_order() -> None:
    a = pd.DataFrame({"id": range(100), "v": range(100)})
    b = pd.DataFrame({"id": range(100), "v": [i + 1 if i % 2 else i for i in range(100)]})
    found = diff_frames(a, b, ["id"], examples=3)
    assert found.rows_changed == 50 and found.changed_cells == {"v": 50}
    assert [e["key"]["id"] for e in found.changed_examples] == [1, 3, 5]
    assert diff_frames(a, b, ["id"], examples=0).changed_examples == []


def test_schema_changes() -> None:
    a = pd.DataFrame({"id": [1, 2], "old": ["x", "y"], "v": [1, 2], "w": [0.5, 0.5]})
    b = pd.DataFrame({"id": [1, 2], "w": [0.5, 0.5], "v": [1, 2], "new": [True, False]})
    found = diff_frames(a, b, ["id"])
    assert found.columns_added == ("new",)
    assert found.columns_removed == ("old",)
    assert found.columns_reordered  # v, w -> w, v
    assert found.type_changes == {}
    assert found.rows_equal and not found.schema_equal and not found.equal
    # without a key, rows compare over the columns both have
    assert diff_frames(a, b).rows_equal
    same_order = diff_frames(a, a[["id", "old", "v"]])
    assert same_order.columns_removed == ("w",) and not same_order.columns_reordered


def test_numbers_compare_by_value_and_the_type_change_is_reported() -> None:
    """int64 1 equals float64 1.0 and Int64 1: the cells are equal, the schema is not."""
    a = pd.DataFrame({"id": [1, 2, 3], "n": [1, 2, 3], "m": [10, 20, 30]})
    b = pd.DataFrame(
        {
            "id": pd.array([1, 2, 3], dtype="Int64"),
            "n": [1.0, 2.0, 3.5],
            "m": pd.array([10, None, 30], dtype="Int64"),
        }
    )
    for key in (["id"], None):
        found = diff_frames(a, b, key)
        assert found.type_changes == {
            "id": ("int64", "Int64"),
            "n": ("int64", "float64"),
            "m": ("int64", "Int64"),
        }
        assert not found.equal
    keyed = diff_frames(a, b, ["id"])
    assert keyed.changed_cells == {"n": 1, "m": 1}
    assert keyed.changed_examples[0] == {"key": {"id": 2}, "changes": {"m": {"a": 20, "b": None}}}
    assert keyed.changed_examples[1]["changes"] == {"n": {"a": 3, "b": 3.5}}
    multiset = diff_frames(a, b)
    assert (multiset.rows_added, multiset.rows_removed) == (2, 2)  # rows 2 and 3
    same = diff_frames(a, a.astype({"n": "float64"}), ["id"])
    assert same.rows_equal and same.type_changes == {"n": ("int64", "float64")}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (pd.Series([True, False], dtype="boolean"), pd.Series([1, 0])),  # bool is no number
        (pd.Series(["1", "0"], dtype="str"), pd.Series([1, 0])),
        (pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])), pd.Series(["2024-01-01", "x"])),
        (
            pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])),
            pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC")),
        ),
    ],
)
def test_values_of_different_kinds_are_never_equal(old: pd.Series, new: pd.Series) -> None:
    a = pd.DataFrame({"id": [1, 2], "v": old})
    b = pd.DataFrame({"id": [1, 2], "v": new})
    keyed = diff_frames(a, b, ["id"])
    assert keyed.changed_cells == {"v": 2} and "v" in keyed.type_changes
    assert diff_frames(a, b).rows_added == 2
    # ... except where both are null
    a.loc[0, "v"], b.loc[0, "v"] = None, None
    assert diff_frames(a, b, ["id"]).changed_cells == {"v": 1}
    assert diff_frames(a, b).rows_added == 1


def test_object_columns_compare_with_the_other_side_by_value() -> None:
    """The codec reads integers beyond int64 as Python ints in an object column."""
    big = 2**70
    a = pd.DataFrame({"id": [1, 2], "v": pd.Series([big, 5], dtype=object)})
    b = pd.DataFrame({"id": [1, 2], "v": pd.Series([big, 5], dtype=object)})
    assert_equal(diff_frames(a, b, ["id"]))
    c = pd.DataFrame({"id": [1, 2], "v": [7, 5]})
    found = diff_frames(a, c, ["id"])
    assert found.changed_cells == {"v": 1}
    assert found.changed_examples[0]["changes"] == {"v": {"a": big, "b": 7}}
    assert diff_frames(a, c).rows_added == 1


def test_nulls_equal_nulls_and_a_value_against_null_is_a_change() -> None:
    a = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "f": [np.nan, 1.0, np.nan, 2.0],
            "o": pd.Series([None, np.nan, pd.NA, "x"], dtype=object),
            "s": pd.Series([None, "a", "b", None], dtype="str"),
            "i": pd.array([None, 1, 2, None], dtype="Int64"),
        }
    )
    b = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "f": [np.nan, 1.0, np.nan, np.nan],
            "o": pd.Series([pd.NA, None, np.nan, "x"], dtype=object),
            "s": pd.Series([None, "a", "b", "c"], dtype="str"),
            "i": pd.array([None, 1, 2, 3], dtype="Int64"),
        }
    )
    found = diff_frames(a, b, ["id"])
    assert found.changed_cells == {"f": 1, "s": 1, "i": 1}
    assert found.changed_examples == [
        {
            "key": {"id": 4},
            "changes": {
                "f": {"a": 2.0, "b": None},
                "s": {"a": None, "b": "c"},
                "i": {"a": None, "b": 3},
            },
        }
    ]
    multiset = diff_frames(a, b)
    assert (multiset.rows_added, multiset.rows_removed) == (1, 1)
    assert_equal(diff_frames(a.iloc[:3], b.iloc[:3]))
    assert_equal(diff_frames(a.iloc[:3], b.iloc[:3], ["id"]))


def test_null_keys_match_each_other() -> None:
    a = pd.DataFrame({"k": ["x", None], "v": [1, 2]})
    b = pd.DataFrame({"k": [None, "x"], "v": [3, 1]})
    found = diff_frames(a, b, ["k"])
    assert (found.rows_added, found.rows_removed, found.rows_changed) == (0, 0, 1)
    assert found.changed_examples == [{"key": {"k": None}, "changes": {"v": {"a": 2, "b": 3}}}]


def test_unicode_names_and_values() -> None:
    a = pd.DataFrame({"clé": ["é", "日本", "👍"], "värde": ["ß", "ñ", "zażółć"]})
    b = pd.DataFrame({"clé": ["é", "日本", "🎉"], "värde": ["ß", "Ñ", "zażółć"]})
    found = diff_frames(a, b, ["clé"])
    assert found.changed_cells == {"värde": 1}
    assert found.changed_examples == [
        {"key": {"clé": "日本"}, "changes": {"värde": {"a": "ñ", "b": "Ñ"}}}
    ]
    assert found.added_examples == [{"clé": "🎉", "värde": "zażółć"}]
    text = json.dumps(found.to_json(), ensure_ascii=False)
    assert "日本" in text and "🎉" in text
    assert json.loads(json.dumps(found.to_json())) == found.to_json()


def test_to_json_is_plain_json() -> None:
    a = pd.DataFrame(
        {
            "id": [1],
            "t": pd.to_datetime(["2024-01-02 03:04:05.123456"]).tz_localize("UTC"),
            "d": pd.to_timedelta(["1 day"]),
            "f": [math.inf],
            "b": [True],
            "u": np.array([7], dtype="uint8"),
        }
    )
    found = diff_frames(a, a.iloc[:0], ["id"])
    body = found.to_json()
    assert body["examples"]["removed"] == [
        {
            "id": 1,
            "t": "2024-01-02T03:04:05.123456+00:00",
            "d": "P1DT0H0M0S",
            "f": "inf",
            "b": True,
            "u": 7,
        }
    ]
    assert json.loads(json.dumps(body, allow_nan=False)) == body
    assert set(body) >= {
        "equal",
        "key",
        "columns_added",
        "columns_removed",
        "columns_reordered",
        "type_changes",
        "rows_a",
        "rows_b",
        "rows_added",
        "rows_removed",
        "rows_changed",
        "changed_cells",
        "examples",
    }
    assert body["key"] == ["id"] and body["rows_removed"] == 1


def test_type_changes_in_json() -> None:
    a = pd.DataFrame({"n": [1]})
    body = diff_frames(a, a.astype("float64")).to_json()
    assert body["type_changes"] == {"n": {"a": "int64", "b": "float64"}}
    assert body["equal"] is False and body["rows_added"] == 0


def test_empty_and_columnless_frames() -> None:
    assert_equal(diff_frames(pd.DataFrame(), pd.DataFrame()))
    assert_equal(diff_frames(pd.DataFrame({"x": []}), pd.DataFrame({"x": []}), ["x"]))
    grown = diff_frames(pd.DataFrame({"x": [1]}), pd.DataFrame({"y": [1, 2]}))
    assert grown.columns_added == ("y",) and grown.columns_removed == ("x",)
    assert (grown.rows_added, grown.rows_removed) == (1, 0)  # rows of no common column


def test_a_key_column_missing_from_a_side() -> None:
    a = pd.DataFrame({"id": [1], "v": [1]})
    b = pd.DataFrame({"ident": [1], "v": [1]})
    with pytest.raises(
        DiffError, match=r"key column 'id' is not a column of B \(its columns: ident, v\)"
    ):
        diff_frames(a, b, ["id"])
    with pytest.raises(DiffError, match="'nope' is not a column of A"):
        diff_frames(a, b, ["nope", "v"], labels=("A", "B"))
    with pytest.raises(DiffError, match="is not a column of gros://x:1"):
        diff_frames(a, b, ["ident"], labels=("gros://x:1", "gros://x:2"))
    assert issubclass(DiffError, LakeError)


def test_a_key_that_is_not_unique_names_the_duplicates() -> None:
    a = pd.DataFrame({"id": [1, 2, 2, 3, 3, 3], "k": ["é"] * 6, "v": range(6)})
    b = pd.DataFrame({"id": [1, 2, 3], "k": ["é"] * 3, "v": range(3)})
    with pytest.raises(DiffError) as e:
        diff_frames(a, b, ["id"])
    assert "key (id) is not unique in A: 2 (2 rows); 3 (3 rows)" in str(e.value)
    with pytest.raises(DiffError, match=r"key \(k, id\) is not unique in B: 'é', 1 \(2 rows\)"):
        diff_frames(b, pd.concat([b, b.iloc[:1]]), ["k", "id"])
    many = pd.DataFrame({"id": [i // 2 for i in range(20)]})
    with pytest.raises(DiffError, match=r"4 \(2 rows\) and 5 more"):
        diff_frames(many, many.iloc[:1], ["id"])


def test_bad_keys() -> None:
    a = pd.DataFrame({"id": [1], "v": [1]})
    with pytest.raises(DiffError, match="names no column"):
        diff_frames(a, a, [])
    with pytest.raises(DiffError, match="names a column twice"):
        diff_frames(a, a, ["id", "id"])
    b = pd.DataFrame({"id": ["1"], "v": [1]})
    with pytest.raises(DiffError, match="key column 'id' is int64 in A and str in B"):
        diff_frames(a, b, ["id"])
    assert diff_frames(a, b).rows_added == 1  # without a key they just differ
    assert diff_frames(a, a, "id").key == ("id",)  # one name alone is a key of one column


def test_column_names_are_compared_as_text() -> None:
    a = pd.DataFrame({0: [1, 2], "x": [3, 4]})
    b = pd.DataFrame({"0": [1, 2], "x": [3, 5]})
    found = diff_frames(a, b, ["0"])
    assert found.schema_equal and found.changed_cells == {"x": 1}


def test_duplicate_column_names_are_refused() -> None:
    a = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(DiffError, match="A has duplicate column names: 'x'"):
        diff_frames(a, a)
