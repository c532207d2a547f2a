import os

# The second stage's numpy runs single-threaded in the tests (two shared cores; small matrices).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
