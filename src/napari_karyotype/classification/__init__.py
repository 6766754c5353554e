"""Classification: each label's canvas, the CNN model with its side-car, the cell's size scale."""
