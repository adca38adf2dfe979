"""The toolkit's version, in a module of its own: manifests, the server and the packaging read it
without importing the package root (pyproject.toml: [tool.setuptools.dynamic])."""

__version__ = "0.1.0"
