"""Views: validate with a form, call one service or selector, render."""
