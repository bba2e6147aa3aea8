"""Importing this module would leave a mark; the registry must never import it."""

from pathlib import Path

MARK = Path(__file__).with_name("IMPORTED")
MARK.write_text("imported", encoding="utf-8")


class Agent:
    def compute(self, inp: object) -> None:
        return None
