"""Results of many runs set against the paper's: `python -m vsg.results LOGDIR... --out DIR`.

`scores` reads curves (our run directories or the paper's score files) and scores them at a
frame budget; `stats` computes aggregates with stratified-bootstrap confidence intervals
(rliable); `tables` and `figures` write the Markdown/CSV tables and the PNG figures.
Importing this package is cheap: rliable and matplotlib load only where they are used.
"""
