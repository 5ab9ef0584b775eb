"""Tags: {label: [values]} groups on media, and their per-collection aggregation."""
