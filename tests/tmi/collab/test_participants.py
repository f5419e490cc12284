"""People in a session (collab/participants.py): TMI's user objects of either generation as Persons."""

from __future__ import annotations

from portal.tmi.collab.participants import person_from_user

ADA_18 = {"principal_type": "user", "provider": "tmi", "provider_id": "ada", "display_name": "Ada", "email": "a@x.test"}


def test_either_generations_user_becomes_a_person_with_the_object_to_send_back():
    ada = person_from_user(dict(ADA_18))
    assert (ada.id, ada.name, ada.email, ada.can_edit) == ("ada", "Ada", "a@x.test", None)
    assert ada.tmi == ADA_18  # exactly as TMI sent it (1.8 compares it with the real values)
    old = person_from_user({"user_id": "bob", "name": "Bob", "email": "b@x.test"})
    assert (old.id, old.name, old.email) == ("bob", "Bob", "b@x.test")
    assert old.tmi == {"principal_type": "user", "provider_id": "bob", "display_name": "Bob", "email": "b@x.test"}
    assert person_from_user(None) is None and person_from_user({"provider_id": "", "email": ""}) is None
    assert person_from_user({"email": "c@x.test"}).id == "c@x.test"


def test_the_same_fields_give_the_same_person_and_other_fields_another():
    """Each session in a room parses everyone's user object from every participant list."""
    assert person_from_user(dict(ADA_18)) is person_from_user(dict(ADA_18))
    renamed = person_from_user({**ADA_18, "display_name": "Ada L."})
    assert renamed.name == "Ada L." and renamed is not person_from_user(dict(ADA_18))


def test_a_user_with_fields_that_cannot_be_kept_is_still_a_person():
    odd = person_from_user({**ADA_18, "groups": ["a", "b"], "extra": {"nested": True}})
    assert odd.id == "ada" and odd.tmi["groups"] == ["a", "b"]
    assert person_from_user({**ADA_18, "groups": ["a", "b"]}) is not person_from_user({**ADA_18, "groups": ["a", "b"]})


def test_only_small_user_objects_are_kept():
    """A TMI server (each organisation's is trusted only for itself) must not fill the portal's memory with
    thousands of huge user objects kept for everyone."""
    huge = {**ADA_18, "display_name": "A" * 100_000}
    assert person_from_user(huge).name == huge["display_name"]
    assert person_from_user(dict(huge)) is not person_from_user(dict(huge))
    many_fields = {**ADA_18, **{f"extra_{n}": "x" for n in range(20)}}
    assert person_from_user(dict(many_fields)) is not person_from_user(dict(many_fields))
