"""Search: index `news.articles` into Elasticsearch and serve search over it."""
