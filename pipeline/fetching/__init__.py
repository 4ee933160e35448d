"""Fetching: HTTP with its guards, robots.txt, feeds, listing and article pages, WordPress, replay."""
