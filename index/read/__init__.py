"""Reading: a source becomes Documents, and a Document its passages (clean, split into
sentences, chunk). Knows nothing of models, storage or search."""
