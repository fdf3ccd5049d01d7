"""Stored JSON keeps one shape and reads back exactly, whichever encoder wrote it."""
import json

from tnlbot.store.jsontext import dumps, loads


def test_the_text_is_compact_sorted_and_keeps_accents_as_they_are():
    value = {"b": ["Mairie d'Île-de-France", 3], "a": True, "c": None}
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert loads(dumps(value)) == value


def test_integers_beyond_64_bits_come_back_as_integers():
    big = 123_456_789_012_345_678_901_234_567_890
    value = {"effectif": big, "liste": ["x", {"n": -big}]}
    back = loads(dumps(value))
    assert back == value and type(back["effectif"]) is int and type(back["liste"][1]["n"]) is int


def test_what_orjson_refuses_goes_through_json():
    assert loads(dumps({1: "clé numérique"})) == {"1": "clé numérique"}
    assert dumps("\ud800") == json.dumps("\ud800", ensure_ascii=False)
    assert loads("[1.5, NaN]")[0] == 1.5
