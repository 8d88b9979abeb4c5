"""SentimentService: scores comment text (label, score in [-1, 1], confidence)."""
