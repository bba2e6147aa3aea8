"""The evaluation scenarios by theme; ``scenario_specs.specs`` puts them in file order."""
