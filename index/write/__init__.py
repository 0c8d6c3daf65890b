"""The write pipeline: prepare, embed and commit documents in batches."""
