"""Registry lookups: patterns, did-you-mean, descriptions, options and collisions."""

from __future__ import annotations

import pytest

import zoo
from zoo.plugins.registry import Entry, Registry


def factory(num_classes: int = 10, width: int = 8):
    """A tiny model.

    More text that is not part of the description.
    """
    from torch import nn

    return nn.Linear(width, num_classes)


def make(*pairs):
    registry = Registry("model")
    for name, plugin in pairs:
        registry.add(Entry("model", name, factory, "A tiny model.", plugin))
    return registry


def test_names_are_sorted_and_filtered_by_pattern():
    registry = make(("resnet", "a"), ("cnn", "a"), ("sequential_cnn", "b"))
    assert registry.names() == ["cnn", "resnet", "sequential_cnn"]
    assert registry.names("*cnn*") == ["cnn", "sequential_cnn"]
    assert registry.names("b:*") == ["sequential_cnn"]


def test_unknown_name_suggests_close_matches():
    registry = make(("cnn", "a"), ("logistic", "a"))
    with pytest.raises(zoo.UnknownNameError) as info:
        registry.get("cnnn")
    assert isinstance(info.value, LookupError) and isinstance(info.value, zoo.ZooError)
    assert str(info.value) == (
        "unknown model 'cnnn' — did you mean 'cnn'? (zoo list models shows all 2)"
    )


def test_a_collision_is_never_won_silently():
    registry = make(("logistic", "logistic"), ("logistic", "acme"), ("cnn", "cnn"))
    with pytest.raises(zoo.AmbiguousNameError, match="acme:logistic, logistic:logistic"):
        registry.get("logistic")
    assert registry.get("acme:logistic").plugin == "acme"
    assert registry.get("cnn:cnn").name == "cnn"
    assert registry.names() == ["cnn", "acme:logistic", "logistic:logistic"]


def test_create_passes_only_the_context_a_factory_names():
    entry = make(("tiny", "a")).get("tiny")
    built = entry.create(context={"num_classes": 3, "input_shape": (1, 2, 2)})
    assert (built.out_features, built.in_features) == (3, 8)
    assert entry.create(width=2, context={"num_classes": 3}).in_features == 2
    assert entry.options() == {"num_classes": 10, "width": 8}


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("returned", "kind", "expected"),
    [
        ("a string", "model", "returned str, not an nn.Module"),
        (None, "model", "returned NoneType, not an nn.Module"),
        ([], "dataset", "returned list, not a zoo.Splits"),
        ({}, "optimizer", "returned dict, not a torch.optim.Optimizer"),
    ],
)
def test_a_factory_that_returns_the_wrong_thing_is_named(returned, kind, expected):
    entry = Entry(kind, "bad", lambda: returned, "Bad.", "acme", "zoo-acme")
    with pytest.raises(zoo.PluginError, match=rf"{kind} 'bad' of plugin 'acme' \(zoo-acme\) "):
        entry.create()
    with pytest.raises(zoo.PluginError, match=expected):
        entry.create()


@pytest.mark.hostile
def test_a_factory_that_exits_is_an_error_not_an_exit():
    def leaves():
        raise SystemExit(0)

    with pytest.raises(zoo.PluginError, match="model 'bye' of plugin 'acme' tried to exit"):
        Entry("model", "bye", leaves, "Bye.", "acme").create()


def test_an_option_the_factory_does_not_take_is_a_config_error():
    entry = make(("tiny", "a")).get("tiny")
    with pytest.raises(
        zoo.ConfigError,
        match=r"model 'tiny' has no option 'depth' — did you mean 'width'\? \(it takes: "
        r"num_classes, width\)",
    ):
        entry.create(depth=3)


def test_description_defaults_to_the_docstrings_first_line():
    from zoo.plugins.registry import describe

    assert describe(factory, {}) == "A tiny model."
    assert describe(factory, {"description": "Given."}) == "Given."
    assert describe(lambda: None, {}) == ""
