this is not valid and must be skipped
