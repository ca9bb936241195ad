"""The model zoo: weights files, the table of named codecs and enhancers, loading by name and hash."""
