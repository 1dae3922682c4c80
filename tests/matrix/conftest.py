from tests.matrix.harness import world  # noqa: F401  (the matrix world fixture)
