"""Flask CLI commands (SPEC §8), registered as a blueprint's commands on the app itself."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cli", __name__, cli_group=None)
