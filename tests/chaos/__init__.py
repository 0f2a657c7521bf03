"""The fault suite: the real service under a scripted population with LINE, Graph and workers failing."""
