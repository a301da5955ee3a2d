"""AWS wire formats: service models, errors, ids, patch operations, ARNs. camelCase lives here."""
