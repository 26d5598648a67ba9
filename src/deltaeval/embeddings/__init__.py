"""Representation compatibility: can new queries search a gallery embedded by the old model?

``deltaeval.embeddings.api.compare_embeddings`` is the entry point; the maths lives in
``deltaeval.analysis.representation``, the models in ``models``, the tasks in ``retrieval``.
"""
