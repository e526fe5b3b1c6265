"""The packaged conformance suite: ``pytest --pyargs conformance.suite``."""
