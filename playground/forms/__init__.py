"""Forms that validate what the views receive."""
