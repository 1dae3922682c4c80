from tests.matrix.harness import world  # noqa: F401  (the permission-matrix world fixture)
