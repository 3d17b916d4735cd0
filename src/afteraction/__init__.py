"""afteraction: post-incident review for security teams, mapped to MITRE ATT&CK."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("afteraction")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
