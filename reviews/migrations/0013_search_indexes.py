"""Full-text search indexes (PostgreSQL only): the user's query, the responses, and each judgment's
principles with its critique, as `reviews.selectors.search` matches them (the same expressions Django
writes for SearchVector(..., config="english"), so the planner uses them). SQLite searches without
them (a plain substring match)."""

from django.db import migrations

INDEXES = {
    "query_prompt_search": ("reviews_query", "COALESCE(prompt, '')"),
    "response_text_search": ("reviews_response", "COALESCE(text, '')"),
    "sample_reasoning_search": ("reviews_sample", "COALESCE(principles, '') || ' ' || COALESCE(critique, '')"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, text) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (to_tsvector('english'::regconfig, {text}))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("reviews", "0012_query_content_hash_index")]

    operations = [migrations.RunPython(create, drop)]
