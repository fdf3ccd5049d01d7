"""tnlbot: a chat bot that guides local governments through the Territoire Numérique Libre questionnaire."""
__version__ = "0.1.0"
