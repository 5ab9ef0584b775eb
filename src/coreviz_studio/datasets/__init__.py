"""Collections ("datasets" on the wire): the top-level containers of an organization."""
