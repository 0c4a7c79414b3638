"""Getting data in: `readers` (streaming JSON Lines and JSON arrays with line numbers) and `formats`
(the record formats, normalised to `QueryItem`s) are pure Python with no Django import, shared by the
importer command and the upload task; `copy_writer` stores validated rows through the database.
"""
