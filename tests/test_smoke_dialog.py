def test_first_message_greets_and_asks_the_first_question(alice):
    reply = alice.say("bonjour")
    assert "Bonjour" in reply
    assert reply.ref == "nom_collectivite"
    assert len(reply.messages) == 2
