"""The data plane: one Invocation per request, run through a fixed list of steps."""
