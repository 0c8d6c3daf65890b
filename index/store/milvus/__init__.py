"""The Milvus store: the same nouns as the local store, kept in Milvus collections."""
