#!/usr/bin/env python3
"""Cuts the small FigStep slices bundled in data/datasets/ from the SARSteer text prompts.

Deterministic: for each split, the first two positions (in file order) of each of the seven
scenarios. The harmful and benign files are paired by position, so the same positions are taken
from both and the pairing survives. Lines are copied byte for byte.

    python3 scripts/make_dataset_slices.py [--shared ../shared] [--out data/datasets]
"""
import argparse
import json
import pathlib
import sys

PER_SCENARIO = 2


def read_lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def pick_positions(harmful, benign, name):
    if len(harmful) != len(benign):
        sys.exit(f"{name}: harmful has {len(harmful)} lines, benign {len(benign)}")
    taken = {}
    positions = []
    for i, (h, b) in enumerate(zip(harmful, benign)):
        h_row, b_row = json.loads(h), json.loads(b)
        if h_row["scenario"] != b_row["scenario"] or h_row["audio_file"] != b_row["audio_file"]:
            sys.exit(f"{name}: line {i + 1} is not paired ({h_row['id']} / {b_row['id']})")
        scenario = h_row["scenario"]
        if taken.get(scenario, 0) < PER_SCENARIO:
            taken[scenario] = taken.get(scenario, 0) + 1
            positions.append(i)
    short = [s for s, n in taken.items() if n < PER_SCENARIO]
    if short:
        sys.exit(f"{name}: too few items for {short}")
    return positions


def main():
    repo = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=pathlib.Path, default=repo.parent / "shared")
    parser.add_argument("--out", type=pathlib.Path, default=repo / "data" / "datasets")
    args = parser.parse_args()
    src = args.shared / "datasets"
    args.out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        harmful = read_lines(src / f"figstep_harmful_{split}.jsonl")
        benign = read_lines(src / f"figstep_benign_{split}.jsonl")
        positions = pick_positions(harmful, benign, split)
        for label, lines in (("harmful", harmful), ("benign", benign)):
            out = args.out / f"figstep_{label}_{split}_mini.jsonl"
            out.write_text("".join(lines[i] + "\n" for i in positions), encoding="utf-8")
            print(f"{out}: {len(positions)} items (positions {[i + 1 for i in positions]})")


if __name__ == "__main__":
    main()
