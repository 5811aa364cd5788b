"""Who is calling: API keys, their roles and project grants, and the command line that manages them."""
