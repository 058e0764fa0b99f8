"""``python -m zoo.colourise``: a photo from disk made grey and coloured n times by a trained run;
colour transfer from a reference photo with a cINN; one clear error for what cannot work. (Its
``main`` is called in this process, as ``python -m`` would; the runs come from ``train.py``.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from zoo.colourise import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_colourise(*overrides: str, capsys) -> Result:
    code = main(list(overrides))
    out, err = capsys.readouterr()
    return Result(code, out, err)


def only_run(workdir: Path, model: str) -> Path:
    [run] = (workdir / "runs" / f"{model}-colour").iterdir()
    return run


def photo(path: Path, size: tuple[int, int], mode: str = "L") -> Path:
    """A grey (or colour) photo larger than the model and not square: resized and centre-cropped."""
    image = Image.new(mode, size, 40 if mode == "L" else (40, 40, 40))
    image.paste(200 if mode == "L" else (200, 30, 30), (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    image.save(path)
    return path


def test_a_grey_photo_is_coloured_n_times_and_a_reference_transfers_its_colours(colourisers, tmp_path, capsys):
    workdir, _ = colourisers
    run = only_run(workdir, "cinn")
    grey = photo(tmp_path / "old.png", (90, 60))
    reference = photo(tmp_path / "red.png", (40, 40), mode="RGB")
    result = run_colourise(
        f"run={run}",
        f"image={grey}",
        "n=3",
        f"reference={reference}",
        f"out={tmp_path / 'out'}",
        "scale=2",
        capsys=capsys,
    )
    assert result.returncode == 0, result.stderr
    colourised, transfer = tmp_path / "out" / "old_colourised.png", tmp_path / "out" / "old_from_red.png"
    assert f"colourised: {colourised}" in result.stdout and f"transfer: {transfer}" in result.stdout
    # 16 x 16 images at scale 2 with 2-pixel gaps: grey + 3 colourings; grey + reference + transfer
    assert Image.open(colourised).size == (2 + 4 * (32 + 2), 36)
    assert Image.open(transfer).size == (2 + 3 * (32 + 2), 36)


def test_the_regression_colours_but_refuses_colour_transfer(colourisers, tmp_path, capsys):
    workdir, _ = colourisers
    run = only_run(workdir, "colour_regression")
    grey = photo(tmp_path / "old.png", (30, 30))
    ok = run_colourise(f"run={run}", f"image={grey}", f"out={tmp_path / 'out'}", capsys=capsys)
    assert ok.returncode == 0, ok.stderr
    refused = run_colourise(f"run={run}", f"image={grey}", f"reference={grey}", f"out={tmp_path / 'o2'}", capsys=capsys)
    assert refused.returncode == 2 and "colour transfer needs a model that encodes colour" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_bad_input_gets_one_message(colourisers, tmp_path, capsys):
    workdir, _ = colourisers
    run = only_run(workdir, "cinn")
    missing = run_colourise(f"run={run}", f"image={tmp_path / 'nope.png'}", capsys=capsys)
    assert missing.returncode == 2 and "is neither a test index nor an image file" in missing.stderr
    unknown = run_colourise(f"run={run}", "image=0", "colours=3", capsys=capsys)
    assert unknown.returncode == 2 and "the options are" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr
