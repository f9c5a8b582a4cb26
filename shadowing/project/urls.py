from reviewsite.web.urls import pages, tools

from . import views

urlpatterns = [*pages(views), *tools]  # every page reads through the overlay
