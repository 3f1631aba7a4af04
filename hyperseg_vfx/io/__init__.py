"""Image input and output: plates in, mattes out (OpenImageIO based)."""
