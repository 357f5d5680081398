"""A read-only model investigation over the catalog's own tools, with checked citations."""
