"""Hidden-test helpers: compare a student's function with the reference and name the mistake in words.

One module per exercise. These modules are copied into the otter autograder zip, so they
import only `torch`, `optimlab` and each other.
"""
