"""Real and user data: digits from scikit-learn, .npy / .csv files with their errors, and
one-pixel shift views."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim import PresetError, Simulation, load_preset
from sim.datasets import digits, user_data
from sim.preset import with_changes
from sim.views import shift_images


def test_digits_subset():
    from sklearn.datasets import load_digits

    X, labels = digits([3, 7], per_class=20, seed=0)
    assert X.shape == (40, 64) and float(X.min()) >= 0 and float(X.max()) <= 1
    assert labels.tolist() == [0] * 20 + [1] * 20
    raw = load_digits()
    rows = {tuple(r) for r in raw.data[raw.target == 7] / 16.0}
    assert all(tuple(r) in rows for r in X[20:].numpy())


def test_digits_preset_runs_and_the_network_separates_classes():
    sim = Simulation(with_changes(load_preset("digits"), {"data.per_class": 30}))
    assert sim.frame().X.shape == (150, 64) and sim.num_clusters == 5
    sim.step(150)
    assert sim.frame().metrics["silhouette"] > 0.1


def test_user_npy_and_csv(tmp_path):
    data = np.random.default_rng(0).normal(size=(30, 5))
    np.save(tmp_path / "a.npy", data)
    X, labels = user_data(str(tmp_path / "a.npy"), labels_last_column=False)
    np.testing.assert_array_equal(X.numpy(), data)
    assert labels.tolist() == [0] * 30
    with_labels = np.hstack([data, np.repeat([[5], [9], [-1]], 10, axis=0)])
    lines = ["a,b,c,d,e,label"] + [",".join(str(float(v)) for v in row) for row in with_labels]
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    X, labels = user_data(str(tmp_path / "b.csv"), labels_last_column=True)
    np.testing.assert_allclose(X.numpy(), data)
    assert labels.tolist() == [1] * 10 + [2] * 10 + [0] * 10


BAD = [
    ("x.txt", "1,2\n3,4\n", False, "expected a .npy or .csv file"),
    ("x.csv", "1,2\n3\n", False, "same number of columns"),
    ("x.csv", "1,2\n3,abc\n", False, "expected numbers in every cell"),
    ("x.csv", "1,2\n3,nan\n", False, "expected finite numbers, got nan at line 2, column 2"),
    ("x.csv", "1,2\n", False, "at least 2 rows"),
    ("x.csv", "1,2.5\n3,4\n", True, "integer labels"),
    ("x.npy", b"not an array", False, "cannot read"),
    ("missing.csv", None, False, "cannot read"),
    ("x.csv", "1,2\n3,inf\n", False, "expected finite numbers, got inf at line 2, column 2"),
    ("x.csv", "1,2\n3,1e400\n", False, "expected finite numbers, got 1e400 at line 2, column 2"),
    ("x.csv", b"1,2\n3,\xff\n", False, "expected UTF-8 text"),
    ("x.csv", "1,2,0\n3,4,1.5\n", True, "integer labels"),
    ("x.csv", "1,2,0\n3,4,inf\n", True, "integer labels"),
    ("empty.npy", b"", False, "empty file"),
    ("empty.csv", b"", False, "at least 2 rows"),
]


@pytest.mark.parametrize("name,content,labelled,expected", BAD)
def test_malformed_user_files(tmp_path, name, content, labelled, expected):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(PresetError) as err:
        user_data(str(path), labelled)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message
    assert message.count(str(path)) == 1 and message.count("data.") == 1  # file and field named once


def test_one_dimensional_npy_is_refused(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(5.0))
    with pytest.raises(PresetError, match="2-D array"):
        user_data(str(tmp_path / "v.npy"), False)


def test_file_preset_runs_in_high_dimension(tmp_path):
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 10)) * 3
    data = np.vstack([c + 0.2 * rng.normal(size=(20, 10)) for c in centers])
    np.save(tmp_path / "d.npy", np.hstack([data, np.repeat([[0], [1], [2]], 20, axis=0)]))
    changes = {"data.kind": "file", "data.path": str(tmp_path / "d.npy"), "data.labels_last_column": True}
    sim = Simulation(with_changes(load_preset("fig5-2d"), changes))
    sim.step(3)
    frame = sim.frame()
    assert frame.X.shape == (60, 10) and sim.num_clusters == 3


def test_shift_moves_an_image_by_at_most_the_shift_and_fills_with_zero():
    image = torch.zeros(1, 8, 8, dtype=torch.float64)
    image[0, 4, 3] = 1.0
    x = image.reshape(1, 64).repeat(500, 1)
    shifted = shift_images(x, 1, torch.Generator().manual_seed(0)).reshape(500, 8, 8)
    assert torch.all(shifted.sum((1, 2)) == 1.0)
    where = shifted.reshape(500, 64).argmax(1)
    rows, cols = where // 8, where % 8
    assert set(rows.tolist()) == {3, 4, 5} and set(cols.tolist()) == {2, 3, 4}
    edge = torch.zeros(1, 8, 8, dtype=torch.float64)
    edge[0, 0, :] = 1.0
    out = shift_images(edge.reshape(1, 64).repeat(200, 1), 1, torch.Generator().manual_seed(1)).reshape(200, 8, 8)
    assert set(out.sum((1, 2)).tolist()) == {0.0, 7.0, 8.0}  # off the top; one pixel off the side; whole


def rows_of(text: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split()] for line in text.strip().splitlines()])


FOUR_BY_THREE = "1.5 -2 3\n4 5e-1 6\n-7 8 9.25\n10 11 12\n"


@pytest.mark.parametrize(
    "text",
    [
        "1.5,-2,3\n4,5e-1,6\n-7,8,9.25\n10,11,12\n",
        "1.5;-2;3\n4;5e-1;6\n-7;8;9.25\n10;11;12\n",
        "1.5\t-2\t3\n4\t5e-1\t6\n-7\t8\t9.25\n10\t11\t12\n",
        "  1.5   -2  3\n4 5e-1 6\n -7 8 9.25\n10   11 12  \n",
        "x,y,z\n1.5, -2, 3\n4, 5e-1, 6\n-7, 8, 9.25\n10, 11, 12\n",
        "# measured 2026\n\nx;y;z   # a header\n1.5;-2;3\n4;5e-1;6  # note\n# a comment line\n-7;8;9.25\n10;11;12\n",
        "\ufeff1.5,-2,3\r\n4,5e-1,6\r\n-7,8,9.25\r\n10,11,12\r\n",
        "\ufeffx\ty\tz\n1.5\t-2\t3\n4\t5e-1\t6\n-7\t8\t9.25\n10\t11\t12\n",
    ],
    ids=["comma", "semicolon", "tab", "spaces", "header", "comments", "bom", "bom-header"],
)
def test_every_accepted_text_layout_reads_the_same_numbers(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode("utf-8"))
    X, labels = user_data(str(path), labels_last_column=False)
    np.testing.assert_array_equal(X.numpy(), rows_of(FOUR_BY_THREE))  # a byte-order mark loses no row
    assert labels.tolist() == [0, 0, 0, 0]


def test_labels_beyond_int64_stay_distinct_classes(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,label\n0.5,1e20\n1.5,2e20\n2.5,1e20\n3.5,100000000000000000001\n4.5,100000000000000000000\n")
    X, labels = user_data(str(path), labels_last_column=True)
    np.testing.assert_array_equal(X.numpy()[:, 0], [0.5, 1.5, 2.5, 3.5, 4.5])
    # sorted: 1e20 == 100000000000000000000 < 100000000000000000001 < 2e20
    assert labels.tolist() == [0, 2, 0, 1, 0]
    np.save(tmp_path / "big.npy", np.array([[0.0, 1e20], [1.0, 2e20], [2.0, -1e20]]))
    assert user_data(str(tmp_path / "big.npy"), True)[1].tolist() == [1, 2, 0]
    extremes = np.array([[0, np.iinfo(np.int64).max], [1, np.iinfo(np.int64).max - 1], [2, np.iinfo(np.int64).min]])
    np.save(tmp_path / "int.npy", extremes)
    X, labels = user_data(str(tmp_path / "int.npy"), True)
    assert labels.tolist() == [2, 1, 0] and X.dtype == torch.float64


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[1 + 2j, 3], [4, 5]]), "expected real numbers, got complex values (complex128)"),
        (
            np.array([[1, "a"], [2, "b"]], dtype=object),
            "expected an array of numbers, got Python objects (dtype object)",
        ),
        (np.array([["1", "2"], ["3", "4"]]), "expected an array of numbers, got dtype <U1"),
        (np.array([[True, False], [False, True]]), "expected an array of numbers, got dtype bool"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "expected finite numbers, got nan at row 0, column 1"),
    ],
    ids=["complex", "object", "text", "bool", "nan"],
)
def test_npy_arrays_that_are_not_real_numbers_are_refused(tmp_path, array, expected):
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(PresetError) as err:
        user_data(str(path), False)
    message = str(err.value)
    assert message.startswith(f"{path}: data.path: ") and expected in message and message.count(str(path)) == 1


def check_outcome(path, labelled: bool) -> None:
    """user_data either reads the file into finite float64 rows with one label each, or
    refuses it with one line naming the file and the field once; never anything else."""
    try:
        X, labels = user_data(str(path), labelled)
    except PresetError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(f"{path}: data.") and message.count(str(path)) == 1
        return
    assert X.dtype == torch.float64 and X.ndim == 2 and X.shape[0] >= 2 and bool(torch.isfinite(X).all())
    assert labels.shape == (X.shape[0],) and labels.dtype == torch.int64
    assert sorted(set(labels.tolist())) == list(range(int(labels.max()) + 1))


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", "x", "nan", "1e400", "1,5", '"3"', "#", "\ufeff", " ", "0x10", "1_0"]),
)
LINES = st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=LINES, delimiter=st.sampled_from([",", ";", "\t", " ", "  "]), bom=st.booleans(), labelled=st.booleans())
def test_any_delimited_text_is_read_or_refused_in_one_line(tmp_path, rows, delimiter, bom, labelled):
    text = ("\ufeff" if bom else "") + "\n".join(delimiter.join(row) for row in rows)
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    check_outcome(path, labelled)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    array=st.one_of(
        st.integers(0, 4).flatmap(
            lambda ndim: hnp.arrays(
                st.sampled_from(["f8", "f4", "i8", "u8", "i1", "c16", "?", "U3", "f2"]),
                hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=4),
            )
        ),
    ),
    labelled=st.booleans(),
)
def test_any_npy_array_is_read_or_refused_in_one_line(tmp_path, array, labelled):
    path = tmp_path / "data.npy"
    np.save(path, array)
    check_outcome(path, labelled)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".npy", ".csv"]), labelled=st.booleans())
def test_any_bytes_are_read_or_refused_in_one_line(tmp_path, content, suffix, labelled):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(content)
    check_outcome(path, labelled)
