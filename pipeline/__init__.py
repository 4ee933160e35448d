"""newstrack: fetch critical-mineral trade-policy news, extract policy events, store them."""

__version__ = "0.1.0"
