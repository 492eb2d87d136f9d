// bench placeholder
