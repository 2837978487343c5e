"""Training: the :class:`Trainer` loop (book §4.5), its history, learning-rate schedules,
augmentation and checkpoints."""
