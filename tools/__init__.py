"""Tools of the repository itself (not shipped): the import contracts of our own."""
