"""Where the index lives: the ``Storage`` protocol, the local store and Milvus, and
the write lock and copying between stores that both use."""
