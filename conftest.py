"""Root conftest: only what the project's own tests need (the plugin loads via pytest11)."""

pytest_plugins = ["pytester"]
