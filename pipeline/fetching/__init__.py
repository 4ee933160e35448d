"""Fetching: HTTP with its guards, robots.txt, feed and page parsing, WordPress, offline replay."""
