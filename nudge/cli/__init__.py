"""The `nudge` command's package: process entry points start here."""

import os

# Before numpy is first imported: OpenBLAS's one spinning thread per core slowed the
# embedder 3x while llama.cpp decoded on the same cores (ADR 0026). An operator's own
# setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
