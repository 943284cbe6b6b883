"""Training recipes: data splits, loaders, validation and ``fit`` calls for each tracker family."""
