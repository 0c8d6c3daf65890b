"""The query path: fusion, late interaction, reranking, highlights, the answerable verdict
and packing evidence for a prompt. Asks storage for candidates; never writes."""
