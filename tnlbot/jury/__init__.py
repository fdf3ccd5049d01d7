"""The jury: frozen submissions, exports in open formats, jury chat commands, personal data."""
