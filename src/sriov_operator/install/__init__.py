"""The install manifests (kustomize base and overlay, Helm chart) generated from one source.

``objects.py`` describes every object once, reading its parameters through a
``Values`` (``values.py``): the kustomize base is that description with the
default values filled in, the Helm chart's templates are the same description
with Go-template expressions in their place (``helm.py``). ``files.py`` lists
every generated file; ``sriov-operator manifests --output-dir deploy`` writes them
and a unit test fails when a committed file differs.
"""
