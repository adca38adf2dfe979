"""Text handling below segmentation: protected spans, markup."""
