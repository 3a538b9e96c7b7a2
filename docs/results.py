"""Write docs/results.md, the results table of every shipped weights entry, from their cards.

    python docs/results.py          # after plugins/ship_weights.py changed a card

tests/test_results.py fails when docs/results.md is not what this writes.
"""

from __future__ import annotations

from pathlib import Path

import zoo

PAGE = Path(__file__).with_name("results.md")
INTRO = """\
# Results

Every weights entry the installed plugins register, from its card: the test split's accuracy and
loss as `zoo eval NAME --split test` measures them (the loss is the plain negative
log-likelihood of the true class, whatever loss the model trained with), the model's parameters
and the FLOPs of one forward pass of one image (`torch.utils.flop_counter`; a
multiply-accumulate is 2), the wall time of the run's epochs and the hardware it ran on. Each
row's last column retrains it with the card's recipe and compares the numbers with the card's,
epoch by epoch (`zoo reproduce`; give it `--set dataset.path=...` when the data is in a folder
of yours).

This page is written by `python docs/results.py` (`zoo list weights --format markdown` prints
the same table); a test fails when it is out of date. A `-` is a number the card does not record:
the tutorial's models were trained before cards recorded the training time and hardware.

Which number is which: `test acc` is always the published weights' own, one run at one seed.
`over seeds` is, where a card carries the same configuration trained at several seeds (`zoo
new-plugin NAME --from-run DIR` of a folder of its seeds' runs, such as a `zoo tune --seeds 3`
trial), the test accuracy's mean ± standard deviation in points (n seeds); `1 seed` says the
card's numbers are one run's, and nothing is known of its spread.

"""


def page() -> str:
    """The page as it should be, from the installed plugins' cards."""
    rows = zoo.results(sort="dataset")
    return INTRO + zoo.format_results(rows, "markdown", commands=True) + "\n"


if __name__ == "__main__":
    PAGE.write_text(page(), encoding="utf-8")
    print(f"wrote {PAGE}")
