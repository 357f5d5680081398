"""Fix proposals: a sandboxed model session in a throw-away checkout, then a reviewed PR."""
