"""Training and case-wise evaluation of the classifier."""
