"""Text data for sentence-embedding models: an English sentence set with graded pairs, and the
accuracy measures of a quantized embedding model against its fp32 original."""
