"""Data quality: rules for the live screen, the set-up signal test and the finished session, and their wording."""
