"""Built-in agents and the protocol every agent implements."""
