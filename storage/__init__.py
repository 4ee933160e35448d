"""All database work, one module per kind of row; imports nothing of newstrack but models/."""
