"""The ``cais`` command line: thin, one module per noun, heavy imports deferred."""
