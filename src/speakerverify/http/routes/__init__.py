"""HTTP routes: parse, call one use-case function, shape the response."""
