from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "reviewsite.products"
    label = "products"
    verbose_name = "Products"
