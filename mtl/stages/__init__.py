"""The model stages behind `mtl evaluate`, `mtl gate` and `mtl promote`, a module each: each reads what the stage
before it wrote, calls the pure modules (evaluation, gate, registry) and writes JSON and Markdown beside them.
The candidate is <run>/<model>; the production model is whatever the registry's production alias points at.
Nothing is imported here, so a stage loads only its own module (dvc.yaml lists exactly that code)."""
