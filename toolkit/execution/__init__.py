"""Execution: running jobs over record corpora, here or on Ray, shard by shard, resumably."""
