"""The results table: rows keyed by cell, two concurrent writers lose nothing, readers see whole files."""

import multiprocessing as mp

import pytest

from sharpness.sweep.table import read_table, table_path, write_rows


def test_append_replace_and_union_of_columns(tmp_path):
    t = write_rows([{"cell": "a", "x": 1}, {"cell": "b", "x": 2}], tmp_path, key="cell")
    assert t == tmp_path / "results.csv" == table_path(tmp_path)
    write_rows([{"cell": "b", "x": 20, "y": "new"}], tmp_path, key="cell")  # replaces b
    df = read_table(tmp_path).sort_values("cell")
    assert list(df["cell"]) == ["a", "b"] and list(df["x"]) == [1, 20]
    assert df["y"].isna().tolist() == [True, False]
    write_rows([{"cell": "a", "x": 1}], tmp_path / "results.csv")  # no key: appended
    assert len(read_table(tmp_path / "results.csv")) == 3


def test_bad_rows(tmp_path):
    with pytest.raises(ValueError, match="list of dicts"):
        write_rows([1], tmp_path)
    with pytest.raises(ValueError, match=r"key column\(s\) \['cell'\]"):
        write_rows([{"x": 1}], tmp_path, key="cell")
    with pytest.raises(FileNotFoundError, match="no results table"):
        read_table(tmp_path / "none")


def _writer(path, who, count):
    for i in range(count):
        write_rows([{"cell": f"{who}-{i}", "who": who, "i": i}], path, key="cell")


def _reader(path, stop, bad):
    while not stop.is_set():
        try:
            df = read_table(path)
        except FileNotFoundError:
            continue
        except Exception:  # a half-written file would parse badly or lose columns
            bad.value += 1
            continue
        if len(df) and list(df.columns) != ["cell", "who", "i"]:
            bad.value += 1


def test_two_concurrent_writers_lose_no_row(tmp_path):
    ctx = mp.get_context("fork")
    stop, bad = ctx.Event(), ctx.Value("i", 0)
    reader = ctx.Process(target=_reader, args=(tmp_path, stop, bad))
    writers = [ctx.Process(target=_writer, args=(tmp_path, w, 40)) for w in ("p", "q")]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    stop.set()
    reader.join(30)
    df = read_table(tmp_path)
    assert len(df) == 80 and df["cell"].is_unique
    assert sorted(df[df.who == "p"]["i"]) == list(range(40))
    assert bad.value == 0
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
