"""Helpers shared by the test modules; test modules import from here, never from each other or a conftest."""

import pytest

# The shared checks assert on behalf of the tests that call them: let pytest rewrite them for readable failures.
pytest.register_assert_rewrite("tests.support.sources")
