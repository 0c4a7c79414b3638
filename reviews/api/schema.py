"""OpenAPI post-processing: document the error responses that DRF gives for every operation.

drf-spectacular documents only the success responses a view declares; the 400/401/403/404 that DRF's
validation, authentication, permissions and lookups return are added here, once for every operation.
"""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": "Each invalid field (or `detail`) with its messages: a list of strings, or nested per item.",
    "additionalProperties": {},
}


def error_response(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A POSTPROCESSING_HOOKS entry: a response a view documents itself is kept as it is."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationError", VALIDATION_ERROR)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            errors = {}
            if "requestBody" in operation or any(parameter["in"] == "query" for parameter in parameters):
                errors["400"] = error_response("ValidationError", "Invalid parameters or body.")
            if {} not in operation.get("security", [{}]):  # no anonymous access
                errors["401"] = error_response("Error", "No credentials, or an invalid or revoked token.")
                errors["403"] = error_response("Error", "The user lacks the role this needs.")
            # Path lookups, and an invalid `cursor` (DRF's CursorPagination answers it with a 404).
            if any(parameter["in"] == "path" or parameter["name"] == "cursor" for parameter in parameters):
                errors["404"] = error_response("Error", "No such object, or an invalid cursor.")
            for status, response in errors.items():
                responses.setdefault(status, response)
    return result
