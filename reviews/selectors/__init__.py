"""Reads: the queries behind each page and API list, by feature, each with a fixed number of SQL
statements however many rows, samples or responses.

- `datasets`: the overview, a dataset's queries and subsets (the one subset rule), the query page
- `search`: the filters shared by the search page and the API's query list
- `runs`: a run's queries and pending batches, a batch's engine inputs, run pages, the report's inputs
- `queues`: queue overviews, the item under review, progress, agreement between reviewers
- `annotations`, `uploads`, `releases`, `accounts`, `activity`: the API lists, tokens and the home page's feed
- `decisions`: samples held for adjudication; `rounds`: the rounds pages; `exports`: the rows a release reads
- `metarm`, `reports`: the meta RM's training data and checkpoints; run reports and comparisons
"""
