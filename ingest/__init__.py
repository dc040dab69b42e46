"""Ingest: discover articles in feeds, sitemaps and listings, fetch them politely, publish `news.raw`."""
