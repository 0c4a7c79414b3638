"""Domain errors become API answers in one place: the status per error class, the field when named."""

import pytest
from rest_framework.exceptions import NotFound

from reviews.api.errors import handle
from reviews.errors import AnnotationInvalid, Conflict, QueueInvalid, RunInvalid, UploadRefused, UploadTooLarge


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (RunInvalid("no queries in demo match the run"), 400, {"detail": "no queries in demo match the run"}),
        (RunInvalid("k must be from 1 to 64, got 0", field="k"), 400, {"k": ["k must be from 1 to 64, got 0"]}),
        (AnnotationInvalid("decision", "must be accept or reject"), 400, {"decision": ["must be accept or reject"]}),
        (QueueInvalid("no items match these filters"), 400, {"detail": "no items match these filters"}),
        (UploadRefused("the body is empty"), 400, {"detail": "the body is empty"}),
        (UploadTooLarge("over the cap"), 413, {"detail": "over the cap"}),
        (Conflict("run 3 had already ended"), 409, {"detail": "run 3 had already ended"}),
    ],
)
def test_each_domain_error_has_its_status_and_names_its_field(error, status, body):
    response = handle(error, {})
    assert response is not None
    assert (response.status_code, response.data) == (status, body)


def test_other_exceptions_keep_drf_handling():
    response = handle(NotFound("no upload 9"), {})
    assert response is not None
    assert response.status_code == 404
    assert handle(ValueError("a bug"), {}) is None  # left to Django: a 500 that the tests would catch
