"""Searches over a run's settings on Optuna: a study whose trials are zoo run directories
(``space`` reads the distributions written on the command line, ``study`` runs the trials)."""
