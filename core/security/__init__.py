"""Patient data protected at rest: authenticated encryption of session files, keys, accounts."""
