"""The grid: TOML of sharpness-train options -> cells (the product of the axes), bad input refused."""

import pytest

from sharpness.sweep.grid import GridError, cell_key, expand_grid, load_grid, normalize_grid

TINY = {"arch": "bias", "width": 8, "d": 4, "n": 8, "epochs": 5}


def _write(tmp_path, text):
    p = tmp_path / "grid.toml"
    p.write_text(text)
    return p


def test_product_in_file_order(tmp_path):
    p = _write(
        tmp_path,
        'arch = "bias"\nalgo = ["sam", "sgd"]\nwidth = 8\nd = [4, 5]\nn = 8\nseed = [0, 1, 2]\n'
        "epochs = 5\n",
    )
    cells = expand_grid(load_grid(p))
    assert len(cells) == 2 * 2 * 3
    got = [(c.config.algo, c.config.d, c.config.seed) for c in cells]
    assert got == [(a, d, s) for a in ("sam", "sgd") for d in (4, 5) for s in (0, 1, 2)]
    assert len({c.key for c in cells}) == 12
    assert all(c.config.width == 8 and c.config.epochs == 5 for c in cells)
    # sgd gets rho = 0, sam the command line's default: the same meaning as sharpness-train
    assert {c.config.phases[0].rho for c in cells if c.config.algo == "sgd"} == {0.0}


def test_option_spellings_and_values():
    axes = normalize_grid({**TINY, "batch-size": 2, "label_noise": 0.0, "exact-final": True})
    assert set(axes) >= {"batch_size", "label_noise", "exact_final"}
    (cell,) = expand_grid(axes)
    assert cell.config.phases[0].batch_size == 2 and cell.config.exact_final is True
    # an integral float is an integer (epochs = 1e1)
    (c2,) = expand_grid(normalize_grid({**TINY, "epochs": 1e1}))
    assert c2.config.epochs == 10


def test_key_is_the_configuration():
    (a,) = expand_grid(normalize_grid(TINY))
    (b,) = expand_grid(normalize_grid({**TINY, "wd": 0.0, "algo": "sam"}))  # the defaults, spelled
    (c,) = expand_grid(normalize_grid({**TINY, "seed": 1}))
    assert a.key == b.key == cell_key(a.config) != c.key
    # two spellings of one configuration in a grid are one cell
    assert len(expand_grid(normalize_grid({**TINY, "wd": [0, 0.0]}))) == 1


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"out": "x"}, "unknown key 'out'"),
        ({"threads": 2}, "unknown key 'threads'"),
        ({"width": []}, "empty list"),
        ({"width": [8, 8]}, "repeats a value"),
        ({"width": {"a": 1}}, "must be a number"),
        ({"width": [[8]]}, "must be a number"),
        ({}, "sets no option"),
    ],
    ids=["unknown", "out", "threads", "empty-axis", "repeat", "table", "nested-list", "empty"],
)
def test_bad_keys(raw, match):
    with pytest.raises(GridError, match=match):
        normalize_grid(raw)


@pytest.mark.parametrize(
    "over, match",
    [
        ({"width": "x"}, "--width: invalid int value: 'x'"),
        ({"width": 1.5}, "--width: invalid int value: '1.5'"),
        ({"arch": "cnn"}, "--arch: invalid choice"),
        ({"lr": -1.0}, "--lr must be > 0"),
        ({"width": True}, "--width takes a value"),
        ({"exact_final": 1}, "--exact-final is true or false"),
        ({"algo": "gd", "batch_size": 3}, "full-batch GD"),
        ({"width": [8, 0]}, r"cell \(.*width=0.*\): .*width"),
    ],
    ids=[
        "str-int",
        "float-int",
        "choice",
        "negative-lr",
        "bool-int",
        "flag-int",
        "gd-batch",
        "cell",
    ],
)
def test_bad_values_name_the_cell(over, match):
    with pytest.raises(GridError, match=match):
        expand_grid(normalize_grid({**TINY, **over}))


def test_bad_files(tmp_path):
    with pytest.raises(GridError, match="not valid TOML"):
        load_grid(_write(tmp_path, "width = [\n"))
    with pytest.raises(GridError, match="cannot read"):
        load_grid(tmp_path / "missing.toml")


def test_public_names_are_pinned_and_resolve():
    import sharpness.sweep as sweep

    assert sweep.__all__ == [
        "Cell",
        "GridError",
        "SweepResult",
        "expand_grid",
        "load_grid",
        "load_results",
        "read_table",
        "run_sweep",
        "write_rows",
    ]
    assert all(callable(getattr(sweep, name)) for name in sweep.__all__)
