"""Transform: consume `news.raw`, extract and normalize clean articles, publish `news.articles`."""
