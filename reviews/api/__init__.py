"""The REST API (Django REST framework): token or session auth, role permissions, cursor pagination."""
