"""The forms of fulfillment's pages and of its panel on the request detail page (fulfillment/panels/). They check
what a person can fix at the edge; the services check the rules again and never import a form."""
