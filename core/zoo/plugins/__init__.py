"""Plugins: the hook specs' implementations found through the ``zoo`` entry points, loaded by
pluggy (``manager``), and the registries they fill (``registry``): names -> factories, with the
options each factory takes (``options``). Also zoo's own plugins (``builtin``), models written in
zoo.yaml (``declarative``) and which plugins to load (``settings``)."""
