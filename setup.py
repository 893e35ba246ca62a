"""The packages are found, not listed: a built-in plugin is one folder under
plugins/ (with its entry-point line in pyproject.toml). The repository keeps
the user's layout (plugins/, boards/); installed, they become the packages
hermitcore_plugins and hermitcore_boards (pyproject.toml's package-dir)."""

from setuptools import find_packages, setup


def under(folder: str, package: str) -> list[str]:
    return [package] + [f"{package}.{p}" for p in find_packages(folder)]


setup(packages=find_packages(include=["hermitcore", "hermitcore.*"]) + under("plugins", "hermitcore_plugins")
      + under("boards", "hermitcore_boards"))
