"""The speed machinery, kept apart from the math.

Nothing here changes a number the model computes; it changes how fast the same numbers come.

- ``openblas``: asks OpenBLAS to let its idle threads sleep soon after a matrix product, so
  that the optimizer's own threads find the second core free. It imports no numpy: it has to
  run before numpy loads OpenBLAS.
- ``threads``: runs an elementwise update on both cores, each on its own piece of a long
  vector (the optimizer's step, and the likelihood in long evaluations).
- ``flat``: every parameter of a model in one flat buffer, each named array a view into it,
  so that the optimizer updates one long vector.
"""
