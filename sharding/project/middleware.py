"""A write refused because its logical shard is moving answers 503, on any page.

``rebalance`` freezes a logical shard while it copies it (project/fence.py):
a form, the admin's change or delete view, a product deletion that takes its
reviews along. Each is refused and rolled back; the person is told to try
again in a moment, with Retry-After, rather than shown a server error.
"""

from django.db import DatabaseError
from django.template.response import TemplateResponse

from . import fence


class ShardMovingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DatabaseError) and fence.moving(exception):
            response = TemplateResponse(request, "sharding/moving.html", status=503)
            response["Retry-After"] = "2"
            return response.render()
        return None
