"""Full-text search on stored text vectors (PostgreSQL only): each searched text's tsvector kept in a
generated column with its GIN index, instead of an index on the expression (migration 0013).

With the expression index, a word found in most rows made PostgreSQL compute to_tsvector for every row
at query time (a search for a word in all 105,000 items of a dataset took 22 s); reading a stored vector
costs next to nothing, and the column is written by PostgreSQL itself on every insert and update (COPY
included), so no code writes it. The models do not declare these columns: `reviews.selectors.search`
reads them by name (`StoredVector`). SQLite has none and searches by substring."""

from django.db import migrations

# table: (column, text it is made of, the expression index of 0013 it replaces)
VECTORS = {
    "reviews_query": ("prompt_search", "COALESCE(prompt, '')", "query_prompt_search"),
    "reviews_response": ("text_search", "COALESCE(text, '')", "response_text_search"),
    "reviews_sample": (
        "reasoning_search",
        "COALESCE(principles, '') || ' ' || COALESCE(critique, '')",
        "sample_reasoning_search",
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (column, text, old_index) in VECTORS.items():
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('english'::regconfig, {text})) STORED"
        )
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {table} USING gin ({column})")
        schema_editor.execute(f"DROP INDEX IF EXISTS {old_index}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (column, text, old_index) in VECTORS.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {old_index} ON {table} USING gin (to_tsvector('english'::regconfig, {text}))"
        )
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")


class Migration(migrations.Migration):
    dependencies = [("reviews", "0021_run_events")]

    operations = [migrations.RunPython(create, drop)]
