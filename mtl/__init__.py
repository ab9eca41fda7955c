"""mtl: multi-task NLP training pipeline."""
