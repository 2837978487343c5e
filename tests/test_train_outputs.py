"""`layerwise train` writes over only what layerwise wrote (issue 29, defect 4).

`--save`, `--history` and `--plot` replace an existing file only when it is one layerwise
wrote as the same kind (a model over a model, a history over a history, a plot over a
plot); anything else, and any symbolic link, is a usage error before training starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _datasets_server import go_offline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerwise.cli import main
from layerwise.cli.commands.common import written_by_layerwise

TRAIN = ["train", "--data", "mnist-sample", "--epochs", "1", "--quiet", "--threads", "1"]


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_offline(tmp_path, monkeypatch)


def refused(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """Run train; it must stop with exit 2 before training, and one error line: returned."""
    assert main(TRAIN + args) == 2
    out, err = capsys.readouterr()
    assert "epoch" not in out
    assert err.startswith("layerwise: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(("flag", "name"), [("--save", "thesis.txt"), ("--save", "m.safetensors"),
                                            ("--history", "notes.csv"), ("--history", "data.json"),
                                            ("--plot", "photo.png")])
def test_an_existing_file_layerwise_did_not_write_is_never_replaced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, name: str) -> None:
    target = tmp_path / name
    target.write_bytes(b"\x89PNG\r\n\x1a\n my thesis" if name.endswith(".png") else b"my thesis, chapter 1\n")
    before = target.read_bytes()
    err = refused(capsys, [flag, str(target)])
    assert f"{flag} {target} exists and is not a layerwise" in err
    assert target.read_bytes() == before


def test_a_history_with_another_header_or_shape_is_not_a_history(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "h.csv"
    csv.write_text("epoch,train_loss\n1,0.5\n")  # a prefix of the header is not the header
    assert "not a layerwise training history" in refused(capsys, ["--history", str(csv)])
    js = tmp_path / "h.json"
    js.write_text('[{"epoch": 1, "loss": 0.5}]')
    assert "not a layerwise training history" in refused(capsys, ["--history", str(js)])


def test_a_second_run_writes_over_the_model_history_and_plot_of_the_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    for suffix in (".csv", ".json"):
        outputs = ["--save", str(tmp_path / "m.safetensors"), "--history", str(tmp_path / f"h{suffix}"),
                   "--plot", str(tmp_path / "p.png")]
        for seed in ("1", "2"):
            assert main([*TRAIN, "--seed", seed, *outputs]) == 0, capsys.readouterr().err
        for kind, name in (("model", "m.safetensors"), ("history", f"h{suffix}"), ("plot", "p.png")):
            assert written_by_layerwise(tmp_path / name, kind)


@pytest.mark.parametrize("flag", ["--save", "--history", "--plot", "--checkpoint"])
def test_a_symbolic_link_as_an_output_is_refused_and_its_target_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str) -> None:
    suffix = {"--history": ".json", "--plot": ".png"}.get(flag, ".safetensors")
    other = tmp_path / "elsewhere.txt"
    other.write_text("precious\n")
    link = tmp_path / f"out{suffix}"
    link.symlink_to(other)
    err = refused(capsys, [flag, str(link)])
    assert f"{flag} {link} is a symbolic link (to {other})" in err
    assert link.is_symlink() and other.read_text() == "precious\n"
    dangling = tmp_path / f"dangling{suffix}"
    dangling.symlink_to(tmp_path / "nowhere" / "x")
    assert f"{flag} {dangling} is a symbolic link" in refused(capsys, [flag, str(dangling)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), kind=st.sampled_from(["model", "history", "plot"]),
       suffix=st.sampled_from([".csv", ".json", ".png", ".safetensors", ""]))
def test_arbitrary_bytes_are_never_taken_for_a_layerwise_file(
        tmp_path: Path, data: bytes, kind: str, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    assert written_by_layerwise(path, kind) is False


def test_a_model_header_without_layerwise_metadata_is_not_a_model(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(path), metadata={"format": "pt"})
    assert not written_by_layerwise(path, "model")
    assert not written_by_layerwise(tmp_path / "missing", "model")
