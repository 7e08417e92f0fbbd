"""Reliability: bad or tricky input, each case with the outcome it must have (issue #19)."""
