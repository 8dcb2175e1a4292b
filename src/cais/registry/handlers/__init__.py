"""HTTP handlers of the distribution API: parse the request, call the Registry, respond."""
