// Placeholder: tests to be written.
