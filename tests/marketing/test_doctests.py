"""The Examples sections of the docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["crmine.marketing._effects", "crmine.marketing._budget",
           "crmine.marketing._attribution", "crmine.response._model",
           "crmine.response._uplift", "crmine.response._evaluate"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
