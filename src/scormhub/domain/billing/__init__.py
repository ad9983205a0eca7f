"""Plans and usage billing: which plan a workspace is on (from HighLevel, or the operator's settings), and
the per-registration charges beyond a live plan's free allowance."""
