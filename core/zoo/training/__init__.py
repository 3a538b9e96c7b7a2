"""Training: the run owner (``trainer``: prepare, the epochs, finish), the loop over batches
(``loop``), the device and precision (``device``), random streams (``randomness``), several
processes (``distributed``), what a run prints (``progress``), and evaluating a trained run
(``evaluation``). Importing a module here imports torch."""
