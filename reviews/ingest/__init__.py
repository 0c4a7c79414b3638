"""Reading preference files: streaming JSON/JSONL with line numbers, and the record formats.

Pure Python (no Django import) so the importer command and the upload API share one code path.
"""
