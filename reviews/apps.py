from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "GRM reviews"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from reviews.models import Annotation
        from reviews.signals import annotation_deleted

        post_delete.connect(annotation_deleted, sender=Annotation, dispatch_uid="reviews.annotation_deleted")
