"""Commands that read finished runs: compare, report, sweep."""
