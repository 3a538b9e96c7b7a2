"""Runs you can keep: the run directory and its files (``directory``), checkpoints that survive a
kill (``checkpoints``), a trained run as Python objects, its model and its predictions
(``trained``, ``run``), and pictures of runs and data (``pictures``)."""
