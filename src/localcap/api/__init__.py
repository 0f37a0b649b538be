"""The HTTP layer: parse a request, authenticate, dispatch on content/action, format errors."""
