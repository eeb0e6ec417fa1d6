"""The merchant portal: documents served on a merchant, its signatures and statements."""
