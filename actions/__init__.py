"""Needlewise's custom actions (rasa-sdk) and the pure modules they stand on."""
