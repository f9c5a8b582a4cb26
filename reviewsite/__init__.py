"""The product-review site that the four pattern projects share.

Models, views, templates, the database activity panel and demo data live here
once; each pattern project (functional/, replication/, sharding/, shadowing/)
adds only its router and what its pattern needs.
"""
