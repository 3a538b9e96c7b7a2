"""Datasets: zoo's verified download cache (``cache``) and downloads into it (``download``). A
plugin that brings data returns a ``zoo.Splits`` and uses:

    from zoo.data.cache import dataset_dir    # $ZOO_HOME/datasets/NAME
    from zoo.data.download import fetch       # a verified, cached download
"""
