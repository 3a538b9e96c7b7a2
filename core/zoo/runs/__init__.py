"""Runs you can keep. ``rundir.RunDir`` owns a run folder and says its status; behind it, one job
a module: where a run is made and its files are read (``directory``), its history (``metrics``),
its provenance (``provenance``), its lock (``lock``), checkpoints that survive a kill
(``checkpoints``) and whether a saved state fits the live objects (``fitting``). Then a trained
run as Python objects (``run``, ``trained``), pictures read for a model (``images``), weights
cards (``weights``), sweeps, export and pictures of runs and data (``pictures``)."""
